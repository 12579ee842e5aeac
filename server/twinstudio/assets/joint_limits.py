"""Anatomical joint limits of the studio twin's skeleton (the MPFB2 "game_engine" rig).

Conventions, shared with the pose library (:mod:`twinstudio.assets.poses`):

- A joint's *offset* is its rotation relative to the rest pose, in the joint's own
  rest frame: ``offset = rest⁻¹ · q`` for the joint-local quaternion ``q``.
- Joint frames follow Blender's bone convention (Y-up studio): +Y runs along the bone
  from head to tail, X and Z come from the bone's roll. On this rig X is the hinge
  axis of every joint, so +X *bends* (a knee or elbow flexes, a finger curls, the
  spine leans forward, a thigh swings back), Y *twists* about the bone, and Z *tilts
  it sideways* (on the left side +Z swings an arm up and out, a thigh inwards).
- An offset is the Euler triple (x, y, z) in degrees with
  ``offset = Rx(x) · Rz(z) · Ry(y)``: twist about the bone first, then the sideways
  tilt, then the bend (intrinsic X, then Z, then Y). :func:`euler_offset` and
  :func:`from_euler_offset` convert both ways.
- The right side mirrors the left: X ranges are the same, Y and Z ranges change sign.

The limits are stored on the Skeleton prim as ``customData["twinstudio:jointLimits"]``
(joint name → {"x": [lo, hi], "y": [lo, hi], "z": [lo, hi]}, degrees); joints without
an entry, and skeletons without the key (brand twins), are not limited.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pxr import Gf, Usd, UsdSkel

LIMITS_KEY = "twinstudio:jointLimits"
TOLERANCE_DEG = 0.5  # float32 quaternions round-trip to within a few hundredths of a degree

Range = tuple[float, float]
Quat = tuple[float, float, float, float]  # (w, x, y, z)
AXES = ("x", "y", "z")
_VERBS = {"x": "bends", "y": "twists", "z": "tilts sideways"}

# Left side and midline, (x, y, z) ranges in degrees from the rest pose. The rest pose is
# MakeHuman's: arms about 48° out from the body, elbows about 40° bent, knees about 7°.
_FULL: tuple[Range, Range, Range] = ((-180.0, 180.0), (-180.0, 180.0), (-90.0, 90.0))
_LEFT: dict[str, tuple[Range, Range, Range]] = {
    "Root": _FULL,  # the whole figure: free (the twin's placement is its xform)
    "pelvis": ((-45.0, 45.0), (-60.0, 60.0), (-30.0, 30.0)),
    # Spine: small per segment; the three add up to about 95° forward, 60° back.
    "spine_01": ((-20.0, 35.0), (-15.0, 15.0), (-15.0, 15.0)),
    "spine_02": ((-20.0, 35.0), (-20.0, 20.0), (-15.0, 15.0)),
    "spine_03": ((-20.0, 30.0), (-20.0, 20.0), (-15.0, 15.0)),
    "neck_01": ((-45.0, 40.0), (-50.0, 50.0), (-30.0, 30.0)),
    "head": ((-35.0, 35.0), (-35.0, 35.0), (-25.0, 25.0)),
    # Shoulder girdle: +X protracts, +Z raises (shrugs).
    "clavicle_l": ((-20.0, 20.0), (-15.0, 15.0), (-15.0, 30.0)),
    # Shoulder: +X raises the arm forward, +Z raises it sideways; -48° Z hangs it straight down.
    "upperarm_l": ((-70.0, 150.0), (-90.0, 90.0), (-60.0, 130.0)),
    # Elbow: a hinge. +X flexes; about -40° straightens the arm from the bent rest pose.
    "lowerarm_l": ((-45.0, 105.0), (-80.0, 80.0), (-8.0, 8.0)),
    "hand_l": ((-75.0, 75.0), (-20.0, 20.0), (-35.0, 35.0)),
    "thumb_01_l": ((-40.0, 50.0), (-40.0, 40.0), (-40.0, 40.0)),
    "thumb_02_l": ((-20.0, 60.0), (-10.0, 10.0), (-15.0, 15.0)),
    "thumb_03_l": ((-20.0, 80.0), (-10.0, 10.0), (-10.0, 10.0)),
    # Hip: +X swings the leg back (extension), -X forward; +Z draws it in, -Z out.
    "thigh_l": ((-125.0, 35.0), (-45.0, 45.0), (-50.0, 30.0)),
    # Knee: a hinge that only flexes (+X), a few degrees past straight at most.
    "calf_l": ((-8.0, 145.0), (-15.0, 15.0), (-6.0, 6.0)),
    # Ankle: +X points the toes (plantar flexion), -X lifts them.
    "foot_l": ((-30.0, 50.0), (-30.0, 30.0), (-25.0, 25.0)),
    # Toes: -X bends them up (push-off), +X curls them down.
    "ball_l": ((-60.0, 40.0), (-5.0, 5.0), (-10.0, 10.0)),
}
for _finger in ("index", "middle", "ring", "pinky"):  # +X curls towards the palm
    _LEFT[f"{_finger}_01_l"] = ((-25.0, 90.0), (-10.0, 10.0), (-20.0, 20.0))
    _LEFT[f"{_finger}_02_l"] = ((-5.0, 110.0), (-5.0, 5.0), (-5.0, 5.0))
    _LEFT[f"{_finger}_03_l"] = ((-5.0, 80.0), (-5.0, 5.0), (-5.0, 5.0))


@dataclass(frozen=True)
class JointLimit:
    """Allowed offset from rest per local axis, in degrees (lo <= hi)."""

    x: Range
    y: Range
    z: Range

    def get(self, axis: str) -> Range:
        return {"x": self.x, "y": self.y, "z": self.z}[axis]

    def mirrored(self) -> JointLimit:
        """The same joint on the other side: X unchanged, Y and Z change sign."""
        return JointLimit(self.x, _negated(self.y), _negated(self.z))

    def to_data(self) -> dict[str, list[float]]:
        return {a: [float(v) for v in self.get(a)] for a in AXES}


def _negated(r: Range) -> Range:
    return (-r[1], -r[0])


def _table() -> dict[str, JointLimit]:
    out: dict[str, JointLimit] = {}
    for name, (x, y, z) in _LEFT.items():
        out[name] = JointLimit(x, y, z)
        if name.endswith("_l"):
            out[name[:-2] + "_r"] = out[name].mirrored()
    return out


GAME_ENGINE_LIMITS: dict[str, JointLimit] = _table()


# -- storage on the Skeleton -------------------------------------------------------------


def author_limits(
    skeleton: UsdSkel.Skeleton, table: Mapping[str, JointLimit] | None = None
) -> None:
    """Write the limits of the skeleton's joints (by leaf name) as its customData.

    Joints of ``skeleton`` missing from ``table`` (default: the game_engine table) get
    no entry and stay free. Other customData on the prim is kept.
    """
    table = GAME_ENGINE_LIMITS if table is None else table
    names = [str(t).rsplit("/", 1)[-1] for t in skeleton.GetJointsAttr().Get() or []]
    data = {n: table[n].to_data() for n in names if n in table}
    prim = skeleton.GetPrim()
    custom = dict(prim.GetCustomData())
    custom[LIMITS_KEY] = data  # SetCustomDataByKey would split the key at ':'
    prim.SetCustomData(custom)


def read_limits(skeleton_prim: Usd.Prim) -> dict[str, JointLimit]:
    """The limits stored on a Skeleton prim, by joint leaf name; empty when it has none."""
    data = skeleton_prim.GetCustomData().get(LIMITS_KEY)
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, JointLimit] = {}
    for name, axes in data.items():
        if isinstance(axes, Mapping) and all(len(axes.get(a, ())) == 2 for a in AXES):
            x, y, z = (
                (float(axes[a][0]), float(axes[a][1])) for a in AXES
            )  # malformed entries are skipped: they limit nothing
            out[str(name)] = JointLimit(x, y, z)
    return out


# -- the Euler convention ----------------------------------------------------------------


def _matrix(q: Sequence[float]) -> NDArray[np.float64]:
    w, x, y, z = (float(v) for v in q)
    n = math.sqrt(w * w + x * x + y * y + z * z) or 1.0
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def quat_mul(a: Sequence[float], b: Sequence[float]) -> Quat:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def quat_conj(q: Sequence[float]) -> Quat:
    return (q[0], -q[1], -q[2], -q[3])


def _axis_angle(axis: int, degrees: float) -> Quat:
    half = math.radians(degrees) / 2
    v = [0.0, 0.0, 0.0]
    v[axis] = math.sin(half)
    return (math.cos(half), v[0], v[1], v[2])


def euler_offset(rest: Sequence[float], q: Sequence[float]) -> tuple[float, float, float]:
    """(x, y, z) degrees with ``rest⁻¹ · q = Rx(x) · Rz(z) · Ry(y)``; quaternions are (w, x, y, z).

    Near z = ±90° (gimbal lock) x and y share the rotation; the sum is still exact.
    """
    m = _matrix(quat_mul(quat_conj(rest), q))
    z = math.degrees(math.asin(max(-1.0, min(1.0, -m[0, 1]))))
    x = math.degrees(math.atan2(m[2, 1], m[1, 1]))
    y = math.degrees(math.atan2(m[0, 2], m[0, 0]))
    return (x, y, z)


def from_euler_offset(rest: Sequence[float], x: float, y: float, z: float) -> Quat:
    """The joint-local quaternion ``rest · Rx(x) · Rz(z) · Ry(y)`` (degrees), unit, w >= 0."""
    offset = quat_mul(quat_mul(_axis_angle(0, x), _axis_angle(2, z)), _axis_angle(1, y))
    out = quat_mul(rest, offset)
    n = math.sqrt(sum(c * c for c in out))
    sign = -1.0 if out[0] < 0 else 1.0
    return (out[0] * sign / n, out[1] * sign / n, out[2] * sign / n, out[3] * sign / n)


# -- checking ----------------------------------------------------------------------------


def check_joint(
    name: str, limit: JointLimit, rest: Sequence[float], q: Sequence[float]
) -> str | None:
    """A message naming the first axis (X, Y, Z) where ``q`` leaves ``limit``; None if it fits."""
    offsets = dict(zip(AXES, euler_offset(rest, q), strict=True))
    for axis in AXES:
        lo, hi = limit.get(axis)
        value = offsets[axis]
        if lo - TOLERANCE_DEG <= value <= hi + TOLERANCE_DEG:
            continue
        label = axis.upper()
        allowed = f"{label} must stay within {lo:g}°…{hi:g}° of the rest pose"
        # A hinge (a range that is mostly one-sided) pushed past its stop bends "the wrong way".
        one_sided = (value < lo and -lo < 0.25 * hi) or (value > hi and hi < 0.25 * -lo)
        if one_sided:
            return f"{name} {_VERBS[axis]} {abs(value):.0f}° the wrong way: {allowed}"
        return f"{name} {_VERBS[axis]} {value:+.0f}° about {label}, too far: {allowed}"
    return None


@dataclass(frozen=True)
class SkeletonLimits:
    """The limits and rest rotations of one skeleton, keyed by joint token."""

    names: dict[str, str]  # token -> leaf name
    rest: dict[str, Quat]  # token -> rest joint-local rotation
    limits: dict[str, JointLimit]  # token -> limit (limited joints only)

    @classmethod
    def of(cls, skeleton: UsdSkel.Skeleton) -> SkeletonLimits | None:
        """The skeleton's limits, or None when it has none (it is not limited)."""
        table = read_limits(skeleton.GetPrim())
        if not table:
            return None
        tokens = [str(t) for t in skeleton.GetJointsAttr().Get() or []]
        rest = rest_rotations(skeleton)
        names = {t: t.rsplit("/", 1)[-1] for t in tokens}
        limits = {t: table[n] for t, n in names.items() if n in table and t in rest}
        return cls(names, rest, limits)

    def check(self, rotations: Mapping[str, Sequence[float]]) -> str | None:
        """The first violation among ``rotations`` (token -> joint-local quaternion), or None."""
        for token, q in rotations.items():
            limit = self.limits.get(token)
            if limit is not None:
                problem = check_joint(self.names[token], limit, self.rest[token], q)
                if problem:
                    return problem
        return None


def rest_rotations(skeleton: UsdSkel.Skeleton) -> dict[str, Quat]:
    """Joint token -> rest joint-local rotation (w, x, y, z), from ``restTransforms``."""
    tokens = [str(t) for t in skeleton.GetJointsAttr().Get() or []]
    rest = skeleton.GetRestTransformsAttr().Get()
    if rest is None or len(rest) != len(tokens):
        return {}
    out: dict[str, Quat] = {}
    for token, matrix in zip(tokens, rest, strict=True):
        quat = Gf.Matrix4d(matrix).ExtractRotationQuat()  # removes scale, as UsdSkel does
        im = quat.GetImaginary()
        out[token] = (quat.GetReal(), im[0], im[1], im[2])
    return out
