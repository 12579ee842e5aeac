"""Joint limits: the Euler convention, the table's anatomy on the real rig, storage, messages."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from pxr import Gf, Usd, UsdSkel, Vt

from assets.real_twin import TWIN, skeleton_of
from twinstudio.assets.joint_limits import (
    GAME_ENGINE_LIMITS,
    LIMITS_KEY,
    JointLimit,
    SkeletonLimits,
    author_limits,
    check_joint,
    euler_offset,
    from_euler_offset,
    read_limits,
    rest_rotations,
)


def gf_quat(q: tuple[float, float, float, float]) -> Gf.Quatd:
    return Gf.Quatd(q[0], Gf.Vec3d(q[1], q[2], q[3]))


def test_euler_offsets_round_trip_and_match_usd_rotations() -> None:
    rng = random.Random(5)
    for _ in range(200):
        rest_gf = Gf.Quatd(rng.uniform(-1, 1), *(rng.uniform(-1, 1) for _ in range(3)))
        rest_gf = rest_gf.GetNormalized()
        rest = (rest_gf.GetReal(), *rest_gf.GetImaginary())
        x, y, z = rng.uniform(-170, 170), rng.uniform(-170, 170), rng.uniform(-85, 85)
        q = from_euler_offset(rest, x, y, z)
        assert euler_offset(rest, q) == pytest.approx((x, y, z), abs=1e-6)
        # Independently: rest · Rx · Rz · Ry with USD's own rotations (vectors rotate the same).
        offset = (
            Gf.Rotation(Gf.Vec3d.XAxis(), x).GetQuat()
            * Gf.Rotation(Gf.Vec3d.ZAxis(), z).GetQuat()
            * Gf.Rotation(Gf.Vec3d.YAxis(), y).GetQuat()
        )
        v = Gf.Vec3d(0.3, -0.5, 0.8)
        expected = Gf.Rotation(rest_gf * offset).TransformDir(v)
        assert Gf.Rotation(gf_quat(q)).TransformDir(v) == pytest.approx(expected, abs=1e-9)


def test_the_table_covers_the_rig_and_mirrors_left_to_right() -> None:
    assert len(GAME_ENGINE_LIMITS) == 53
    for name, limit in GAME_ENGINE_LIMITS.items():
        for axis in "xyz":
            lo, hi = limit.get(axis)
            assert lo <= 0.0 <= hi, f"{name} {axis}: the rest pose must be allowed"
        if name.endswith("_l"):
            right = GAME_ENGINE_LIMITS[name[:-2] + "_r"]
            assert right == JointLimit(
                limit.x, (-limit.y[1], -limit.y[0]), (-limit.z[1], -limit.z[0])
            )
    knee = GAME_ENGINE_LIMITS["calf_l"]
    assert knee.x[1] >= 120 and knee.x[0] >= -10 and knee.z[1] - knee.z[0] <= 15  # a hinge


def test_a_knee_bent_backwards_is_the_wrong_way() -> None:
    rest = (1.0, 0.0, 0.0, 0.0)
    knee = GAME_ENGINE_LIMITS["calf_l"]
    assert check_joint("calf_l", knee, rest, from_euler_offset(rest, 90, 0, 0)) is None
    message = check_joint("calf_l", knee, rest, from_euler_offset(rest, -40, 0, 0))
    assert message == (
        "calf_l bends 40° the wrong way: X must stay within -8°…145° of the rest pose"
    )
    message = check_joint(
        "head", GAME_ENGINE_LIMITS["head"], rest, from_euler_offset(rest, 0, 60, 0)
    )
    assert message is not None and message.startswith("head twists +60° about Y, too far")


@pytest.mark.parametrize("fmt", ["usda", "usdc"])
def test_limits_are_stored_on_the_skeleton(tmp_path: Path, fmt: str) -> None:
    stage = Usd.Stage.CreateNew(str(tmp_path / f"skel.{fmt}"))
    skel = UsdSkel.Skeleton.Define(stage, "/Rig/Skel")
    skel.CreateJointsAttr(Vt.TokenArray(["Root", "Root/calf_l", "Root/tail"]))
    skel.CreateRestTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)] * 3))
    skel.GetPrim().SetCustomData({"keep": "me"})
    author_limits(skel)
    stage.Save()
    reopened = Usd.Stage.Open(str(tmp_path / f"skel.{fmt}"))
    prim = reopened.GetPrimAtPath("/Rig/Skel")
    assert prim.GetCustomData()["keep"] == "me"
    stored = read_limits(prim)
    assert set(stored) == {"Root", "calf_l"}  # "tail" is not in the table: free
    assert stored["calf_l"] == GAME_ENGINE_LIMITS["calf_l"]
    limits = SkeletonLimits.of(UsdSkel.Skeleton(prim))
    assert limits is not None
    backwards = from_euler_offset((1, 0, 0, 0), -30, 0, 0)
    assert limits.check({"Root/tail": backwards}) is None
    assert "calf_l" in (limits.check({"Root/calf_l": backwards}) or "")


def test_a_skeleton_without_limits_is_not_limited() -> None:
    stage = Usd.Stage.CreateInMemory()
    skel = UsdSkel.Skeleton.Define(stage, "/Brand/Skel")
    skel.CreateJointsAttr(Vt.TokenArray(["hips"]))
    assert read_limits(skel.GetPrim()) == {}
    assert SkeletonLimits.of(skel) is None


# -- the table on the real rig ----------------------------------------------------------


@pytest.fixture(scope="module")
def twin_stage() -> Usd.Stage:
    return Usd.Stage.Open(str(TWIN))


@pytest.fixture
def rig(twin_stage: Usd.Stage) -> tuple[UsdSkel.Skeleton, dict[str, str]]:
    skel = skeleton_of(twin_stage)
    tokens = [str(t) for t in skel.GetJointsAttr().Get()]
    return skel, {t.rsplit("/", 1)[-1]: t for t in tokens}


def test_the_built_twin_carries_the_limits(rig: tuple[UsdSkel.Skeleton, dict[str, str]]) -> None:
    skel, names = rig
    assert LIMITS_KEY in skel.GetPrim().GetCustomData()
    assert read_limits(skel.GetPrim()) == {n: GAME_ENGINE_LIMITS[n] for n in names}


def world_points(
    skel: UsdSkel.Skeleton, names: dict[str, str], edits: dict[str, tuple[float, float, float]]
) -> dict[str, np.ndarray]:
    """Joint positions (skeleton space) with ``edits`` (name -> Euler offset) applied."""
    tokens = [str(t) for t in skel.GetJointsAttr().Get()]
    rest = rest_rotations(skel)
    translations, _, _ = UsdSkel.DecomposeTransforms(skel.GetRestTransformsAttr().Get())
    world: dict[str, Gf.Matrix4d] = {}
    for token, t in zip(tokens, translations, strict=True):
        name = token.rsplit("/", 1)[-1]
        q = from_euler_offset(rest[token], *edits[name]) if name in edits else rest[token]
        local = Gf.Matrix4d().SetRotate(gf_quat(q)).SetTranslateOnly(Gf.Vec3d(t))
        parent = token.rsplit("/", 1)[0] if "/" in token else None
        world[token] = local * world[parent] if parent else local
    return {t.rsplit("/", 1)[-1]: np.array(m.ExtractTranslation()) for t, m in world.items()}


@pytest.mark.parametrize(
    ("joint", "child", "axis", "direction"),
    [
        ("calf_l", "foot_l", 0, (0, 0, -1)),  # +X flexes the knee: the ankle goes back
        ("calf_r", "foot_r", 0, (0, 0, -1)),
        ("thigh_l", "calf_l", 0, (0, 0, -1)),  # +X swings the thigh back
        ("spine_01", "neck_01", 0, (0, 0, 1)),  # +X leans the spine forward
        ("lowerarm_l", "hand_l", 0, (0, 1, 0)),  # +X flexes the elbow: the hand comes up
        ("upperarm_l", "lowerarm_l", 2, (1, 1, 0)),  # +Z raises the left arm sideways
        ("upperarm_r", "lowerarm_r", 2, (1, -1, 0)),  # +Z lowers the right arm: mirrored
        ("index_01_l", "index_03_l", 0, (-1, 0, 0)),  # +X curls the finger towards the palm
    ],
)
def test_the_axes_mean_what_the_table_says(
    rig: tuple[UsdSkel.Skeleton, dict[str, str]],
    joint: str,
    child: str,
    axis: int,
    direction: tuple[float, float, float],
) -> None:
    skel, names = rig
    before = world_points(skel, names, {})[child]
    offset = [0.0, 0.0, 0.0]
    offset[axis] = 20.0
    after = world_points(skel, names, {joint: (offset[0], offset[1], offset[2])})[child]
    moved = after - before
    assert float(
        np.dot(moved, np.array(direction) / np.linalg.norm(direction))
    ) > 0.3 * np.linalg.norm(moved)


def test_the_elbow_and_knee_stops_are_straight_limbs(
    rig: tuple[UsdSkel.Skeleton, dict[str, str]],
) -> None:
    skel, names = rig

    def bend(
        upper: str, lower: str, end: str, edits: dict[str, tuple[float, float, float]]
    ) -> float:
        p = world_points(skel, names, edits)
        a, b = p[lower] - p[upper], p[end] - p[lower]
        return math.degrees(math.acos(float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))))

    elbow = GAME_ENGINE_LIMITS["lowerarm_l"].x[0]
    assert bend("upperarm_l", "lowerarm_l", "hand_l", {}) > 25  # bent at rest
    assert bend("upperarm_l", "lowerarm_l", "hand_l", {"lowerarm_l": (elbow, 0, 0)}) < 10
    knee = GAME_ENGINE_LIMITS["calf_l"].x[0]
    assert bend("thigh_l", "calf_l", "foot_l", {"calf_l": (knee, 0, 0)}) < 5
