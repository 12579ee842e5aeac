"""StudioScene: USD -> pyrender conversion, and incremental sync driven by USD's notices."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pxr import Gf, Sdf, Usd, UsdGeom, UsdLux, UsdShade, UsdSkel

from twinstudio.render.baseline import render_baseline
from twinstudio.render.scene import StudioScene

STAGES = Path(__file__).resolve().parents[2] / "stages"
W, H = 320, 180
HERO = "/Studio/Cameras/Hero"
TWIN = "/Studio/Twin"
KEY = "/Studio/Lights/Key"


def _skinned_meshes() -> set[str]:
    """The default shot's skinned meshes, as UsdSkel itself finds them (not a hand-kept list)."""
    stage = Usd.Stage.Open(str(STAGES / "default_shot.usda"))
    cache = UsdSkel.Cache()
    root = UsdSkel.Root(stage.GetPrimAtPath(TWIN))
    cache.Populate(root, Usd.PrimDefaultPredicate)
    found = set()
    for binding in cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate):
        for query in binding.GetSkinningTargets():
            prim = query.GetPrim()
            if (
                prim.IsA(UsdGeom.Mesh)
                and UsdGeom.Imageable(prim).ComputeVisibility() != "invisible"
            ):
                found.add(str(prim.GetPath()))
    return found


SKINNED = _skinned_meshes()
COVE = "/Studio/Set/Cyclorama/Cove"
Mask = Callable[..., np.ndarray]


def raised_arm(shot: Any, degrees: float = 60.0) -> list[float]:
    """upperarm_l's rotation turned ``degrees`` further about its local Z (the arm rises)."""
    anim = shot.stage.GetPrimAtPath(TWIN + "/Pose")
    joints = [str(j).rsplit("/", 1)[-1] for j in anim.GetAttribute("joints").Get()]
    rest = anim.GetAttribute("rotations").Get()[joints.index("upperarm_l")]
    q = rest * Gf.Quatf(Gf.Rotation(Gf.Vec3d(0, 0, 1), degrees).GetQuat())
    return [q.GetReal(), *q.GetImaginary()]


# -- the default shot -----------------------------------------------------------------------


def test_default_shot_converts_meshes_lights_and_cameras(shot: Any) -> None:
    studio = shot.studio
    assert set(studio.mesh_nodes) == SKINNED | {COVE}
    assert studio.last_sync.full and studio.last_sync.meshes_rebuilt == len(SKINNED) + 1

    key = studio.lights[KEY]
    assert (key.kind, key.width, key.height) == ("rect", pytest.approx(1.2), pytest.approx(0.9))
    assert key.luminance == 20.0 and not key.normalize and key.shadow and key.visible
    assert key.cone_angle_deg is None
    assert key.color == pytest.approx(tuple(UsdLux.BlackbodyTemperatureAsRgb(5600)))
    to_chest = np.array([0.0, 1.3, 0.0]) - key.position
    assert key.direction @ to_chest / np.linalg.norm(to_chest) > 0.95  # aimed at the chest

    rim = studio.lights["/Studio/Lights/Rim"]
    assert (rim.kind, rim.radius, rim.luminance) == ("sphere", pytest.approx(0.1), 150.0)
    assert rim.cone_angle_deg == 30.0 and rim.cone_softness == pytest.approx(0.2)

    hero = studio.camera(HERO)
    assert (hero.focal_length_mm, hero.h_aperture_mm, hero.v_aperture_mm) == (50, 36, 24)
    assert (hero.near, hero.far, hero.f_stop) == (pytest.approx(0.1), 100, 4)
    assert hero.exposure == 0.0
    assert hero.world[:3, 3] == pytest.approx([0, 1, 5])
    # Horizontal aperture fit: 3:2 film at 3:2 shows the whole back; 16:9 crops it.
    assert hero.yfov(36 / 24) == pytest.approx(2 * math.atan(12 / 50))
    assert hero.yfov(16 / 9) == pytest.approx(2 * math.atan(18 / (16 / 9) / 50))
    with pytest.raises(KeyError, match="/Studio/Cameras/Detail"):
        studio.camera("/Studio/Cameras/Nope")


def test_the_twin_fills_a_meaningful_part_of_the_frame(shot: Any, silhouette: Mask) -> None:
    mask = silhouette(shot.studio)
    assert 0.04 < mask.mean() < 0.4
    rows, cols = np.nonzero(mask)
    assert rows.max() - rows.min() > 0.75 * H  # head to feet
    assert abs((cols.min() + cols.max()) / 2 - W / 2) < 0.05 * W  # centred


def test_a_longer_lens_makes_the_twin_bigger(shot: Any, silhouette: Mask) -> None:
    before = silhouette(shot.studio).sum()
    shot.edit(op="set", path=HERO, attr="focalLength", value=85.0)
    stats = shot.studio.sync()
    assert (stats.cameras_changed, stats.meshes_rebuilt, stats.nodes_moved) == (1, 0, 0)
    assert shot.studio.camera(HERO).focal_length_mm == 85.0
    assert silhouette(shot.studio).sum() > 1.5 * before


# -- incremental sync -----------------------------------------------------------------------


def test_a_light_edit_rebuilds_no_mesh(shot: Any) -> None:
    meshes = {p: n.mesh for p, n in shot.studio.mesh_nodes.items()}
    assert not shot.studio.dirty
    shot.edit(op="set", path=KEY, attr="inputs:intensity", value=40.0)
    shot.edit(op="set", path=KEY, attr="inputs:exposure", value=1.0)
    assert shot.studio.dirty
    stats = shot.studio.sync()
    assert not stats.full
    assert (stats.meshes_rebuilt, stats.nodes_moved, stats.lights_changed) == (0, 0, 1)
    assert shot.studio.lights[KEY].luminance == 80.0
    assert {p: n.mesh for p, n in shot.studio.mesh_nodes.items()} == meshes
    assert not shot.studio.dirty
    assert shot.studio.sync() == type(stats)(False, 0, 0, 0, 0.0)


def test_a_transform_edit_moves_nodes_without_rebuilding(shot: Any) -> None:
    studio = shot.studio
    meshes = {p: n.mesh for p, n in studio.mesh_nodes.items()}
    cove_pose = studio.scene.get_pose(studio.mesh_nodes[COVE]).copy()
    shot.edit(op="xform", path=TWIN, translate=[0.5, 0.0, -0.25])
    stats = studio.sync()
    assert (stats.meshes_rebuilt, stats.nodes_moved, stats.lights_changed) == (0, len(SKINNED), 0)
    assert {p: n.mesh for p, n in studio.mesh_nodes.items()} == meshes  # same Mesh objects
    for path in SKINNED:  # skinned meshes sit at their skeleton's (here, the SkelRoot's) pose
        assert studio.scene.get_pose(studio.mesh_nodes[path])[:3, 3] == pytest.approx(
            [0.5, 0, -0.25]
        )
    assert studio.scene.get_pose(studio.mesh_nodes[COVE]) == pytest.approx(cove_pose)

    shot.edit(op="xform", path=KEY, translate=[-1.0, 2.0, 1.0])
    stats = studio.sync()
    assert (stats.meshes_rebuilt, stats.nodes_moved, stats.lights_changed) == (0, 0, 1)
    assert studio.lights[KEY].position == pytest.approx([-1, 2, 1])


def test_a_pose_edit_reskins_only_the_skinned_meshes(shot: Any, silhouette: Mask) -> None:
    studio = shot.studio
    before = silhouette(studio)
    nodes = dict(studio.mesh_nodes)
    meshes = {p: n.mesh for p, n in nodes.items()}
    shot.edit(op="pose", path=TWIN, rotations={"upperarm_l": raised_arm(shot)})
    stats = studio.sync()
    assert (stats.meshes_rebuilt, stats.nodes_moved, stats.lights_changed) == (len(SKINNED), 0, 0)
    assert studio.mesh_nodes == nodes  # the same nodes...
    for path in SKINNED:  # ...holding new Mesh objects, which pyrender uploads afresh
        assert studio.mesh_nodes[path].mesh is not meshes[path]
    assert studio.mesh_nodes[COVE].mesh is meshes[COVE]
    after = silhouette(studio)
    changed = before ^ after
    assert changed.sum() > 150
    # The twin's left arm is on camera-right: it rose into the upper right of the frame.
    assert after[: H // 3, W // 2 :].sum() > before[: H // 3, W // 2 :].sum() + 50
    # A second edit of the same attribute takes the cheap path too.
    shot.edit(op="pose", path=TWIN, rotations={"upperarm_l": raised_arm(shot, 30.0)})
    assert studio.sync().meshes_rebuilt == len(SKINNED)
    assert (silhouette(studio) ^ after).sum() > 50


def test_a_wardrobe_switch_rebuilds_the_twin(shot: Any, renderer: Any) -> None:
    studio = shot.studio
    before = render_baseline(studio, HERO, W, H, renderer)
    body = studio.mesh_nodes["/Studio/Twin/Body"]
    shot.edit(op="variant", path=TWIN, set="wardrobe", selection="evening")
    stats = studio.sync()
    assert not stats.full and stats.meshes_rebuilt == len(
        [p for p in studio.mesh_nodes if p.startswith(TWIN)]
    )
    assert "/Studio/Twin/Wardrobe/Tee" not in studio.mesh_nodes
    assert "/Studio/Twin/Wardrobe/Dress" in studio.mesh_nodes
    assert studio.mesh_nodes["/Studio/Twin/Body"] is body  # the body keeps its node
    after = render_baseline(studio, HERO, W, H, renderer)
    assert np.abs(after.astype(int) - before).mean() > 2


def test_a_material_edit_swaps_the_material_in_place(shot: Any) -> None:
    studio = shot.studio
    mesh = studio.mesh_nodes[COVE].mesh
    shader = "/Studio/Set/Cyclorama/Materials/Backdrop/Surface"
    shot.stage.GetPrimAtPath(shader).GetAttribute("inputs:diffuseColor").Set((0.2, 0.3, 0.9))
    stats = studio.sync()
    assert (stats.materials_updated, stats.meshes_rebuilt, stats.nodes_moved) == (1, 0, 0)
    assert studio.mesh_nodes[COVE].mesh is mesh
    factor = mesh.primitives[0].material.baseColorFactor
    assert factor == pytest.approx([0.2, 0.3, 0.9, 1.0])


def test_create_and_delete_a_light(shot: Any) -> None:
    shot.edit(op="create", path="/Studio/Lights/Sun", type="DistantLight")
    stats = shot.studio.sync()
    assert (stats.lights_changed, stats.meshes_rebuilt) == (1, 0)
    assert shot.studio.lights["/Studio/Lights/Sun"].kind == "distant"
    shot.edit(op="delete", path="/Studio/Lights/Fill")  # a shot prim: deactivated
    stats = shot.studio.sync()
    assert (stats.lights_changed, stats.meshes_rebuilt) == (1, 0)
    assert "/Studio/Lights/Fill" not in shot.studio.lights


def test_a_root_resync_rebuilds_everything(shot: Any) -> None:
    nodes = dict(shot.studio.mesh_nodes)
    # Sublayering a whole asset file is one of the changes USD reports as a resync of "/".
    shot.room.root_layer.subLayerPaths.append(str(STAGES / "sets" / "cyclorama.usda"))
    stats = shot.studio.sync()
    assert stats.full and stats.meshes_rebuilt == len(nodes) + 1 and stats.lights_changed == 3
    assert "/Cyclorama/Cove" in shot.studio.mesh_nodes
    assert {p: shot.studio.mesh_nodes[p] for p in nodes} == nodes  # prims keep their nodes


def test_incremental_syncs_render_like_a_fresh_build(shot: Any, renderer: Any) -> None:
    edits: list[dict[str, Any]] = [
        {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 35.0},
        {"op": "xform", "path": TWIN, "translate": [0.3, 0.0, 0.2], "rotate": [0.0, 20.0, 0.0]},
        {"op": "pose", "path": TWIN, "rotations": {"upperarm_l": raised_arm(shot)}},
        {"op": "variant", "path": TWIN, "set": "wardrobe", "selection": "evening"},
        {"op": "xform", "path": "/Studio/Lights/Rim", "translate": [-0.9, 3.0, -1.9]},
        {"op": "set", "path": HERO, "attr": "focalLength", "value": 60.0},
        {"op": "create", "path": "/Studio/Lights/Sun", "type": "DistantLight"},
        {"op": "pose", "path": TWIN, "preset": "walking"},
    ]
    for wire in edits:
        shot.edit(**wire)
        assert not shot.studio.sync().full
    incremental = render_baseline(shot.studio, HERO, W, H, renderer)
    fresh_scene = StudioScene(shot.stage)
    fresh = render_baseline(fresh_scene, HERO, W, H, renderer)
    fresh_scene.close()
    diff = np.abs(incremental.astype(int) - fresh)
    assert (diff.max(axis=2) > 8).mean() < 0.002, f"{(diff.max(axis=2) > 8).sum()} pixels differ"
    assert diff.mean() < 0.5


# -- conversion details, on small in-memory stages ------------------------------------------


def _mesh(
    stage: Usd.Stage, path: str, points: list[Any], counts: list[int], indices: list[int]
) -> UsdGeom.Mesh:
    mesh = UsdGeom.Mesh.Define(stage, path)
    mesh.CreatePointsAttr(points)
    mesh.CreateFaceVertexCountsAttr(counts)
    mesh.CreateFaceVertexIndicesAttr(indices)
    return mesh


def _primitive(studio: StudioScene, path: str) -> Any:
    return studio.mesh_nodes[path].mesh.primitives[0]


def test_polygons_holes_and_face_varying_data() -> None:
    stage = Usd.Stage.CreateInMemory()
    pentagon = [(math.cos(a), math.sin(a), 0.0) for a in np.linspace(0, 2 * math.pi, 6)[:-1]]
    # A pentagon, a triangle, a degenerate 2-gon (skipped) and a quad that is a hole.
    points = [*pentagon, (2, 0, 0), (2, 1, 0), (3, 0, 0), (3, 1, 0)]
    counts = [5, 3, 2, 4]
    indices = [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 5, 7, 8, 6]
    mesh = _mesh(stage, "/Poly", points, counts, indices)
    mesh.CreateHoleIndicesAttr([3])
    st = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
        "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.faceVarying
    )
    st.Set([(i / 14, 0.25) for i in range(14)])
    UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
        "displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.uniform
    ).Set([(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1)])
    left = _mesh(stage, "/Left", points[:3], [3], [0, 1, 2])
    left.CreateOrientationAttr(UsdGeom.Tokens.leftHanded)
    _mesh(stage, "/Right", points[:3], [3], [0, 1, 2])

    studio = StudioScene(stage)
    poly = _primitive(studio, "/Poly")
    assert poly.indices.shape == (4, 3)  # 3 fan triangles + 1; the 2-gon and the hole dropped
    assert len(poly.positions) == 14  # faceVarying UVs split the vertices per face corner
    assert poly.texcoord_0[:, 1] == pytest.approx(0.25)
    assert poly.texcoord_0[:, 0] == pytest.approx(np.arange(14) / 14)
    assert poly.color_0[:5, :3] == pytest.approx(np.tile([1, 0, 0], (5, 1)))  # face 0: red
    assert poly.color_0[5:8, :3] == pytest.approx(np.tile([0, 1, 0], (3, 1)))
    used = np.unique(poly.indices).astype(int)
    assert poly.normals[used] == pytest.approx(np.tile([0, 0, 1], (len(used), 1)), abs=1e-6)
    assert _primitive(studio, "/Left").indices.tolist() == [[0, 2, 1]]
    assert _primitive(studio, "/Right").indices.tolist() == [[0, 1, 2]]


def test_purpose_visibility_and_simple_gprims() -> None:
    stage = Usd.Stage.CreateInMemory()
    tri = ([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [3], [0, 1, 2])
    model = UsdGeom.Xform.Define(stage, "/Model")
    Usd.ModelAPI(model).SetKind("component")
    _mesh(stage, "/Model/Render", *tri).CreatePurposeAttr(UsdGeom.Tokens.render)
    _mesh(stage, "/Model/Proxy", *tri).CreatePurposeAttr(UsdGeom.Tokens.proxy)
    other = UsdGeom.Xform.Define(stage, "/Other")
    Usd.ModelAPI(other).SetKind("component")
    _mesh(stage, "/Other/ProxyOnly", *tri).CreatePurposeAttr(UsdGeom.Tokens.proxy)
    _mesh(stage, "/LooseProxy", *tri).CreatePurposeAttr(UsdGeom.Tokens.proxy)  # stage has render
    _mesh(stage, "/Guide", *tri).CreatePurposeAttr(UsdGeom.Tokens.guide)
    UsdGeom.Xform.Define(stage, "/Hidden").CreateVisibilityAttr(UsdGeom.Tokens.invisible)
    _mesh(stage, "/Hidden/Child", *tri)
    UsdGeom.Sphere.Define(stage, "/Sphere").CreateRadiusAttr(0.5)
    UsdGeom.Cube.Define(stage, "/Cube").CreateSizeAttr(3.0)
    cylinder = UsdGeom.Cylinder.Define(stage, "/Cylinder")
    cylinder.CreateAxisAttr("Y")
    cylinder.CreateHeightAttr(4.0)
    cone = UsdGeom.Cone.Define(stage, "/Cone")
    cone.CreateAxisAttr("X")
    UsdGeom.Capsule.Define(stage, "/Capsule")

    studio = StudioScene(stage)
    assert set(studio.mesh_nodes) == {
        "/Model/Render",
        "/Other/ProxyOnly",
        "/Sphere",
        "/Cube",
        "/Cylinder",
        "/Cone",
        "/Capsule",
    }
    bounds = {p: n.mesh.bounds for p, n in studio.mesh_nodes.items()}
    assert bounds["/Sphere"][1] == pytest.approx([0.5] * 3, abs=0.01)
    assert bounds["/Cube"][1] == pytest.approx([1.5] * 3)
    assert bounds["/Cylinder"][:, 1] == pytest.approx([-2, 2])  # along Y, centred
    assert bounds["/Cone"][:, 0] == pytest.approx([-1, 1])  # along X, centred
    assert bounds["/Capsule"][:, 2] == pytest.approx([-1, 1], abs=0.01)  # 1 + two r=0.5 caps

    UsdGeom.Imageable(stage.GetPrimAtPath("/Hidden")).MakeVisible()
    stats = studio.sync()
    assert stats.meshes_rebuilt == 1 and "/Hidden/Child" in studio.mesh_nodes


def test_light_colour_temperature_and_defaults() -> None:
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)  # unauthored would be centimetres
    warm = UsdLux.DiskLight.Define(stage, "/Warm")
    warm.CreateEnableColorTemperatureAttr(True)
    warm.CreateColorTemperatureAttr(3200.0)
    daylight = UsdLux.CylinderLight.Define(stage, "/D65")
    daylight.CreateEnableColorTemperatureAttr(True)
    daylight.CreateColorTemperatureAttr(6500.0)
    daylight.CreateLengthAttr(2.0)
    hidden = UsdLux.DomeLight.Define(stage, "/Dome")
    hidden.CreateIntensityAttr(0.5)
    UsdLux.ShadowAPI.Apply(hidden.GetPrim()).CreateShadowEnableAttr(False)
    UsdGeom.Imageable(hidden).MakeInvisible()
    lights = StudioScene(stage).lights
    r, g, b = lights["/Warm"].color
    assert r > g > b
    assert lights["/D65"].color == pytest.approx((1, 1, 1), abs=0.05)  # ~white at 6500 K
    assert (lights["/D65"].kind, lights["/D65"].length, lights["/D65"].radius) == (
        "cylinder",
        2.0,
        0.5,
    )
    dome = lights["/Dome"]
    assert (dome.kind, dome.visible, dome.shadow, dome.luminance) == ("dome", False, False, 0.5)
    assert lights["/Warm"].shadow and lights["/Warm"].cone_angle_deg is None


def _textured_quad(root: Path, texture: str, diffuse: tuple[float, float, float]) -> Usd.Stage:
    """A 2x2 quad at z=0 facing +Z, UV (0,0) bottom-left, lit by a white dome, seen by /Cam."""
    stage = Usd.Stage.CreateNew(str(root / "quad.usda"))
    quad = _mesh(
        stage, "/Quad", [(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [4], [0, 1, 2, 3]
    )
    UsdGeom.PrimvarsAPI(quad).CreatePrimvar(
        "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex
    ).Set([(0, 0), (1, 0), (1, 1), (0, 1)])
    material = UsdShade.Material.Define(stage, "/Looks/Print")
    surface = UsdShade.Shader.Define(stage, "/Looks/Print/Surface")
    surface.CreateIdAttr("UsdPreviewSurface")
    tex = UsdShade.Shader.Define(stage, "/Looks/Print/Texture")
    tex.CreateIdAttr("UsdUVTexture")
    tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(texture)
    reader = UsdShade.Shader.Define(stage, "/Looks/Print/St")
    reader.CreateIdAttr("UsdPrimvarReader_float2")
    reader.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("st")
    tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
        reader.CreateOutput("result", Sdf.ValueTypeNames.Float2)
    )
    diffuse_input = surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    diffuse_input.Set(diffuse)
    diffuse_input.ConnectToSource(tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    UsdShade.MaterialBindingAPI.Apply(quad.GetPrim()).Bind(material)
    UsdLux.DomeLight.Define(stage, "/Dome")
    camera = UsdGeom.Camera.Define(stage, "/Cam")
    camera.AddTranslateOp().Set((0, 0, 3))
    return stage


def test_textures_follow_usd_uv_orientation(tmp_path: Path, renderer: Any) -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[:32] = (255, 0, 0)  # top half red
    image[32:] = (0, 0, 255)  # bottom half blue
    Image.fromarray(image).save(tmp_path / "print.png")
    studio = StudioScene(_textured_quad(tmp_path, "./print.png", (0.0, 1.0, 0.0)))
    material = _primitive(studio, "/Quad").material
    assert material.baseColorTexture is not None
    frame = render_baseline(studio, "/Cam", 64, 64, renderer).astype(int)
    top, bottom = frame[20, 32], frame[44, 32]
    assert top[0] > 150 and top[2] < 60, top
    assert bottom[2] > 150 and bottom[0] < 60, bottom


def test_a_missing_texture_falls_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stage = _textured_quad(tmp_path, "./textures/missing_print.png", (0.8, 0.1, 0.1))
    with caplog.at_level(logging.WARNING, logger="twinstudio.render.scene"):
        studio = StudioScene(stage)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("missing_print.png" in w and "diffuseColor" in w for w in warnings), warnings
    material = _primitive(studio, "/Quad").material
    assert material.baseColorTexture is None
    assert material.baseColorFactor == pytest.approx([0.8, 0.1, 0.1, 1.0])


def _skinned_triangle(rigid: bool) -> Usd.Stage:
    """A one-joint skeleton, lifted 2 up inside a SkelRoot moved 1 along X, whose animation
    translates the joint 3 along Z; a triangle at the origin bound to the joint."""
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)  # unauthored would be centimetres
    root = UsdSkel.Root.Define(stage, "/Rig")
    root.AddTranslateOp().Set((1, 0, 0))
    skel = UsdSkel.Skeleton.Define(stage, "/Rig/Skel")
    skel.AddTranslateOp().Set((0, 2, 0))
    skel.CreateJointsAttr(["J"])
    skel.CreateBindTransformsAttr([Gf.Matrix4d(1)])
    skel.CreateRestTransformsAttr([Gf.Matrix4d(1)])
    anim = UsdSkel.Animation.Define(stage, "/Rig/Anim")
    anim.CreateJointsAttr(["J"])
    anim.CreateTranslationsAttr([(0, 0, 3)])
    anim.CreateRotationsAttr([Gf.Quatf(1)])
    anim.CreateScalesAttr([Gf.Vec3h(1, 1, 1)])
    UsdSkel.BindingAPI.Apply(skel.GetPrim()).CreateAnimationSourceRel().SetTargets([anim.GetPath()])
    mesh = _mesh(stage, "/Rig/Tri", [(0, 0, 0), (1, 0, 0), (0, 1, 0)], [3], [0, 1, 2])
    mesh.AddTranslateOp().Set((5, 5, 5))  # ignored: skinned meshes follow their skeleton
    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    binding.CreateSkeletonRel().SetTargets([skel.GetPath()])
    interpolation = UsdGeom.Tokens.constant if rigid else UsdGeom.Tokens.vertex
    count = 1 if rigid else 3
    binding.CreateJointIndicesPrimvar(rigid, 1).Set([0] * count)
    binding.CreateJointWeightsPrimvar(rigid, 1).Set([1.0] * count)
    assert binding.GetJointIndicesPrimvar().GetInterpolation() == interpolation
    return stage


@pytest.mark.parametrize("rigid", [False, True], ids=["per-vertex", "rigid"])
def test_skinned_points_are_in_skeleton_space(rigid: bool) -> None:
    stage = _skinned_triangle(rigid)
    studio = StudioScene(stage)
    node = studio.mesh_nodes["/Rig/Tri"]
    assert studio.scene.get_pose(node)[:3, 3] == pytest.approx([1, 2, 0])  # the skeleton's
    assert node.mesh.bounds == pytest.approx(
        np.array([[0, 0, 3], [1, 1, 3]])
    )  # posed, skeleton space
    UsdSkel.Animation(stage.GetPrimAtPath("/Rig/Anim")).GetTranslationsAttr().Set([(0, 1, 0)])
    stats = studio.sync()
    assert (stats.meshes_rebuilt, stats.nodes_moved) == (1, 0)
    assert studio.mesh_nodes["/Rig/Tri"].mesh.bounds == pytest.approx(
        np.array([[0, 1, 0], [1, 2, 0]])
    )
