"""The pose library: generated from its tables, complete, within the limits, and on its feet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pxr import Usd, UsdGeom, UsdSkel

from assets.real_twin import TWIN, skeleton_of
from conftest import STAGES
from twinstudio.assets.joint_limits import SkeletonLimits
from twinstudio.assets.poses import (
    Body,
    Local,
    PoseSpec,
    Skeleton,
    build_library,
    compile_pose,
    mirror,
)

LIBRARY = STAGES / "twin" / "poses.usda"
SHOT = STAGES / "default_shot.usda"
REQUIRED = {"a_pose", "relaxed", "contrapposto", "hand_on_hip", "walking", "leaning"}


@pytest.fixture(scope="module")
def library() -> Usd.Stage:
    return Usd.Stage.Open(str(LIBRARY))


@pytest.fixture(scope="module")
def twin() -> Usd.Stage:
    return Usd.Stage.Open(str(TWIN))


def test_the_library_is_up_to_date(tmp_path: Path) -> None:
    build_library(TWIN, tmp_path / "poses.usda")
    assert (tmp_path / "poses.usda").read_text() == LIBRARY.read_text(), (
        "stages/twin/poses.usda is stale: regenerate it with "
        "`python -m twinstudio.assets.poses stages/twin/twin.usdc stages/twin/poses.usda`"
    )


def test_every_pose_is_complete_and_documented(library: Usd.Stage, twin: Usd.Stage) -> None:
    skel = skeleton_of(twin)
    tokens = list(skel.GetJointsAttr().Get())
    rest_t, _, _ = UsdSkel.DecomposeTransforms(skel.GetRestTransformsAttr().Get())
    anims = [UsdSkel.Animation(p) for p in library.GetDefaultPrim().GetChildren()]
    assert {a.GetPrim().GetName() for a in anims} >= REQUIRED
    for anim in anims:
        prim = anim.GetPrim()
        assert list(anim.GetJointsAttr().Get()) == tokens
        assert len(anim.GetRotationsAttr().Get()) == len(tokens)
        assert np.allclose(np.array(anim.GetTranslationsAttr().Get()), np.array(rest_t), atol=1e-6)
        assert all(tuple(s) == (1, 1, 1) for s in anim.GetScalesAttr().Get())
        assert prim.GetMetadata("displayName") and len(prim.GetMetadata("documentation")) > 30


def test_every_pose_keeps_within_the_joint_limits(library: Usd.Stage, twin: Usd.Stage) -> None:
    limits = SkeletonLimits.of(skeleton_of(twin))
    assert limits is not None and len(limits.limits) == 53
    for anim in (UsdSkel.Animation(p) for p in library.GetDefaultPrim().GetChildren()):
        rotations = {
            str(t): (q.GetReal(), *q.GetImaginary())
            for t, q in zip(anim.GetJointsAttr().Get(), anim.GetRotationsAttr().Get(), strict=True)
        }
        assert limits.check(rotations) is None, anim.GetPrim().GetName()


def test_an_unknown_joint_is_named(twin: Usd.Stage) -> None:
    with pytest.raises(KeyError, match="L_UpperArm"):
        compile_pose(
            PoseSpec("x", "x", "x", {"L_UpperArm": Local(10)}), Skeleton.of(skeleton_of(twin))
        )


def test_mirror_flips_the_side_and_the_y_z_angles() -> None:
    assert mirror({"thigh_l": Body(-10, 4, 2), "head": Local(5)}) == {"thigh_r": Body(-10, -4, -2)}


# -- posed on the default shot --------------------------------------------------------------


def posed_points(stage: Usd.Stage, rotations: object) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Skinned body points and joint positions (world) with the shot's Pose set to ``rotations``."""
    anim = UsdSkel.Animation(stage.GetPrimAtPath("/Studio/Twin/Pose"))
    anim.GetRotationsAttr().Set(rotations)
    cache = UsdSkel.Cache()
    root = UsdSkel.Root(stage.GetPrimAtPath("/Studio/Twin"))
    cache.Populate(root, Usd.PrimDefaultPredicate)
    query = cache.GetSkelQuery(skeleton_of(stage))
    body = stage.GetPrimAtPath("/Studio/Twin/Body")
    points = UsdGeom.Mesh(body).GetPointsAttr().Get()
    assert cache.GetSkinningQuery(body).ComputeSkinnedPoints(
        query.ComputeSkinningTransforms(Usd.TimeCode.Default()), points
    )
    joints = query.ComputeJointWorldTransforms(UsdGeom.XformCache())
    names = [str(t).rsplit("/", 1)[-1] for t in query.GetJointOrder()]
    return np.array(points), {
        n: np.array(m.ExtractTranslation()) for n, m in zip(names, joints, strict=True)
    }


@pytest.fixture(scope="module")
def posed(library: Usd.Stage) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    stage = Usd.Stage.Open(str(SHOT))
    stage.SetEditTarget(stage.GetSessionLayer())
    rest = skeleton_of(stage).GetRestTransformsAttr().Get()
    _, rest_rotations, _ = UsdSkel.DecomposeTransforms(rest)
    out = {"rest": posed_points(stage, rest_rotations)}
    for prim in library.GetDefaultPrim().GetChildren():
        out[prim.GetName()] = posed_points(stage, UsdSkel.Animation(prim).GetRotationsAttr().Get())
    return out


def test_each_pose_moves_the_body_and_no_two_are_alike(
    posed: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]],
) -> None:
    names = sorted(posed)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            moved = np.linalg.norm(posed[a][0] - posed[b][0], axis=1)
            assert moved.max() > 0.05, f"{a} and {b} look the same"


def test_standing_poses_keep_the_feet_on_the_floor(
    posed: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]],
) -> None:
    for name, (points, _) in posed.items():
        lowest = points[:, 1].min()
        assert -0.012 < lowest < 0.008, f"{name}: the lowest point is at {lowest:+.3f} m"
        assert points[:, 1].max() > 1.7, f"{name}: the twin should stand tall"


def test_symmetric_poses_are_mirror_images(
    posed: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]],
) -> None:
    for name in ("rest", "a_pose", "relaxed"):
        joints = posed[name][1]
        for joint, p in joints.items():
            if joint.endswith("_l"):
                q = joints[joint[:-2] + "_r"]
                assert np.allclose(p * [-1, 1, 1], q, atol=0.003), (name, joint, p, q)


def test_the_poses_do_what_their_names_say(
    posed: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]],
) -> None:
    def j(pose: str, name: str) -> np.ndarray:
        return posed[pose][1][name]

    # A-pose: straight arms about 45° down; relaxed: hands hang at the thighs.
    arm = j("a_pose", "hand_l") - j("a_pose", "upperarm_l")
    assert 35 < np.degrees(np.arctan2(-arm[1], arm[0])) < 55
    assert j("relaxed", "hand_l")[1] < 0.95 and abs(j("relaxed", "hand_l")[0]) < 0.3
    # Hand on hip: the left wrist at the waist, the elbow out to the side.
    wrist, elbow = j("hand_on_hip", "hand_l"), j("hand_on_hip", "lowerarm_l")
    assert 0.95 < wrist[1] < 1.15 and wrist[0] < 0.25 and elbow[0] > wrist[0] + 0.1
    # Walking: the left foot leads, the right pushes off behind.
    assert j("walking", "foot_l")[2] - j("walking", "foot_r")[2] > 0.25
    # Contrapposto and leaning: the left knee is bent, the right leg straight.
    for pose in ("contrapposto", "leaning"):
        assert j(pose, "calf_l")[2] > j("rest", "calf_l")[2] + 0.02
    # Leaning: the left foot crosses in front of the right.
    assert j("leaning", "ball_l")[0] < j("leaning", "ball_r")[0] + 0.05
