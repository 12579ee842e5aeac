"""The committed default shot and its assets: composition, UsdSkel rig, wardrobe, lights, cameras.

Everything here opens the real layers under ``stages/`` with real USD. Structural checks run on
the usda shot and on a flattened usdc export of it; edits (posing, variant switches) go to a
fresh stage's session layer so the shared root layers are never dirtied.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pxr import Gf, Sdf, Usd, UsdGeom, UsdLux, UsdShade, UsdSkel, UsdValidation

from twinstudio.assets import procedural_twin as pt
from twinstudio.assets.sets import build_cyclorama

STAGES = Path(__file__).resolve().parents[2] / "stages"
SHOT = STAGES / "default_shot.usda"
TWIN_ASSET = STAGES / "twin" / "twin_default.usda"
WARDROBE_ASSET = STAGES / "twin" / "wardrobe_default.usda"
CYC_ASSET = STAGES / "sets" / "cyclorama.usda"
APPLE_BOX = STAGES / "props" / "apple_box.usda"
ALL_LAYERS = [SHOT, TWIN_ASSET, WARDROBE_ASSET, CYC_ASSET, APPLE_BOX]

TWIN = "/Studio/Twin"
SKEL = "/Studio/Twin/Skel"
POSE = "/Studio/Twin/Pose"
BODY = "/Studio/Twin/Body"
WARDROBE = "/Studio/Twin/Wardrobe"
XFORM_STACK = ["xformOp:translate", "xformOp:rotateXYZ", "xformOp:scale"]
DEFAULT = Usd.TimeCode.Default()
LOOK_GARMENTS = {
    "studio_basics": {f"{WARDROBE}/Top", f"{WARDROBE}/Trousers"},
    "evening": {f"{WARDROBE}/Dress"},
}

EXPECTED_JOINTS = [
    "Hips",
    "Hips/Spine",
    "Hips/Spine/Chest",
    "Hips/Spine/Chest/Neck",
    "Hips/Spine/Chest/Neck/Head",
    "Hips/Spine/Chest/L_Shoulder",
    "Hips/Spine/Chest/L_Shoulder/L_UpperArm",
    "Hips/Spine/Chest/L_Shoulder/L_UpperArm/L_LowerArm",
    "Hips/Spine/Chest/L_Shoulder/L_UpperArm/L_LowerArm/L_Hand",
    "Hips/Spine/Chest/R_Shoulder",
    "Hips/Spine/Chest/R_Shoulder/R_UpperArm",
    "Hips/Spine/Chest/R_Shoulder/R_UpperArm/R_LowerArm",
    "Hips/Spine/Chest/R_Shoulder/R_UpperArm/R_LowerArm/R_Hand",
    "Hips/L_UpLeg",
    "Hips/L_UpLeg/L_Leg",
    "Hips/L_UpLeg/L_Leg/L_Foot",
    "Hips/R_UpLeg",
    "Hips/R_UpLeg/R_Leg",
    "Hips/R_UpLeg/R_Leg/R_Foot",
]


# --------------------------------------------------------------------------- helpers


def open_shot() -> Any:
    """A fresh stage on the committed shot (its own session layer as edit target)."""
    stage = Usd.Stage.Open(str(SHOT), Usd.Stage.LoadAll)
    stage.SetEditTarget(stage.GetSessionLayer())
    return stage


def skin_bindings(stage: Any) -> tuple[Any, list[Any]]:
    """(UsdSkel.Cache, bindings) for the twin's SkelRoot."""
    cache = UsdSkel.Cache()
    root = UsdSkel.Root(stage.GetPrimAtPath(TWIN))
    assert root, "the twin is not a SkelRoot"
    assert cache.Populate(root, Usd.PrimDefaultPredicate)
    return cache, list(cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate))


def skinned_points(stage: Any) -> dict[str, np.ndarray]:
    """UsdSkel linear-blend skinning of every skinned mesh under the twin, by prim path."""
    cache, bindings = skin_bindings(stage)
    out: dict[str, np.ndarray] = {}
    for binding in bindings:
        skel_query = cache.GetSkelQuery(binding.GetSkeleton())
        xforms = skel_query.ComputeSkinningTransforms(DEFAULT)
        for target in binding.GetSkinningTargets():
            prim = target.GetPrim()
            points = UsdGeom.Mesh(prim).GetPointsAttr().Get()
            assert target.ComputeSkinnedPoints(xforms, points, DEFAULT)
            out[str(prim.GetPath())] = np.array(points, dtype=np.float64)
    return out


def authored_points(stage: Any, path: str) -> np.ndarray:
    return np.array(UsdGeom.Mesh(stage.GetPrimAtPath(path)).GetPointsAttr().Get(), dtype=float)


def world_position(stage: Any, path: str) -> Gf.Vec3d:
    xf = UsdGeom.Xformable(stage.GetPrimAtPath(path)).ComputeLocalToWorldTransform(DEFAULT)
    return xf.ExtractTranslation()


def joint_world_positions(stage: Any) -> dict[str, Gf.Vec3d]:
    """World rest positions of the skeleton joints, by leaf name."""
    skel = UsdSkel.Skeleton(stage.GetPrimAtPath(SKEL))
    to_world = UsdGeom.Xformable(skel.GetPrim()).ComputeLocalToWorldTransform(DEFAULT)
    joints = skel.GetJointsAttr().Get()
    binds = skel.GetBindTransformsAttr().Get()
    return {
        str(j).rsplit("/", 1)[-1]: (m * to_world).ExtractTranslation()
        for j, m in zip(joints, binds, strict=True)
    }


def to_ndc(camera: Any, points: list[Gf.Vec3d]) -> np.ndarray:
    """Project world points through the camera frustum to normalised device coordinates."""
    frustum = camera.GetCamera(DEFAULT).frustum
    matrix = frustum.ComputeViewMatrix() * frustum.ComputeProjectionMatrix()
    return np.array([list(matrix.Transform(Gf.Vec3d(p))) for p in points])


def light_axis(stage: Any, path: str) -> tuple[np.ndarray, np.ndarray]:
    """(world position, world emission direction = local -Z) of a light."""
    xf = UsdGeom.Xformable(stage.GetPrimAtPath(path)).ComputeLocalToWorldTransform(DEFAULT)
    direction = xf.TransformDir(Gf.Vec3d(0, 0, -1)).GetNormalized()
    return np.array(xf.ExtractTranslation()), np.array(direction)


def nearest_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each point of ``a``, the distance to the nearest point of ``b``."""
    out = np.empty(len(a))
    for start in range(0, len(a), 1024):
        chunk = a[start : start + 1024]
        d2 = np.sum((chunk[:, None, :] - b[None, :, :]) ** 2, axis=2)
        out[start : start + 1024] = np.sqrt(d2.min(axis=1))
    return out


def set_rotation(stage: Any, leaf: str, extra: Gf.Rotation) -> None:
    """Compose ``extra`` onto one joint's rotation in the Pose (session layer)."""
    anim = UsdSkel.Animation(stage.GetPrimAtPath(POSE))
    joints = [str(j).rsplit("/", 1)[-1] for j in anim.GetJointsAttr().Get()]
    rotations = list(anim.GetRotationsAttr().Get())
    i = joints.index(leaf)
    rest = Gf.Rotation(Gf.Quatd(rotations[i]))
    rotations[i] = Gf.Quatf((extra * rest).GetQuat())
    anim.GetRotationsAttr().Set(rotations)


def preview_surface(prim: Any) -> Any:
    material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
    assert material, f"{prim.GetPath()} has no bound material"
    shader = material.ComputeSurfaceSource()[0]
    assert shader.GetIdAttr().Get() == "UsdPreviewSurface"
    return shader


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=["usda", "usdc"])
def shot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The composed shot as authored (usda) and flattened to a binary crate file (usdc)."""
    stage = Usd.Stage.Open(str(SHOT))
    if request.param == "usdc":
        flat = tmp_path_factory.mktemp("flat") / "default_shot.usdc"
        assert stage.Export(str(flat))
        stage = Usd.Stage.Open(str(flat))
        assert stage.GetRootLayer().GetFileFormat().formatId == "usdc"
    return stage


@pytest.fixture(scope="module")
def rest_skinned() -> dict[str, np.ndarray]:
    return skinned_points(open_shot())


# --------------------------------------------------------------------------- layers


@pytest.mark.parametrize("layer_path", ALL_LAYERS, ids=lambda p: p.name)
def test_layers_are_metres_y_up_with_relative_asset_paths(layer_path: Path) -> None:
    layer = Sdf.Layer.FindOrOpen(str(layer_path))
    assert layer is not None
    assert layer.GetFileFormat().formatId == "usda"
    stage = Usd.Stage.Open(layer)
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.y
    assert stage.GetDefaultPrim(), f"{layer_path.name} has no defaultPrim"
    assert not stage.GetCompositionErrors()
    for asset in layer.GetCompositionAssetDependencies():
        assert asset.startswith("./"), f"{layer_path.name}: non-relative asset path {asset}"
        assert (layer_path.parent / asset).is_file()


@pytest.mark.parametrize("layer_path", ALL_LAYERS, ids=lambda p: p.name)
def test_layers_pass_usd_validation(layer_path: Path) -> None:
    registry = UsdValidation.ValidationRegistry()
    context = UsdValidation.ValidationContext(registry.GetOrLoadAllValidators())
    stage = open_shot() if layer_path == SHOT else Usd.Stage.Open(str(layer_path))
    looks = sorted(LOOK_GARMENTS) if layer_path == SHOT else [None]
    for look in looks:
        if look is not None:
            vset = stage.GetPrimAtPath(TWIN).GetVariantSets().GetVariantSet("wardrobe")
            vset.SetVariantSelection(look)
        errors = [f"{e.GetName()}: {e.GetMessage()}" for e in context.Validate(stage)]
        assert errors == [], (look, errors)
    assert not stage.GetRootLayer().dirty


def test_shot_references_the_library_assets() -> None:
    stage = open_shot()
    deps = set(stage.GetRootLayer().GetCompositionAssetDependencies())
    assert deps == {
        "./twin/twin_default.usda",
        "./twin/wardrobe_default.usda",
        "./sets/cyclorama.usda",
    }
    twin_refs = stage.GetPrimAtPath(TWIN).GetMetadata("references")
    assert [r.assetPath for r in twin_refs.GetAddedOrExplicitItems()] == [
        "./twin/twin_default.usda"
    ]
    cyc_refs = stage.GetPrimAtPath("/Studio/Set/Cyclorama").GetMetadata("references")
    assert [r.assetPath for r in cyc_refs.GetAddedOrExplicitItems()] == ["./sets/cyclorama.usda"]


# --------------------------------------------------------------------------- structure


def test_shot_opens_cleanly(shot: Any) -> None:
    assert shot.GetCompositionErrors() == []
    assert UsdGeom.GetStageMetersPerUnit(shot) == 1.0
    assert UsdGeom.GetStageUpAxis(shot) == UsdGeom.Tokens.y
    assert shot.GetDefaultPrim().GetPath() == Sdf.Path("/Studio")
    review = shot.GetRootLayer().customLayerData["twinstudio:reviewCamera"]
    assert review == "/Studio/Cameras/Hero"
    assert shot.GetPrimAtPath(review).IsA(UsdGeom.Camera)


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/Studio", UsdGeom.Xform),
        (TWIN, UsdSkel.Root),
        (SKEL, UsdSkel.Skeleton),
        (POSE, UsdSkel.Animation),
        (BODY, UsdGeom.Mesh),
        (WARDROBE, UsdGeom.Xform),
        (f"{WARDROBE}/Top", UsdGeom.Mesh),
        (f"{WARDROBE}/Trousers", UsdGeom.Mesh),
        ("/Studio/Set", UsdGeom.Xform),
        ("/Studio/Set/Cyclorama", UsdGeom.Xform),
        ("/Studio/Set/Cyclorama/Cove", UsdGeom.Mesh),
        ("/Studio/Lights", UsdGeom.Xform),
        ("/Studio/Lights/Key", UsdLux.RectLight),
        ("/Studio/Lights/Fill", UsdLux.RectLight),
        ("/Studio/Lights/Rim", UsdLux.SphereLight),
        ("/Studio/Cameras", UsdGeom.Xform),
        ("/Studio/Cameras/Hero", UsdGeom.Camera),
        ("/Studio/Cameras/Detail", UsdGeom.Camera),
    ],
)
def test_required_prims(shot: Any, path: str, schema: Any) -> None:
    prim = shot.GetPrimAtPath(path)
    assert prim.IsValid(), path
    assert prim.IsA(schema), f"{path} is a {prim.GetTypeName()}"


def test_twin_prim(shot: Any) -> None:
    twin = shot.GetPrimAtPath(TWIN)
    assert twin.GetCustomData()["twinstudio:identity"] == "locked"
    ops = UsdGeom.Xformable(twin).GetXformOpOrderAttr().Get()
    assert list(ops) == XFORM_STACK
    info = twin.GetAssetInfo()
    assert info["name"] == "twin_default"
    identity = info["identity"]
    assert identity["height_m"] == pytest.approx(1.75, abs=0.01)
    assert {"chest_girth_m", "waist_girth_m", "hip_girth_m"} <= set(identity)
    assert "MakeHuman" in twin.GetMetadata("documentation")
    assert Usd.ModelAPI(twin).GetKind() == "component"


def test_twin_asset_metadata() -> None:
    stage = Usd.Stage.Open(str(TWIN_ASSET))
    twin = stage.GetDefaultPrim()
    assert twin.GetPath() == Sdf.Path("/Twin")
    assert twin.IsA(UsdSkel.Root)
    assert twin.GetCustomData()["twinstudio:identity"] == "locked"
    assert twin.GetAssetInfo()["version"] == "1"
    assert [c.GetName() for c in twin.GetChildren()] == ["Skel", "Body", "Materials"]


def test_body_geometry_reads_as_a_standing_figure(shot: Any) -> None:
    mesh = UsdGeom.Mesh(shot.GetPrimAtPath(BODY))
    points = authored_points(shot, BODY)
    lo, hi = points.min(axis=0), points.max(axis=0)
    assert hi[1] - lo[1] == pytest.approx(1.75, abs=0.02)
    assert lo[1] == pytest.approx(0.0, abs=0.005)
    assert abs(lo[0] + hi[0]) < 0.01  # centred in x
    assert 1.2 < hi[0] - lo[0] < 1.6  # A-pose arm span
    normals = mesh.GetNormalsAttr().Get()
    assert len(normals) == len(points)
    assert mesh.GetSubdivisionSchemeAttr().Get() == UsdGeom.Tokens.none
    valid, why = UsdGeom.Mesh.ValidateTopology(
        mesh.GetFaceVertexIndicesAttr().Get(), mesh.GetFaceVertexCountsAttr().Get(), len(points)
    )
    assert valid, why
    joints = joint_world_positions(shot)
    toe = points[np.argmax(points[:, 2])]
    assert toe[1] < 0.1 and toe[2] > 0.12  # feet point to +Z: the twin faces +Z
    for side, sign in (("L", 1.0), ("R", -1.0)):
        arm = joints[f"{side}_LowerArm"] - joints[f"{side}_UpperArm"]
        assert sign * arm[0] > 0
        below = math.degrees(math.atan2(-arm[1], abs(arm[0])))
        assert below == pytest.approx(45.0, abs=5.0)
    skin = preview_surface(mesh.GetPrim())
    r, g, b = skin.GetInput("diffuseColor").Get()
    assert r > g > b > 0.2
    assert skin.GetInput("roughness").Get() == pytest.approx(0.5, abs=0.1)


# --------------------------------------------------------------------------- lights


LIGHTS = ["/Studio/Lights/Key", "/Studio/Lights/Fill", "/Studio/Lights/Rim"]


@pytest.mark.parametrize("path", LIGHTS)
def test_light_attributes(shot: Any, path: str) -> None:
    prim = shot.GetPrimAtPath(path)
    light = UsdLux.LightAPI(prim)
    assert light.GetIntensityAttr().Get() > 0
    assert light.GetExposureAttr().Get() == 0
    assert tuple(light.GetColorAttr().Get()) == (1, 1, 1)
    assert light.GetEnableColorTemperatureAttr().Get() is True
    assert light.GetColorTemperatureAttr().Get() == pytest.approx(5600)
    assert light.GetNormalizeAttr().Get() is False
    for attr in ("inputs:intensity", "inputs:exposure", "inputs:color", "inputs:normalize"):
        assert prim.GetAttribute(attr).HasAuthoredValue(), f"{path}.{attr}"
    ops = UsdGeom.Xformable(prim).GetXformOpOrderAttr().Get()
    assert list(ops) == XFORM_STACK


def test_three_point_layout(shot: Any) -> None:
    key = UsdLux.RectLight(shot.GetPrimAtPath("/Studio/Lights/Key"))
    assert key.GetWidthAttr().Get() == pytest.approx(1.2)
    assert key.GetHeightAttr().Get() == pytest.approx(0.9)
    assert key.GetIntensityAttr().Get() == pytest.approx(20)
    fill = UsdLux.RectLight(shot.GetPrimAtPath("/Studio/Lights/Fill"))
    assert fill.GetIntensityAttr().Get() < key.GetIntensityAttr().Get()
    assert fill.GetWidthAttr().Get() * fill.GetHeightAttr().Get() > 1.08
    rim = shot.GetPrimAtPath("/Studio/Lights/Rim")
    assert rim.HasAPI(UsdLux.ShapingAPI)
    assert 0 < UsdLux.ShapingAPI(rim).GetShapingConeAngleAttr().Get() < 90

    joints = joint_world_positions(shot)
    chest = np.array(joints["Chest"])
    head = np.array(joints["Head"])
    key_pos, key_dir = light_axis(shot, "/Studio/Lights/Key")
    fill_pos, fill_dir = light_axis(shot, "/Studio/Lights/Fill")
    rim_pos, rim_dir = light_axis(shot, "/Studio/Lights/Rim")
    # Key: camera-left (-X), in front (+Z), ~45 degrees around, above the head.
    assert key_pos[0] < 0 < key_pos[2]
    assert math.degrees(math.atan2(-key_pos[0], key_pos[2])) == pytest.approx(45, abs=8)
    assert key_pos[1] > 1.8
    assert fill_pos[0] > 0 and fill_pos[2] > 0
    assert rim_pos[2] < 0 and rim_pos[1] > 1.8
    for pos, direction, target in (
        (key_pos, key_dir, chest),
        (fill_pos, fill_dir, chest),
        (rim_pos, rim_dir, head),
    ):
        to_target = (target - pos) / np.linalg.norm(target - pos)
        assert math.degrees(math.acos(float(np.dot(direction, to_target)))) < 10


def test_lights_are_out_of_the_hero_shot(shot: Any) -> None:
    hero = UsdGeom.Camera(shot.GetPrimAtPath("/Studio/Cameras/Hero"))
    positions = [world_position(shot, path) for path in LIGHTS]
    for path, ndc in zip(LIGHTS, to_ndc(hero, positions), strict=True):
        assert np.max(np.abs(ndc[:2])) > 1.0, f"{path} is visible in the hero frame"


# --------------------------------------------------------------------------- cameras


def test_camera_attributes(shot: Any) -> None:
    hero = UsdGeom.Camera(shot.GetPrimAtPath("/Studio/Cameras/Hero"))
    assert hero.GetFocalLengthAttr().Get() == pytest.approx(50)
    assert hero.GetHorizontalApertureAttr().Get() == pytest.approx(36)
    assert hero.GetVerticalApertureAttr().Get() == pytest.approx(24)
    assert hero.GetFStopAttr().Get() == pytest.approx(4)
    assert tuple(hero.GetClippingRangeAttr().Get()) == pytest.approx((0.1, 100))
    assert list(hero.GetXformOpOrderAttr().Get()) == XFORM_STACK
    for attr in ("focalLength", "fStop", "focusDistance"):
        assert hero.GetPrim().GetAttribute(attr).HasAuthoredValue()
    position = world_position(shot, "/Studio/Cameras/Hero")
    assert np.allclose(position, (0, 1.0, 5.0), atol=0.3)
    chest = joint_world_positions(shot)["Chest"]
    assert hero.GetFocusDistanceAttr().Get() == pytest.approx(
        (chest - position).GetLength(), abs=0.02
    )

    detail = UsdGeom.Camera(shot.GetPrimAtPath("/Studio/Cameras/Detail"))
    assert detail.GetFocalLengthAttr().Get() == pytest.approx(85)
    for attr in ("focalLength", "fStop", "focusDistance"):
        assert detail.GetPrim().GetAttribute(attr).HasAuthoredValue()
    detail_pos = world_position(shot, "/Studio/Cameras/Detail")
    assert (chest - detail_pos).GetLength() < (chest - position).GetLength()


def test_hero_frames_the_whole_twin(shot: Any, rest_skinned: dict[str, np.ndarray]) -> None:
    cache = UsdGeom.BBoxCache(DEFAULT, [UsdGeom.Tokens.default_, UsdGeom.Tokens.render])
    box = cache.ComputeWorldBound(shot.GetPrimAtPath(TWIN)).ComputeAlignedRange()
    # The twin's bound contains all of its (skinned) geometry.
    geometry = np.concatenate(list(rest_skinned.values()))
    assert np.all(geometry.min(axis=0) >= np.array(box.GetMin()) - 1e-4)
    assert np.all(geometry.max(axis=0) <= np.array(box.GetMax()) + 1e-4)
    hero = UsdGeom.Camera(shot.GetPrimAtPath("/Studio/Cameras/Hero"))
    ndc = to_ndc(hero, [box.GetCorner(i) for i in range(8)])
    assert np.all(np.abs(ndc[:, :2]) < 0.98), ndc
    assert np.all(np.abs(ndc[:, 2]) < 1.0)  # between the clipping planes
    height_fraction = (ndc[:, 1].max() - ndc[:, 1].min()) / 2
    assert height_fraction >= 0.5


def test_detail_frames_the_upper_body(shot: Any) -> None:
    joints = joint_world_positions(shot)
    detail = UsdGeom.Camera(shot.GetPrimAtPath("/Studio/Cameras/Detail"))
    top_of_head = joints["Head"] + Gf.Vec3d(0, 0.18, 0)
    inside = to_ndc(detail, [joints["Chest"], joints["Spine"], joints["Neck"], top_of_head])
    assert np.all(np.abs(inside[:, :2]) < 1.0)
    outside = to_ndc(detail, [joints["L_Foot"], joints["R_Foot"]])
    assert np.all(outside[:, 1] < -1.0)


# --------------------------------------------------------------------------- set


def test_cyclorama(shot: Any) -> None:
    cove = shot.GetPrimAtPath("/Studio/Set/Cyclorama/Cove")
    lo, hi = (np.array(v) for v in UsdGeom.Mesh(cove).GetExtentAttr().Get())
    assert hi - lo == pytest.approx([8.0, 4.0, 6.0], abs=0.01)
    assert lo[1] == pytest.approx(0.0)
    colour = UsdGeom.Mesh(cove).GetDisplayColorAttr().Get()[0]
    shader = preview_surface(cove)
    assert tuple(shader.GetInput("diffuseColor").Get()) == pytest.approx(tuple(colour))
    assert min(colour) > 0.6 and max(colour) - min(colour) < 0.02  # light grey
    # The twin stands on the floor, in front of the back wall.
    assert lo[2] < -1.5 and hi[2] > 3.0


# --------------------------------------------------------------------------- UsdSkel


def test_skeleton_and_pose(shot: Any) -> None:
    skel = UsdSkel.Skeleton(shot.GetPrimAtPath(SKEL))
    joints = [str(j) for j in skel.GetJointsAttr().Get()]
    assert joints == EXPECTED_JOINTS == list(pt.JOINT_TOKENS)
    anim = UsdSkel.Animation(shot.GetPrimAtPath(POSE))
    assert [str(j) for j in anim.GetJointsAttr().Get()] == joints
    n = len(joints)
    assert len(anim.GetRotationsAttr().Get()) == n
    assert len(anim.GetTranslationsAttr().Get()) == n
    scales = anim.GetScalesAttr().Get()
    assert len(scales) == n and all(tuple(s) == (1, 1, 1) for s in scales)
    assert anim.GetRotationsAttr().GetTypeName() == Sdf.ValueTypeNames.QuatfArray
    assert anim.GetTranslationsAttr().GetTypeName() == Sdf.ValueTypeNames.Float3Array
    assert anim.GetScalesAttr().GetTypeName() == Sdf.ValueTypeNames.Half3Array

    # The Pose holds exactly the rest pose.
    rest = skel.GetRestTransformsAttr().Get()
    posed = anim.GetTransforms(DEFAULT)
    for joint, a, b in zip(joints, rest, posed, strict=True):
        assert Gf.IsClose(a, b, 1e-5), joint
    # Bind transforms are the world-space composition of the rest transforms.
    cache, _ = skin_bindings(shot)
    query = cache.GetSkelQuery(skel)
    at_rest = query.ComputeJointSkelTransforms(DEFAULT, True)
    for joint, a, b in zip(joints, at_rest, skel.GetBindTransformsAttr().Get(), strict=True):
        assert Gf.IsClose(a, b, 1e-5), joint


def test_skel_binding_resolves(shot: Any) -> None:
    cache, bindings = skin_bindings(shot)
    assert len(bindings) == 1
    binding = bindings[0]
    assert binding.GetSkeleton().GetPath() == Sdf.Path(SKEL)
    query = cache.GetSkelQuery(binding.GetSkeleton())
    assert query
    assert query.GetAnimQuery().GetPrim().GetPath() == Sdf.Path(POSE)
    assert UsdSkel.BindingAPI(shot.GetPrimAtPath(SKEL)).GetAnimationSource().GetPath() == Sdf.Path(
        POSE
    )
    body_binding = UsdSkel.BindingAPI(shot.GetPrimAtPath(BODY))
    assert body_binding.GetSkeletonRel().GetTargets() == [Sdf.Path(SKEL)]
    targets = {str(t.GetPrim().GetPath()) for t in binding.GetSkinningTargets()}
    assert targets == {BODY} | LOOK_GARMENTS["studio_basics"]


def test_joint_influences(shot: Any) -> None:
    _, bindings = skin_bindings(shot)
    n_joints = len(pt.JOINT_TOKENS)
    for target in bindings[0].GetSkinningTargets():
        prim = target.GetPrim()
        assert prim.HasAPI(UsdSkel.BindingAPI), prim.GetPath()
        assert target.HasJointInfluences()
        assert not target.IsRigidlyDeformed()
        assert target.GetInterpolation() == UsdGeom.Tokens.vertex
        assert target.GetNumInfluencesPerComponent() == 4
        assert target.GetGeomBindTransform(DEFAULT) == Gf.Matrix4d(1)
        n_points = len(UsdGeom.Mesh(prim).GetPointsAttr().Get())
        indices, weights = target.ComputeVaryingJointInfluences(n_points, DEFAULT)
        idx = np.array(indices).reshape(n_points, 4)
        wts = np.array(weights).reshape(n_points, 4)
        assert idx.min() >= 0 and idx.max() < n_joints
        assert np.all(wts >= 0)
        assert np.allclose(wts.sum(axis=1), 1.0, atol=1e-5), prim.GetPath()
        assert np.all(wts.max(axis=1) > 0)  # every vertex is weighted


def test_blending_is_smooth_near_joints(shot: Any) -> None:
    """Vertices around the elbow and knee are shared between both bones."""
    _, bindings = skin_bindings(shot)
    body = next(t for t in bindings[0].GetSkinningTargets() if t.GetPrim().GetPath() == BODY)
    points = authored_points(shot, BODY)
    indices, weights = body.ComputeVaryingJointInfluences(len(points), DEFAULT)
    idx = np.array(indices).reshape(-1, 4)
    wts = np.array(weights).reshape(-1, 4)
    joints = joint_world_positions(shot)
    names = [t.rsplit("/", 1)[-1] for t in pt.JOINT_TOKENS]
    for upper, lower in (("L_UpperArm", "L_LowerArm"), ("R_UpLeg", "R_Leg")):
        centre = np.array(joints[lower])
        near = np.linalg.norm(points - centre, axis=1) < 0.07
        assert near.sum() > 10
        a, b = names.index(upper), names.index(lower)
        w_a = np.where(idx[near] == a, wts[near], 0).sum(axis=1)
        w_b = np.where(idx[near] == b, wts[near], 0).sum(axis=1)
        assert np.allclose(w_a + w_b, 1.0, atol=0.02)
        blended = (w_a > 0.1) & (w_b > 0.1)
        assert blended.mean() > 0.3, f"no smooth blend at {lower}"


def test_rest_pose_skinning_is_identity(rest_skinned: dict[str, np.ndarray]) -> None:
    stage = open_shot()
    assert set(rest_skinned) == {BODY} | LOOK_GARMENTS["studio_basics"]
    for path, skinned in rest_skinned.items():
        assert np.max(np.abs(skinned - authored_points(stage, path))) < 1e-4, path


def test_posing_one_joint_moves_body_and_wardrobe(rest_skinned: dict[str, np.ndarray]) -> None:
    stage = open_shot()
    set_rotation(stage, "L_UpperArm", Gf.Rotation(Gf.Vec3d(0, 0, 1), 40))
    assert not stage.GetRootLayer().dirty  # the edit went to the session layer
    posed = skinned_points(stage)

    body_rest, body_posed = rest_skinned[BODY], posed[BODY]
    moved = np.linalg.norm(body_posed - body_rest, axis=1)
    assert moved.max() > 0.2  # the hand swings
    left_arm = body_rest[:, 0] > 0.3
    assert np.all(moved[left_arm] > 0.01)
    # The right side, head and legs do not move.
    still = (body_rest[:, 0] < 0.05) | ((body_rest[:, 1] < 0.95) & (body_rest[:, 0] < 0.25))
    assert np.max(moved[still]) < 1e-5

    top = f"{WARDROBE}/Top"
    sleeve = rest_skinned[top][:, 0] > 0.2
    assert sleeve.sum() > 20
    top_moved = np.linalg.norm(posed[top] - rest_skinned[top], axis=1)
    assert top_moved[sleeve].min() > 0.005
    # The garment keeps hugging the posed body.
    gap_rest = nearest_distance(rest_skinned[top], body_rest)
    gap_posed = nearest_distance(posed[top], body_posed)
    assert gap_posed.max() < gap_rest.max() + 0.02
    trousers = f"{WARDROBE}/Trousers"
    assert np.max(np.abs(posed[trousers] - rest_skinned[trousers])) < 1e-5


def test_bake_skinning_follows_the_pose(tmp_path: Path) -> None:
    """UsdSkel.BakeSkinning on a flattened copy writes the posed points."""
    stage = open_shot()
    set_rotation(stage, "L_Leg", Gf.Rotation(Gf.Vec3d(1, 0, 0), -60))
    copy = Usd.Stage.Open(stage.Flatten())
    before = authored_points(copy, BODY)
    assert UsdSkel.BakeSkinning(copy.Traverse())
    after = authored_points(copy, BODY)
    moved = np.linalg.norm(after - before, axis=1)
    assert moved.max() > 0.2
    assert np.max(moved[before[:, 1] > 1.0]) < 1e-5  # the upper body stays put


# --------------------------------------------------------------------------- wardrobe


def test_wardrobe_variant_set() -> None:
    stage = open_shot()
    vset = stage.GetPrimAtPath(TWIN).GetVariantSets().GetVariantSet("wardrobe")
    assert set(vset.GetVariantNames()) >= {"studio_basics", "evening"}
    assert vset.GetVariantSelection() == "studio_basics"


@pytest.mark.parametrize("look", sorted(LOOK_GARMENTS))
def test_each_look_is_skinned_and_dressed(look: str) -> None:
    stage = open_shot()
    stage.GetPrimAtPath(TWIN).GetVariantSets().GetVariantSet("wardrobe").SetVariantSelection(look)
    assert not stage.GetCompositionErrors()
    garments = {
        str(p.GetPath())
        for p in Usd.PrimRange(stage.GetPrimAtPath(WARDROBE))
        if p.IsA(UsdGeom.Mesh)
    }
    assert garments == LOOK_GARMENTS[look]
    _, bindings = skin_bindings(stage)
    assert [b.GetSkeleton().GetPath() for b in bindings] == [Sdf.Path(SKEL)]
    targets = {str(t.GetPrim().GetPath()) for t in bindings[0].GetSkinningTargets()}
    assert targets == {BODY} | garments
    body = authored_points(stage, BODY)
    for path in garments:
        prim = stage.GetPrimAtPath(path)
        fabric = preview_surface(prim)
        assert fabric.GetInput("roughness").Get() == pytest.approx(0.8, abs=0.1)
        assert fabric.GetInput("diffuseColor").Get() is not None
        points = authored_points(stage, path)
        # A shell just outside the body (the skirt hangs away from the legs).
        assert np.median(nearest_distance(points, body)) < 0.05
    for path, skinned in skinned_points(stage).items():
        assert np.max(np.abs(skinned - authored_points(stage, path))) < 1e-4, path


def test_switching_wardrobe_changes_the_garments() -> None:
    stage = open_shot()

    def garments() -> dict[str, tuple[int, float]]:
        out: dict[str, tuple[int, float]] = {}
        for prim in Usd.PrimRange(stage.GetPrimAtPath(WARDROBE)):
            if prim.IsA(UsdGeom.Mesh):
                points = authored_points(stage, str(prim.GetPath()))
                out[str(prim.GetPath())] = (len(points), float(points.sum()))
        return out

    basics = garments()
    vset = stage.GetPrimAtPath(TWIN).GetVariantSets().GetVariantSet("wardrobe")
    vset.SetVariantSelection("evening")
    evening = garments()
    assert set(basics) == LOOK_GARMENTS["studio_basics"]
    assert set(evening) == LOOK_GARMENTS["evening"]
    assert sorted(basics.values()) != sorted(evening.values())
    vset.SetVariantSelection("studio_basics")
    assert garments() == basics


# --------------------------------------------------------------------------- props


def test_apple_box_can_be_referenced() -> None:
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    prim = stage.DefinePrim("/World/AppleBox_1", "Xform")
    prim.GetReferences().AddReference(str(APPLE_BOX))
    assert not stage.GetCompositionErrors()
    box = stage.GetPrimAtPath("/World/AppleBox_1/Box")
    assert box.IsA(UsdGeom.Mesh)
    lo, hi = (np.array(v) for v in UsdGeom.Mesh(box).GetExtentAttr().Get())
    assert hi - lo == pytest.approx([0.508, 0.203, 0.305], abs=1e-3)
    wood = preview_surface(box)
    r, g, b = wood.GetInput("diffuseColor").Get()
    assert r > g > b
    assert Usd.ModelAPI(stage.GetPrimAtPath("/World/AppleBox_1")).GetKind() == "component"


# --------------------------------------------------------------------------- generators


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("regenerated")
    body = pt.build_body()
    pt.write_twin(body, out / "twin_default.usda")
    pt.write_wardrobe(body, out / "wardrobe_default.usda")
    build_cyclorama(out / "cyclorama.usda")
    yield out


@pytest.mark.parametrize("committed", [TWIN_ASSET, WARDROBE_ASSET, CYC_ASSET], ids=lambda p: p.name)
def test_generated_assets_are_up_to_date(regenerated: Path, committed: Path) -> None:
    fresh = (regenerated / committed.name).read_text(encoding="utf-8")
    assert fresh == committed.read_text(encoding="utf-8"), (
        f"{committed.relative_to(STAGES.parent)} is stale: regenerate with "
        "`python -m twinstudio.assets.procedural_twin stages/twin/twin_default.usda "
        "--wardrobe stages/twin/wardrobe_default.usda` / "
        "`python -m twinstudio.assets.sets stages/sets/cyclorama.usda`"
    )


def test_build_twin_cli_is_deterministic(tmp_path: Path) -> None:
    pt.build_twin(tmp_path / "a.usda")
    assert pt.main([str(tmp_path / "b.usda")]) == 0
    assert (tmp_path / "a.usda").read_bytes() == (tmp_path / "b.usda").read_bytes()
    assert (tmp_path / "a.usda").read_bytes() == TWIN_ASSET.read_bytes()


def test_shot_pose_matches_the_generator() -> None:
    """The Pose pasted into the shot is the generator's rest pose (re-paste after rig changes)."""
    generated = Usd.Stage.Open(Sdf.Layer.CreateAnonymous(".usda"))
    generated.GetRootLayer().ImportFromString(pt.pose_usda(pt.build_body()))
    fresh = UsdSkel.Animation(generated.GetPrimAtPath(POSE))
    stage = open_shot()
    shot = UsdSkel.Animation(stage.GetPrimAtPath(POSE))
    for name in ("joints", "rotations", "translations", "scales"):
        assert shot.GetPrim().GetAttribute(name).Get() == fresh.GetPrim().GetAttribute(name).Get()
