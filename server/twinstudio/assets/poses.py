"""The twin's pose library: readable tables of joint angles, compiled into SkelAnimations.

A pose lists, per joint, degrees away from the rest pose as an Euler triple (x, y, z)
in the order of :mod:`twinstudio.assets.joint_limits` (``Rx · Rz · Ry``). Each entry
says which axes it means:

- ``Local(x, y, z)``: the joint's own frame. +X bends the joint's hinge (a knee or an
  elbow flexes, a finger curls), Y twists along the bone, Z tilts it sideways.
- ``Body(x, y, z)``: the twin's frame at rest (X to its left, Y up, Z forward, as the
  twin stands in the shot), turning about the joint. +X tips a bone that points down
  backwards (a thigh swings back), +Y turns to the twin's left, +Z rolls towards its
  left side (a hanging left arm swings out).

``mirror`` turns a left-side table into the right side's (the rig is symmetric).
Compiling against a skeleton's ``restTransforms`` gives joint-local quaternions; every
pose must keep within the joint limits (tests check it).

Usage: ``python -m twinstudio.assets.poses stages/twin/twin.usdc stages/twin/poses.usda``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pxr import Gf, Usd, UsdSkel, Vt

from twinstudio.assets.authoring import new_stage, write_stage
from twinstudio.assets.joint_limits import (
    Quat,
    from_euler_offset,
    quat_conj,
    quat_mul,
    rest_rotations,
)

LIBRARY_ROOT = "Poses"


@dataclass(frozen=True)
class Local:
    """Degrees from rest about the joint's own axes."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


@dataclass(frozen=True)
class Body:
    """Degrees from rest about the twin's axes (X left, Y up, Z forward), at the joint."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


Angles = Local | Body


@dataclass(frozen=True)
class PoseSpec:
    """One library pose: a name (the prim name), a label and a table of joint angles."""

    name: str
    label: str
    doc: str
    joints: Mapping[str, Angles] = field(default_factory=dict)


def mirror(table: Mapping[str, Angles]) -> dict[str, Angles]:
    """The right-side twin of a left-side table (``*_l`` joints): Y and Z change sign."""
    out: dict[str, Angles] = {}
    for name, a in table.items():
        if name.endswith("_l"):
            out[name[:-2] + "_r"] = type(a)(a.x, -a.y, -a.z)
    return out


def both(table: Mapping[str, Angles]) -> dict[str, Angles]:
    """A left-side table and its mirror, for symmetric poses."""
    return {**table, **mirror(table)}


def curl(x1: float, x2: float, x3: float, thumb: float = 0.0) -> dict[str, Angles]:
    """Left fingers curled by x1/x2/x3 degrees at their three joints, the thumb by ``thumb``."""
    out: dict[str, Angles] = {}
    for finger in ("index", "middle", "ring", "pinky"):
        out[f"{finger}_01_l"] = Local(x1)
        out[f"{finger}_02_l"] = Local(x2)
        out[f"{finger}_03_l"] = Local(x3)
    if thumb:
        out["thumb_02_l"] = Local(thumb * 0.5)
        out["thumb_03_l"] = Local(thumb)
    return out


# -- the library --------------------------------------------------------------------------

RELAXED_ARMS: dict[str, Angles] = {
    "clavicle_l": Local(0, 0, -3),
    "upperarm_l": Body(10, 0, -33),
    "lowerarm_l": Local(-17, 0, 0),
    "hand_l": Local(0, 0, -3),
    **curl(12, 18, 10, thumb=10),
}

POSES: tuple[PoseSpec, ...] = (
    PoseSpec(
        "a_pose",
        "A-pose",
        "Arms 45° out from the body with straight elbows, feet under the hips: the neutral "
        "fitting pose.",
        both({"upperarm_l": Body(0, 0, -3), "lowerarm_l": Local(-36, 0, 0)}),
    ),
    PoseSpec(
        "relaxed",
        "Relaxed standing",
        "Standing easy, weight on both feet, arms hanging by the sides, hands soft.",
        both({**RELAXED_ARMS, "thigh_l": Body(0, 0, -2), "calf_l": Local(-3)}),
    ),
    PoseSpec(
        "contrapposto",
        "Contrapposto",
        "Weight on the right leg: the hips drop to the left and the shoulders answer the other "
        "way, the left knee eases forward and in, the head turns a little to the left.",
        {
            **both(RELAXED_ARMS),
            "Root": Body(0, 0, 3),  # the whole figure settles over the standing leg
            "pelvis": Body(0, -5, -7),
            "spine_01": Body(0, 2, 4),
            "spine_02": Body(0, 2, 4),
            "spine_03": Body(0, 2, 3),
            "neck_01": Body(0, 3, -2),
            "head": Body(3, 6, -3),
            "thigh_r": Body(0, 3, 7),
            "calf_r": Local(-4),
            "thigh_l": Body(-16, 8, 1),
            "calf_l": Local(22),
            "foot_l": Local(2),
            "upperarm_l": Body(6, 0, -30),
            "upperarm_r": Body(12, 0, 34),
        },
    ),
    PoseSpec(
        "hand_on_hip",
        "Hand on hip",
        "Left hand on the hip with the elbow out, weight on the right leg, the right arm "
        "relaxed, chin slightly down towards the camera.",
        {
            **both(RELAXED_ARMS),
            "Root": Body(0, 0, 2.5),
            "pelvis": Body(0, -3, -4),
            "spine_01": Body(0, 2, 3),
            "spine_02": Body(0, 1, 2),
            "thigh_r": Body(0, 0, 4),
            "thigh_l": Body(-10.5, 8, 2),
            "calf_l": Local(9.5),
            "foot_l": Local(4),
            "clavicle_l": Local(0, 0, 4),
            "upperarm_l": Body(64, -46, 20),
            "lowerarm_l": Local(53, 27, 0),
            "hand_l": Local(-52, 0, -1),  # the wrist bends back: the palm rests on the hip
            **curl(8, 10, 6),
            "head": Body(4, 6, 0),
        },
    ),
    PoseSpec(
        "walking",
        "Walking stride",
        "Mid-stride: the left heel reaching the floor, the right foot pushing off its toes, "
        "arms swinging against the legs.",
        {
            **both(RELAXED_ARMS),
            "Root": Body(4, 0, 0),  # a slight forward lean puts the leading heel down
            "pelvis": Body(0, 5, 0),
            "spine_01": Body(-4, 0, 0),
            "spine_02": Body(0, -4, 0),
            "spine_03": Body(0, -4, 0),
            "thigh_l": Body(-14, 0, -2),
            "calf_l": Local(6),
            "foot_l": Local(-8),
            "thigh_r": Body(12, 0, 2),
            "calf_r": Local(18),
            "foot_r": Local(18),
            "ball_r": Local(-25),
            "upperarm_l": Body(24, 0, -33),
            "lowerarm_l": Local(-12, 0, 0),
            "upperarm_r": Body(-10, 0, 33),
            "lowerarm_r": Local(-2, 0, 0),
        },
    ),
    PoseSpec(
        "leaning",
        "Leaning",
        "A casual lean to the right, as against a wall: weight on the right leg, the left leg "
        "crossed in front on its toes, the head turned to the light.",
        {
            **both(RELAXED_ARMS),
            "Root": Body(0, 0, 2),
            "pelvis": Body(0, -6, 0),
            "spine_01": Body(0, 0, 2),
            "spine_02": Body(0, 3, 3),
            "spine_03": Body(0, 3, 2),
            "neck_01": Body(0, 0, -3),
            "head": Body(2, 8, -4),
            "thigh_l": Body(-6, -3, -21),
            "calf_l": Local(0),
            "foot_l": Local(21, 0, 5),
            "upperarm_r": Body(14, 0, 30),
        },
    ),
)


# -- compiling ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Skeleton:
    """What compiling needs of a skeleton: tokens, rest transforms and world rest rotations."""

    tokens: list[str]
    rest: dict[str, Quat]  # joint-local
    world: dict[str, Quat]  # skeleton space, at rest
    translations: list[Gf.Vec3f]
    scales: list[Gf.Vec3h]

    @classmethod
    def of(cls, skeleton: UsdSkel.Skeleton) -> Skeleton:
        tokens = [str(t) for t in skeleton.GetJointsAttr().Get() or []]
        rest = rest_rotations(skeleton)
        world: dict[str, Quat] = {}
        for token in tokens:  # parents come before their children in a UsdSkel joint list
            parent = token.rsplit("/", 1)[0] if "/" in token else None
            world[token] = quat_mul(world[parent], rest[token]) if parent else rest[token]
        translations, _, scales = UsdSkel.DecomposeTransforms(
            skeleton.GetRestTransformsAttr().Get()
        )
        return cls(tokens, rest, world, list(translations), list(scales))


def _euler_quat(a: Angles) -> Quat:
    return from_euler_offset((1.0, 0.0, 0.0, 0.0), a.x, a.y, a.z)


def joint_rotation(skeleton: Skeleton, token: str, angles: Angles) -> Quat:
    """The joint-local quaternion for ``angles`` away from the rest pose at ``token``."""
    rest = skeleton.rest[token]
    if isinstance(angles, Local):
        return from_euler_offset(rest, angles.x, angles.y, angles.z)
    world = skeleton.world[token]  # body-frame offset, carried into the joint's frame
    local = quat_mul(quat_mul(quat_conj(world), _euler_quat(angles)), world)
    out = quat_mul(rest, local)
    sign = -1.0 if out[0] < 0 else 1.0
    return (out[0] * sign, out[1] * sign, out[2] * sign, out[3] * sign)


def compile_pose(spec: PoseSpec, skeleton: Skeleton) -> list[Quat]:
    """Joint-local rotations for every joint of ``skeleton`` (rest where the pose is silent).

    Raise KeyError naming a joint the skeleton does not have.
    """
    by_name = {t.rsplit("/", 1)[-1]: t for t in skeleton.tokens}
    missing = sorted(set(spec.joints) - set(by_name))
    if missing:
        raise KeyError(f"pose {spec.name!r} names joints the skeleton lacks: {missing}")
    angles = {by_name[n]: a for n, a in spec.joints.items()}
    return [
        joint_rotation(skeleton, t, angles[t]) if t in angles else skeleton.rest[t]
        for t in skeleton.tokens
    ]


def author_pose(stage: Usd.Stage, path: str, spec: PoseSpec, skeleton: Skeleton) -> None:
    """Define the SkelAnimation for ``spec`` at ``path``, with every joint's transform."""
    anim = UsdSkel.Animation.Define(stage, path)
    prim = anim.GetPrim()
    prim.SetMetadata("displayName", spec.label)
    prim.SetDocumentation(spec.doc)
    anim.CreateJointsAttr(Vt.TokenArray(skeleton.tokens))
    quats = np.round(np.array(compile_pose(spec, skeleton), dtype=np.float64), 7) + 0.0
    anim.CreateRotationsAttr(
        Vt.QuatfArray([Gf.Quatf(float(w), float(x), float(y), float(z)) for w, x, y, z in quats])
    )
    translations = np.round(np.array(skeleton.translations, dtype=np.float64), 7) + 0.0
    anim.CreateTranslationsAttr(Vt.Vec3fArray.FromNumpy(translations.astype(np.float32)))
    anim.CreateScalesAttr(Vt.Vec3hArray(skeleton.scales))


def build_library(twin: Path, out: Path, poses: Sequence[PoseSpec] = POSES) -> None:
    """Write the pose library (defaultPrim /Poses) for the skeleton of the twin asset."""
    source = Usd.Stage.Open(str(twin))
    skel_prim = next((p for p in source.Traverse() if p.IsA(UsdSkel.Skeleton)), None)
    if skel_prim is None:
        raise ValueError(f"{twin} has no Skeleton")
    skeleton = Skeleton.of(UsdSkel.Skeleton(skel_prim))
    stage, root = new_stage(LIBRARY_ROOT, "Scope")
    root.SetDocumentation(
        "The twin's pose library: one SkelAnimation per pose, joint-local, every joint. "
        "Generated by twinstudio.assets.poses from its tables; apply one with a 'pose' op "
        "and a 'preset'."
    )
    for spec in poses:
        author_pose(stage, f"/{LIBRARY_ROOT}/{spec.name}", spec, skeleton)
    stage.GetRootLayer().customLayerData = {"twinstudio:skeleton": f"./{twin.name}"}
    write_stage(stage, out)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: compile the pose library against a twin asset."""
    parser = argparse.ArgumentParser(description="Write the twin's pose library.")
    parser.add_argument("twin", type=Path, help="twin asset with the Skeleton (twin.usdc)")
    parser.add_argument("out", type=Path, help="pose library to write (poses.usda)")
    args = parser.parse_args(argv)
    build_library(args.twin, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
