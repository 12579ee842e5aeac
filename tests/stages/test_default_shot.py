"""The committed default shot: the MPFB2 twin posed and dressed, on a switchable set, lit, framed.

Everything here opens the real layers under ``stages/`` with real USD. Structural checks run on
the usda shot and on a flattened usdc export of it; edits (posing, variant switches) go to a
fresh stage's session layer so the shared root layers are never dirtied. The twin and wardrobe
assets themselves are tested in tests/assets/.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pxr import Gf, Sdf, Usd, UsdGeom, UsdLux, UsdShade, UsdSkel, UsdValidation

from twinstudio.assets.sets import BACKDROP_KEY

STAGES = Path(__file__).resolve().parents[2] / "stages"
SHOT = STAGES / "default_shot.usda"
TEXT_LAYERS = [
    SHOT,
    STAGES / "twin" / "poses.usda",
    STAGES / "sets" / "cyclorama.usda",
    STAGES / "sets" / "paper.usda",
    STAGES / "sets" / "loft.usda",
    STAGES / "props" / "apple_box.usda",
]

TWIN = "/Studio/Twin"
SKEL = "/Studio/Twin/Skel"
POSE = "/Studio/Twin/Pose"
BODY = "/Studio/Twin/Body"
WARDROBE = "/Studio/Twin/Wardrobe"
XFORM_STACK = ["xformOp:translate", "xformOp:rotateXYZ", "xformOp:scale"]
DEFAULT = Usd.TimeCode.Default()
# look variant -> the wardrobe look it references (and colourway overrides on top)
LOOKS = {
    "studio_basics": "StudioBasics",
    "monochrome": "StudioBasics",
    "evening": "Evening",
    "evening_emerald": "Evening",
    "summer": "Summer",
    "tailored": "Tailored",
}
SETS = {"infinity_cove": "Cyclorama", "paper": "Paper", "loft": "Loft"}


# --------------------------------------------------------------------------- helpers


def open_shot() -> Any:
    """A fresh stage on the committed shot (its own session layer as edit target)."""
    stage = Usd.Stage.Open(str(SHOT), Usd.Stage.LoadAll)
    stage.SetEditTarget(stage.GetSessionLayer())
    return stage


def select(stage: Any, path: str, variant_set: str, choice: str) -> None:
    stage.GetPrimAtPath(path).GetVariantSets().GetVariantSet(variant_set).SetVariantSelection(
        choice
    )


def skin_bindings(stage: Any) -> tuple[Any, list[Any]]:
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
        xforms = cache.GetSkelQuery(binding.GetSkeleton()).ComputeSkinningTransforms(DEFAULT)
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


def posed_joints(stage: Any) -> dict[str, Gf.Vec3d]:
    """World positions of the joints in the shot's pose, by leaf name."""
    cache, _ = skin_bindings(stage)
    query = cache.GetSkelQuery(UsdSkel.Skeleton(stage.GetPrimAtPath(SKEL)))
    world = query.ComputeJointWorldTransforms(UsdGeom.XformCache(DEFAULT))
    names = [str(t).rsplit("/", 1)[-1] for t in query.GetJointOrder()]
    return {n: m.ExtractTranslation() for n, m in zip(names, world, strict=True)}


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


def preview_surface(prim: Any) -> Any:
    material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
    assert material, f"{prim.GetPath()} has no bound material"
    shader = material.ComputeSurfaceSource()[0]
    assert shader.GetIdAttr().Get() == "UsdPreviewSurface"
    return shader


def garments(stage: Any) -> dict[str, Any]:
    return {
        str(p.GetPath()): p
        for p in Usd.PrimRange(stage.GetPrimAtPath(WARDROBE))
        if p.IsA(UsdGeom.Mesh)
    }


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


# --------------------------------------------------------------------------- layers


@pytest.mark.parametrize("layer_path", TEXT_LAYERS, ids=lambda p: p.name)
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


@pytest.mark.parametrize("look", sorted(LOOKS))
def test_the_shot_passes_usd_validation(look: str) -> None:
    registry = UsdValidation.ValidationRegistry()
    context = UsdValidation.ValidationContext(registry.GetOrLoadAllValidators())
    stage = open_shot()
    select(stage, TWIN, "wardrobe", look)
    select(stage, "/Studio/Set", "set", "paper" if look == "summer" else "infinity_cove")
    errors = [f"{e.GetName()}: {e.GetMessage()}" for e in context.Validate(stage)]
    assert errors == []
    assert not stage.GetRootLayer().dirty


def test_shot_references_the_library_assets() -> None:
    stage = open_shot()
    deps = set(stage.GetRootLayer().GetCompositionAssetDependencies())
    assert deps == {
        "./twin/twin.usdc",
        "./twin/wardrobe.usdc",
        "./twin/poses.usda",
        "./sets/cyclorama.usda",
        "./sets/paper.usda",
        "./sets/loft.usda",
    }
    refs = stage.GetPrimAtPath(TWIN).GetMetadata("references").GetAddedOrExplicitItems()
    assert [r.assetPath for r in refs] == ["./twin/twin.usdc"]
    assert not {"twin_default.usda", "wardrobe_default.usda"} & {
        p.name for p in (STAGES / "twin").iterdir()
    }


# --------------------------------------------------------------------------- structure


def test_shot_opens_cleanly(shot: Any) -> None:
    assert shot.GetCompositionErrors() == []
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
        (f"{TWIN}/Poses/relaxed", UsdSkel.Animation),
        (BODY, UsdGeom.Mesh),
        (WARDROBE, UsdGeom.Xform),
        (f"{WARDROBE}/Tee", UsdGeom.Mesh),
        (f"{WARDROBE}/Trousers", UsdGeom.Mesh),
        ("/Studio/Set", UsdGeom.Xform),
        ("/Studio/Set/Cyclorama/Cove", UsdGeom.Mesh),
        ("/Studio/Lights/Key", UsdLux.RectLight),
        ("/Studio/Lights/Fill", UsdLux.RectLight),
        ("/Studio/Lights/Rim", UsdLux.SphereLight),
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
    assert list(UsdGeom.Xformable(twin).GetXformOpOrderAttr().Get()) == XFORM_STACK
    assert "MakeHuman" in twin.GetMetadata("documentation")
    assert Usd.ModelAPI(twin).GetKind() == "component"
    lo, hi = (
        np.array(v)
        for v in (authored_points(shot, BODY).min(0), authored_points(shot, BODY).max(0))
    )
    assert 1.5 < hi[1] - lo[1] < 2.0 and abs(lo[1]) < 0.01  # standing on the floor


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
    assert list(UsdGeom.Xformable(prim).GetXformOpOrderAttr().Get()) == XFORM_STACK


def test_three_point_layout(shot: Any) -> None:
    key = UsdLux.RectLight(shot.GetPrimAtPath("/Studio/Lights/Key"))
    fill = UsdLux.RectLight(shot.GetPrimAtPath("/Studio/Lights/Fill"))
    assert fill.GetIntensityAttr().Get() < key.GetIntensityAttr().Get()
    assert fill.GetWidthAttr().Get() * fill.GetHeightAttr().Get() > 1.08
    rim = shot.GetPrimAtPath("/Studio/Lights/Rim")
    assert rim.HasAPI(UsdLux.ShapingAPI)
    assert 0 < UsdLux.ShapingAPI(rim).GetShapingConeAngleAttr().Get() < 90

    joints = posed_joints(shot)
    chest, head = np.array(joints["spine_03"]), np.array(joints["head"])
    key_pos, key_dir = light_axis(shot, "/Studio/Lights/Key")
    fill_pos, fill_dir = light_axis(shot, "/Studio/Lights/Fill")
    rim_pos, rim_dir = light_axis(shot, "/Studio/Lights/Rim")
    # Key: camera-left (-X), in front (+Z), ~45 degrees around, above the head.
    assert key_pos[0] < 0 < key_pos[2]
    assert math.degrees(math.atan2(-key_pos[0], key_pos[2])) == pytest.approx(45, abs=8)
    assert key_pos[1] > head[1] + 0.2
    assert fill_pos[0] > 0 and fill_pos[2] > 0
    assert rim_pos[2] < 0 and rim_pos[1] > head[1]
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


def test_camera_attributes_and_focus(shot: Any) -> None:
    hero = UsdGeom.Camera(shot.GetPrimAtPath("/Studio/Cameras/Hero"))
    assert hero.GetFocalLengthAttr().Get() == pytest.approx(50)
    assert hero.GetFStopAttr().Get() == pytest.approx(4)
    assert tuple(hero.GetClippingRangeAttr().Get()) == pytest.approx((0.1, 100))
    assert list(hero.GetXformOpOrderAttr().Get()) == XFORM_STACK
    position = world_position(shot, "/Studio/Cameras/Hero")
    chest = posed_joints(shot)["spine_03"]
    assert hero.GetFocusDistanceAttr().Get() == pytest.approx(
        (chest - position).GetLength(), abs=0.03
    )
    detail = UsdGeom.Camera(shot.GetPrimAtPath("/Studio/Cameras/Detail"))
    assert detail.GetFocalLengthAttr().Get() == pytest.approx(85)
    eyes = np.array(authored_points(shot, f"{TWIN}/Eyes")).mean(axis=0)
    detail_pos = np.array(world_position(shot, "/Studio/Cameras/Detail"))
    assert detail.GetFocusDistanceAttr().Get() == pytest.approx(
        np.linalg.norm(eyes - detail_pos), abs=0.03
    )


@pytest.mark.parametrize("pose", ["relaxed", "a_pose", "walking", "hand_on_hip"])
def test_hero_frames_the_whole_twin_in_every_pose(pose: str) -> None:
    stage = open_shot()
    rotations = UsdSkel.Animation(stage.GetPrimAtPath(f"{TWIN}/Poses/{pose}")).GetRotationsAttr()
    UsdSkel.Animation(stage.GetPrimAtPath(POSE)).GetRotationsAttr().Set(rotations.Get())
    points = np.concatenate(list(skinned_points(stage).values()))
    hero = UsdGeom.Camera(stage.GetPrimAtPath("/Studio/Cameras/Hero"))
    ndc = to_ndc(hero, [Gf.Vec3d(*p) for p in points[:: max(1, len(points) // 4000)]])
    assert np.all(np.abs(ndc[:, :2]) < 0.95), pose
    assert (ndc[:, 1].max() - ndc[:, 1].min()) / 2 >= 0.5  # the figure fills the frame's height


def test_detail_frames_head_and_shoulders(shot: Any) -> None:
    joints = posed_joints(shot)
    detail = UsdGeom.Camera(shot.GetPrimAtPath("/Studio/Cameras/Detail"))
    top_of_head = joints["head"] + Gf.Vec3d(0, 0.16, 0)
    inside = to_ndc(
        detail, [joints["spine_03"], joints["neck_01"], joints["clavicle_l"], top_of_head]
    )
    assert np.all(np.abs(inside[:, :2]) < 1.0)
    outside = to_ndc(detail, [joints["foot_l"], joints["calf_r"]])
    assert np.all(outside[:, 1] < -1.0)


# --------------------------------------------------------------------------- sets


def test_the_set_is_a_variant_set_with_a_marked_backdrop() -> None:
    stage = open_shot()
    vset = stage.GetPrimAtPath("/Studio/Set").GetVariantSets().GetVariantSet("set")
    assert (
        set(vset.GetVariantNames()) == set(SETS) and vset.GetVariantSelection() == "infinity_cove"
    )
    for choice, prim_name in SETS.items():
        vset.SetVariantSelection(choice)
        assert not stage.GetCompositionErrors()
        children = [c.GetName() for c in stage.GetPrimAtPath("/Studio/Set").GetChildren()]
        assert children == [prim_name], choice
        root = stage.GetPrimAtPath(f"/Studio/Set/{prim_name}")
        marker = root.GetCustomData().get(BACKDROP_KEY)
        if choice == "loft":
            assert marker is None and stage.GetPrimAtPath("/Studio/Set/Loft/Sun").IsA(
                UsdLux.DistantLight
            )
            continue
        shader = UsdShade.Shader(root.GetPrimAtPath(marker))
        assert shader.GetInput("diffuseColor").Get() is not None, choice
    assert not stage.GetRootLayer().dirty


def test_the_cove_is_a_light_grey_infinity_cove(shot: Any) -> None:
    cove = shot.GetPrimAtPath("/Studio/Set/Cyclorama/Cove")
    lo, hi = (np.array(v) for v in UsdGeom.Mesh(cove).GetExtentAttr().Get())
    assert hi - lo == pytest.approx([8.0, 4.0, 6.0], abs=0.01)
    colour = preview_surface(cove).GetInput("diffuseColor").Get()
    assert min(colour) > 0.6 and max(colour) - min(colour) < 0.02
    assert lo[2] < -1.5 and hi[2] > 3.0  # the twin stands on the floor, in front of the wall


# --------------------------------------------------------------------------- UsdSkel


def test_the_pose_starts_relaxed_on_the_twins_skeleton(shot: Any) -> None:
    skel = UsdSkel.Skeleton(shot.GetPrimAtPath(SKEL))
    joints = list(skel.GetJointsAttr().Get())
    assert len(joints) == 53 and joints[0] == "Root"
    anim = UsdSkel.Animation(shot.GetPrimAtPath(POSE))
    assert list(anim.GetJointsAttr().Get()) == joints
    relaxed = UsdSkel.Animation(shot.GetPrimAtPath(f"{TWIN}/Poses/relaxed"))
    assert anim.GetRotationsAttr().Get() == relaxed.GetRotationsAttr().Get()
    assert anim.GetRotationsAttr().GetTypeName() == Sdf.ValueTypeNames.QuatfArray
    rest_t, _, _ = UsdSkel.DecomposeTransforms(skel.GetRestTransformsAttr().Get())
    assert np.allclose(np.array(anim.GetTranslationsAttr().Get()), np.array(rest_t), atol=1e-6)
    assert UsdSkel.BindingAPI(shot.GetPrimAtPath(SKEL)).GetAnimationSource().GetPath() == Sdf.Path(
        POSE
    )
    cache, bindings = skin_bindings(shot)
    assert len(bindings) == 1
    query = cache.GetSkelQuery(bindings[0].GetSkeleton())
    assert query.GetAnimQuery().GetPrim().GetPath() == Sdf.Path(POSE)
    targets = {str(t.GetPrim().GetPath()) for t in bindings[0].GetSkinningTargets()}
    assert {BODY, f"{WARDROBE}/Tee", f"{WARDROBE}/Trousers"} <= targets


def test_the_rest_pose_skins_to_the_authored_points() -> None:
    stage = open_shot()
    skel = UsdSkel.Skeleton(stage.GetPrimAtPath(SKEL))
    _, rest, _ = UsdSkel.DecomposeTransforms(skel.GetRestTransformsAttr().Get())
    UsdSkel.Animation(stage.GetPrimAtPath(POSE)).GetRotationsAttr().Set(rest)
    for path, skinned in skinned_points(stage).items():
        assert np.max(np.abs(skinned - authored_points(stage, path))) < 2e-4, path


def test_posing_one_joint_moves_the_arm_and_its_sleeve_only() -> None:
    stage = open_shot()
    before = skinned_points(stage)
    anim = UsdSkel.Animation(stage.GetPrimAtPath(POSE))
    tokens = [str(t) for t in anim.GetJointsAttr().Get()]
    rotations = list(anim.GetRotationsAttr().Get())
    i = next(i for i, t in enumerate(tokens) if t.endswith("/upperarm_l"))
    rotations[i] = rotations[i] * Gf.Quatf(Gf.Rotation(Gf.Vec3d.ZAxis(), 60).GetQuat())  # arm up
    anim.GetRotationsAttr().Set(rotations)
    assert not stage.GetRootLayer().dirty  # the edit went to the session layer
    after = skinned_points(stage)
    moved = np.linalg.norm(after[BODY] - before[BODY], axis=1)
    assert moved.max() > 0.2  # the hand swings up
    right = before[BODY][:, 0] < -0.15
    assert np.max(moved[right]) < 1e-3  # the right arm does not move
    tee = f"{WARDROBE}/Tee"
    sleeve = np.linalg.norm(after[tee] - before[tee], axis=1)
    assert sleeve.max() > 0.02  # the left sleeve follows
    trousers = f"{WARDROBE}/Trousers"
    assert np.max(np.abs(after[trousers] - before[trousers])) < 1e-5


# --------------------------------------------------------------------------- wardrobe


def test_the_wardrobe_variant_set_holds_every_look() -> None:
    stage = open_shot()
    vset = stage.GetPrimAtPath(TWIN).GetVariantSets().GetVariantSet("wardrobe")
    assert set(vset.GetVariantNames()) == set(LOOKS)
    assert vset.GetVariantSelection() == "studio_basics"
    built = Usd.Stage.Open(str(STAGES / "twin" / "wardrobe.usdc"))
    assert {c.GetName() for c in built.GetDefaultPrim().GetChildren()} == set(LOOKS.values())


@pytest.mark.parametrize("look", sorted(LOOKS))
def test_each_look_is_skinned_dressed_and_different(look: str) -> None:
    stage = open_shot()
    base = {
        p: preview_surface(prim).GetInput("diffuseColor").Get()
        for p, prim in garments(stage).items()
    }
    base_points = {p: authored_points(stage, p) for p in garments(stage)}
    select(stage, TWIN, "wardrobe", look)
    assert not stage.GetCompositionErrors()
    worn = garments(stage)
    assert len(worn) >= 2
    _, bindings = skin_bindings(stage)
    targets = {str(t.GetPrim().GetPath()) for t in bindings[0].GetSkinningTargets()}
    assert set(worn) <= targets
    for prim in worn.values():
        fabric = preview_surface(prim)
        assert 0.3 <= fabric.GetInput("roughness").Get() <= 1.0
    colours = {p: preview_surface(prim).GetInput("diffuseColor").Get() for p, prim in worn.items()}
    points = {p: authored_points(stage, p) for p in worn}
    if look == "studio_basics":
        assert colours == base
    elif LOOKS[look] == "StudioBasics":  # a colourway: the same garments, recoloured
        assert points.keys() == base_points.keys() and colours != base
    else:  # another look: other garments
        assert set(points) != set(base_points) or any(
            len(points[p]) != len(base_points[p]) for p in points
        )


def test_colourways_override_the_look_in_the_shot() -> None:
    stage = open_shot()
    select(stage, TWIN, "wardrobe", "evening")
    dress = preview_surface(stage.GetPrimAtPath(f"{WARDROBE}/Dress")).GetInput("diffuseColor").Get()
    select(stage, TWIN, "wardrobe", "evening_emerald")
    emerald = (
        preview_surface(stage.GetPrimAtPath(f"{WARDROBE}/Dress")).GetInput("diffuseColor").Get()
    )
    assert emerald[1] > emerald[0] and dress[0] > dress[1]
    layer = Sdf.Layer.FindOrOpen(str(SHOT))
    spec = layer.GetPrimAtPath(TWIN).variantSets["wardrobe"].variants["evening_emerald"]
    assert spec.primSpec.GetPrimAtPath("Wardrobe/Materials/DressFabric/Surface") is not None
