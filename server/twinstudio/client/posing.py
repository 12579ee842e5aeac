"""Client-side pose arithmetic: Euler offsets from rest turned into joint-local rotations.

The replica holds the twin's skeleton, so a script can say "bend the left knee 30°"
(``offsets={"calf_l": (30, 0, 0)}``) and send the exact quaternions the server checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pxr import Usd

from twinstudio.assets.joint_limits import from_euler_offset, rest_rotations
from twinstudio.stage import posing

TWIN = "/Studio/Twin"


def offset_rotations(
    stage: Usd.Stage, path: str, offsets: Mapping[str, Sequence[float]]
) -> dict[str, list[float]]:
    """Joint token -> [w, x, y, z] for ``offsets`` (joint name or token -> (x, y, z) degrees).

    Raise ValueError for a joint the posed skeleton does not have.
    """
    prim = stage.GetPrimAtPath(path)
    if not prim:
        raise ValueError(f"no prim at {path}")
    anim = posing.posed_animation(prim)
    skeleton = posing.skeleton_of(anim.GetPrim())
    if skeleton is None:
        raise ValueError(f"{anim.GetPath()} poses no skeleton: offsets need a rest pose")
    rest = rest_rotations(skeleton)
    by_name = {t.rsplit("/", 1)[-1]: t for t in rest}
    out: dict[str, list[float]] = {}
    for joint, (x, y, z) in offsets.items():
        token = joint if joint in rest else by_name.get(joint)
        if token is None:
            raise ValueError(f"{skeleton.GetPath()} has no joint {joint!r}")
        out[token] = list(from_euler_offset(rest[token], x, y, z))
    return out
