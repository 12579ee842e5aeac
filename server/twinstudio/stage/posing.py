"""How a room finds what poses a twin: its bound animation, its pose presets, its limits.

- The *bound animation* of a skeleton is the SkelAnimation its ``skel:animationSource``
  targets; it is the only animation a room may edit (the shot's ``/Studio/Twin/Pose``).
- The *pose presets* of a twin are the SkelAnimations under the ``Poses`` child of its
  SkelRoot (the shot references the library ``stages/twin/poses.usda`` there). They are
  read-only library data: applying one copies its rotations into the bound animation.
- *Joint limits* live on the Skeleton (:mod:`twinstudio.assets.joint_limits`); a skeleton
  without them (a brand twin) is not limited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pxr import Usd, UsdSkel

from twinstudio.assets.joint_limits import (
    SkeletonLimits,
    euler_offset,
    read_limits,
    rest_rotations,
)
from twinstudio.stage.ops import OpRejected

POSE_LIBRARY = "Poses"
Quat = tuple[float, float, float, float]


@dataclass(frozen=True)
class Preset:
    """One pose of a twin's library."""

    name: str
    label: str
    path: str


def _skel_root(prim: Usd.Prim) -> Usd.Prim | None:
    root = UsdSkel.Root.Find(prim)
    return root.GetPrim() if root else None


def skeletons(prim: Usd.Prim) -> list[UsdSkel.Skeleton]:
    """The Skeletons at or under ``prim``."""
    return [UsdSkel.Skeleton(p) for p in Usd.PrimRange(prim) if p.IsA(UsdSkel.Skeleton)]


def bound_animation(skeleton: UsdSkel.Skeleton) -> UsdSkel.Animation | None:
    """The SkelAnimation bound to ``skeleton`` as its ``skel:animationSource``, if any."""
    target = UsdSkel.BindingAPI(skeleton.GetPrim()).GetAnimationSource()
    return UsdSkel.Animation(target) if target and target.IsA(UsdSkel.Animation) else None


def skeleton_of(animation: Usd.Prim) -> UsdSkel.Skeleton | None:
    """The Skeleton (in the same SkelRoot) whose bound animation is ``animation``, if any."""
    scope = _skel_root(animation) or animation.GetStage().GetPseudoRoot()
    for skeleton in skeletons(scope):
        bound = bound_animation(skeleton)
        if bound and bound.GetPrim().GetPath() == animation.GetPath():
            return skeleton
    return None


def posed_animation(prim: Usd.Prim) -> UsdSkel.Animation:
    """The animation a ``pose`` op on ``prim`` (an animation, a Skeleton or a SkelRoot) edits.

    Raise OpRejected(pose_unavailable) when there is none.
    """
    if prim.IsA(UsdSkel.Animation):
        return UsdSkel.Animation(prim)
    for skeleton in skeletons(prim):
        anim = bound_animation(skeleton)
        if anim:
            return anim
    raise OpRejected("pose_unavailable", f"{prim.GetPath()} has no posable skeleton animation")


def presets(prim: Usd.Prim) -> list[Preset]:
    """The pose presets of the twin that ``prim`` belongs to, in library order."""
    root = _skel_root(prim)
    library = root.GetChild(POSE_LIBRARY) if root else None
    if not library:
        return []
    out = []
    for child in library.GetChildren():
        if child.IsA(UsdSkel.Animation):
            label = child.GetMetadata("displayName") or child.GetName().replace("_", " ")
            out.append(Preset(child.GetName(), str(label), str(child.GetPath())))
    return out


def preset_rotations(animation: UsdSkel.Animation, name: str) -> tuple[tuple[str, Quat], ...]:
    """Preset ``name``'s rotation for every joint of ``animation`` it defines, by full token.

    Raise OpRejected(preset_not_found) naming the presets there are.
    """
    available = presets(animation.GetPrim())
    preset = next((p for p in available if p.name == name), None)
    if preset is None:
        choices = ", ".join(p.name for p in available) or "none"
        raise OpRejected(
            "preset_not_found",
            f"{animation.GetPath()} has no pose preset {name!r}; presets: {choices}",
        )
    source = UsdSkel.Animation(animation.GetPrim().GetStage().GetPrimAtPath(preset.path))
    tokens = [str(t) for t in source.GetJointsAttr().Get() or []]
    values = source.GetRotationsAttr().Get() or []
    if len(values) != len(tokens):
        raise OpRejected("pose_unavailable", f"pose preset {preset.path} has no rotations")
    by_token = dict(zip(tokens, values, strict=True))
    out = []
    for token in (str(t) for t in animation.GetJointsAttr().Get() or []):
        q = by_token.get(token)
        if q is not None:
            im = q.GetImaginary()
            out.append((token, (float(q.GetReal()), float(im[0]), float(im[1]), float(im[2]))))
    if not out:
        raise OpRejected(
            "pose_unavailable", f"pose preset {name!r} shares no joint with {animation.GetPath()}"
        )
    return tuple(out)


# Limits and rest rotations live on the twin's read-only asset (a room can't edit the
# Skeleton: it is the locked identity), so they are read once per set of specs that compose
# the Skeleton, not on every pose op (that read was two thirds of a one-joint pose's cost).
_LIMITS_CACHE: dict[tuple[tuple[str, str], ...], SkeletonLimits | None] = {}
_LIMITS_CACHE_SIZE = 64


def limits_of(animation: Usd.Prim) -> SkeletonLimits | None:
    """The joint limits that apply to edits of ``animation``: its skeleton's, or None."""
    skeleton = skeleton_of(animation)
    if not skeleton:
        return None
    key = tuple(
        (spec.layer.identifier, str(spec.path)) for spec in skeleton.GetPrim().GetPrimStack()
    )
    if key not in _LIMITS_CACHE:
        if len(_LIMITS_CACHE) >= _LIMITS_CACHE_SIZE:
            _LIMITS_CACHE.clear()
        _LIMITS_CACHE[key] = SkeletonLimits.of(skeleton)
    return _LIMITS_CACHE[key]


def is_bound(animation: Usd.Prim) -> bool:
    """True when ``animation`` is some skeleton's ``skel:animationSource``."""
    return skeleton_of(animation) is not None


def describe_poses(stage: Usd.Stage) -> list[dict[str, Any]]:
    """Every posable skeleton of ``stage``, for pose widgets (``GET …/poses``).

    Per skeleton: its bound animation, each joint (token, leaf name, parent token, rest
    and current joint-local rotation as [w, x, y, z], the current Euler offset from rest
    in degrees, limits or None) and the twin's pose presets.
    """
    out: list[dict[str, Any]] = []
    for skeleton in skeletons(stage.GetPseudoRoot()):
        anim = bound_animation(skeleton)
        if anim is None:
            continue
        tokens = [str(t) for t in skeleton.GetJointsAttr().Get() or []]
        rest = rest_rotations(skeleton)
        limits = read_limits(skeleton.GetPrim())
        current = dict(
            zip(
                (str(t) for t in anim.GetJointsAttr().Get() or []),
                anim.GetRotationsAttr().Get() or [],
                strict=False,
            )
        )
        joints = []
        for token in tokens:
            name = token.rsplit("/", 1)[-1]
            parent = token.rsplit("/", 1)[0] if "/" in token else None
            q = current.get(token)
            rotation = [q.GetReal(), *q.GetImaginary()] if q is not None else None
            joint: dict[str, Any] = {
                "token": token,
                "name": name,
                "parent": parent,
                "rest": list(rest[token]) if token in rest else None,
                "rotation": rotation,
                "offset": (
                    [round(v, 3) for v in euler_offset(rest[token], rotation)]
                    if rotation is not None and token in rest
                    else None
                ),
                "limits": limits[name].to_data() if name in limits else None,
            }
            joints.append(joint)
        out.append(
            {
                "skeleton": str(skeleton.GetPath()),
                "animation": str(anim.GetPath()),
                "joints": joints,
                "presets": [
                    {"name": p.name, "label": p.label} for p in presets(skeleton.GetPrim())
                ],
            }
        )
    return out
