"""The default twin, built from the pinned MakeHuman/MPFB2 data (what ./dev setup fetched).

The build runs once per module into a temporary directory; the checks are UsdSkel's own
(bindings resolve, skinning queries work), the asset contract the shot and the pose
library rely on, and that rebuilding reproduces the assets committed in stages/twin/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pxr import Usd, UsdGeom, UsdShade, UsdSkel

from twinstudio.assets.mpfb.build import SKIN_TEXTURE, TWIN_FILE, WARDROBE_FILE, build_twin
from twinstudio.assets.mpfb.twin_usd import IDENTITY_KEY, PARAMS_KEY
from twinstudio.assets.mpfb.wheel import SOURCE

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "stages" / "twin"
SKINNED = ("/Twin/Body", "/Twin/Eyes", "/Twin/Irises", "/Twin/Hair")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin")
    build_twin(out)  # its speed is measured by bench/twin_build.py, not asserted here
    return out


@pytest.fixture(scope="module")
def twin(built: Path) -> Usd.Stage:
    return Usd.Stage.Open(str(built / TWIN_FILE))


def test_bindings_resolve_and_every_vertex_is_weighted(twin: Usd.Stage) -> None:
    root = UsdSkel.Root(twin.GetDefaultPrim())
    assert root and twin.GetDefaultPrim().GetPath() == "/Twin"
    cache = UsdSkel.Cache()
    cache.Populate(root, Usd.PrimDefaultPredicate)
    (binding,) = cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate)
    assert binding.GetSkeleton().GetPath() == "/Twin/Skel"
    skel_query = cache.GetSkelQuery(binding.GetSkeleton())
    assert skel_query
    n_joints = len(skel_query.GetJointOrder())
    targets = {str(q.GetPrim().GetPath()): q for q in binding.GetSkinningTargets()}
    assert set(targets) == set(SKINNED)
    xforms = skel_query.ComputeSkinningTransforms(Usd.TimeCode.Default())
    for path, query in targets.items():
        points = UsdGeom.Mesh(twin.GetPrimAtPath(path)).GetPointsAttr().Get()
        assert query.HasJointInfluences() and not query.IsRigidlyDeformed()
        assert query.GetNumInfluencesPerComponent() == 4
        idx, w = query.ComputeVaryingJointInfluences(len(points), Usd.TimeCode.Default())
        idx = np.asarray(idx).reshape(-1, 4)
        w = np.asarray(w, dtype=np.float64).reshape(-1, 4)
        assert len(w) == len(points)
        assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5), path
        assert (w.max(axis=1) > 0).all() and (w >= 0).all(), path
        assert ((idx >= 0) & (idx < n_joints)).all(), path
        out = type(points)(points)
        assert query.ComputeSkinnedPoints(xforms, out, Usd.TimeCode.Default())
        # At rest, skinning leaves the mesh where it is.
        assert np.allclose(np.asarray(out), np.asarray(points), atol=1e-4), path


def test_skeleton_is_the_mpfb_game_engine_rig(twin: Usd.Stage) -> None:
    skel = UsdSkel.Skeleton(twin.GetPrimAtPath("/Twin/Skel"))
    joints = [str(j) for j in skel.GetJointsAttr().Get()]
    assert len(joints) == 53
    ok, why = UsdSkel.Topology(joints).Validate()
    assert ok, why
    names = {j.rsplit("/", 1)[-1] for j in joints}
    for name in ("Root", "pelvis", "spine_03", "neck_01", "head", "upperarm_l", "hand_r",
                 "thigh_l", "calf_r", "foot_l", "ball_r", "thumb_03_l", "pinky_03_r"):  # fmt: skip
        assert name in names
    assert "Root/pelvis/spine_01/spine_02/spine_03/clavicle_l/upperarm_l" in joints
    assert len(skel.GetBindTransformsAttr().Get()) == len(skel.GetRestTransformsAttr().Get()) == 53
    assert "twinstudio:jointLimits" in skel.GetPrim().GetCustomData()


def _world(skel: UsdSkel.Skeleton) -> dict[str, np.ndarray]:
    joints = [str(j).rsplit("/", 1)[-1] for j in skel.GetJointsAttr().Get()]
    return {n: np.array(m) for n, m in zip(joints, skel.GetBindTransformsAttr().Get(), strict=True)}


def test_rest_pose_stands_on_the_floor_facing_plus_z(twin: Usd.Stage) -> None:
    body = np.asarray(UsdGeom.Mesh(twin.GetPrimAtPath("/Twin/Body")).GetPointsAttr().Get())
    lo, hi = body.min(axis=0), body.max(axis=0)
    height = float(hi[1] - lo[1])
    assert abs(lo[1]) < 0.002  # feet on y = 0
    assert 1.72 <= height <= 1.78  # metres
    assert abs(lo[0] + hi[0]) < 0.01  # centred on x = 0
    params = dict(twin.GetDefaultPrim().GetCustomData()[PARAMS_KEY])
    assert abs(params["height_m"] - height) < 0.002
    world = _world(UsdSkel.Skeleton(twin.GetPrimAtPath("/Twin/Skel")))
    eyes = np.asarray(UsdGeom.Mesh(twin.GetPrimAtPath("/Twin/Irises")).GetPointsAttr().Get())
    assert eyes[:, 2].mean() > world["head"][3, 2] + 0.05  # the face looks down +Z
    assert world["upperarm_l"][3, 0] > 0.1 > -0.1 > world["upperarm_r"][3, 0]  # left on +X


def test_joint_frames_run_along_the_bones(twin: Usd.Stage) -> None:
    """Blender's convention, Y up: each bone's +Y points from its head to its child's."""
    world = _world(UsdSkel.Skeleton(twin.GetPrimAtPath("/Twin/Skel")))
    chains = [("spine_01", "spine_02"), ("upperarm_l", "lowerarm_l"), ("lowerarm_r", "hand_r"),
              ("thigh_l", "calf_l"), ("calf_r", "foot_r"), ("neck_01", "head")]  # fmt: skip
    for bone, child in chains:
        m = world[bone]
        assert np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-5)  # orthonormal
        along = m[3, :3] - world[child][3, :3]
        along = -along / np.linalg.norm(along)
        assert float(np.dot(m[1, :3], along)) > 0.999, bone
    # The rest pose is MakeHuman's: arms out and down (an A-pose), not hanging, not level.
    arm = world["upperarm_l"][1, :3]
    assert 30.0 < np.degrees(np.arcsin(-arm[1])) < 60.0


def test_identity_is_locked_and_recorded(twin: Usd.Stage) -> None:
    prim = twin.GetDefaultPrim()
    data = prim.GetCustomData()
    assert data[IDENTITY_KEY] == "locked"
    assert Usd.ModelAPI(prim).GetKind() == "component"
    params = dict(data[PARAMS_KEY])
    for macro in ("gender", "age", "muscle", "weight", "height", "proportions", "cupsize",
                  "firmness", "african", "asian", "caucasian"):  # fmt: skip
        assert 0.0 <= params[macro] <= 1.0, macro
    assert params["source"] == SOURCE and "CC0" in SOURCE
    assert dict(twin.GetRootLayer().customLayerData[PARAMS_KEY]) == params


def test_skin_is_a_textured_preview_surface(built: Path, twin: Usd.Stage) -> None:
    body = twin.GetPrimAtPath("/Twin/Body")
    material, _ = UsdShade.MaterialBindingAPI(body).ComputeBoundMaterial()
    assert material.GetPath() == "/Twin/Materials/Skin"
    shader = UsdShade.Shader(twin.GetPrimAtPath("/Twin/Materials/Skin/Surface"))
    assert shader.GetIdAttr().Get() == "UsdPreviewSurface"
    assert UsdGeom.PrimvarsAPI(body).GetPrimvar("st").IsDefined()
    colour = np.asarray(shader.GetInput("diffuseColor").GetAttr().Get())
    assert colour[0] > colour[1] > colour[2] and colour[0] < 0.75  # skin, not orange or white
    texture = np.asarray(Image.open(built / SKIN_TEXTURE).convert("RGB"), dtype=np.float64)
    lips_or_brows = np.abs(texture - np.median(texture.reshape(-1, 3), axis=0)).sum(axis=2) > 60
    assert 100 < lips_or_brows.sum() < 0.02 * lips_or_brows.size  # painted, sparingly


def _meshes(stage: Usd.Stage) -> dict[str, UsdGeom.Mesh]:
    return {str(p.GetPath()): UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)}


@pytest.mark.parametrize("name", [TWIN_FILE, WARDROBE_FILE])
def test_rebuild_matches_the_committed_assets(built: Path, name: str) -> None:
    """The shipped twin and wardrobe are what the builder makes from the pinned wheel."""
    new, old = Usd.Stage.Open(str(built / name)), Usd.Stage.Open(str(COMMITTED / name))
    new_meshes, old_meshes = _meshes(new), _meshes(old)
    assert new_meshes.keys() == old_meshes.keys()
    for path, mesh in new_meshes.items():
        before = old_meshes[path]
        for attr in ("GetFaceVertexCountsAttr", "GetFaceVertexIndicesAttr"):
            assert list(getattr(mesh, attr)().Get()) == list(getattr(before, attr)().Get()), path
        a = np.asarray(mesh.GetPointsAttr().Get())
        b = np.asarray(before.GetPointsAttr().Get())
        assert a.shape == b.shape and np.allclose(a, b, atol=1e-5), path
        new_skin, old_skin = UsdSkel.BindingAPI(mesh), UsdSkel.BindingAPI(before)
        for primvar in ("GetJointIndicesPrimvar", "GetJointWeightsPrimvar"):
            x = np.asarray(getattr(new_skin, primvar)().Get())
            y = np.asarray(getattr(old_skin, primvar)().Get())
            assert x.shape == y.shape and np.allclose(x, y, atol=1e-5), (path, primvar)
    if name == TWIN_FILE:
        skel_new = UsdSkel.Skeleton(new.GetPrimAtPath("/Twin/Skel"))
        skel_old = UsdSkel.Skeleton(old.GetPrimAtPath("/Twin/Skel"))
        assert list(skel_new.GetJointsAttr().Get()) == list(skel_old.GetJointsAttr().Get())
        for attr in ("GetBindTransformsAttr", "GetRestTransformsAttr"):
            x = np.asarray(getattr(skel_new, attr)().Get())
            y = np.asarray(getattr(skel_old, attr)().Get())
            assert np.allclose(x, y, atol=1e-6), attr
        assert dict(new.GetDefaultPrim().GetCustomData()[PARAMS_KEY]) == dict(
            old.GetDefaultPrim().GetCustomData()[PARAMS_KEY]
        )
        texture = np.asarray(Image.open(built / SKIN_TEXTURE))
        assert np.array_equal(texture, np.asarray(Image.open(COMMITTED / SKIN_TEXTURE)))
