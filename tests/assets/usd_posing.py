"""Posing an imported asset with UsdSkel itself, for the import tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pxr import Gf, Usd, UsdGeom, UsdSkel, Vt


def open_asset(path: Path) -> Usd.Stage:
    stage = Usd.Stage.Open(str(path))
    stage.SetEditTarget(stage.GetSessionLayer())  # pose edits never touch the asset
    return stage


def set_rotations(stage: Usd.Stage, anim_path: str, rotations: dict[str, Gf.Quatf]) -> None:
    anim = UsdSkel.Animation(stage.GetPrimAtPath(anim_path))
    joints = [str(j).rsplit("/", 1)[-1] for j in anim.GetJointsAttr().Get()]
    values = list(anim.GetRotationsAttr().Get())
    for name, q in rotations.items():
        values[joints.index(name)] = q
    anim.GetRotationsAttr().Set(Vt.QuatfArray(values))


def bind_animation(stage: Usd.Stage, skeleton: str, anim: str) -> None:
    binding = UsdSkel.BindingAPI(stage.GetPrimAtPath(skeleton))
    binding.GetAnimationSourceRel().SetTargets([anim])


DEFAULT = Usd.TimeCode.Default()


def skinned_world_points(
    stage: Usd.Stage, time: Usd.TimeCode | float = DEFAULT
) -> dict[str, np.ndarray]:
    """Every skinned mesh's points, posed by its skeleton's animation, in world space."""
    time = Usd.TimeCode(time) if not isinstance(time, Usd.TimeCode) else time
    out: dict[str, np.ndarray] = {}
    cache = UsdSkel.Cache()
    for prim in stage.Traverse():
        if not prim.IsA(UsdSkel.Root):
            continue
        root = UsdSkel.Root(prim)
        cache.Populate(root, Usd.PrimDefaultPredicate)
        for binding in cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate):
            skel_query = cache.GetSkelQuery(binding.GetSkeleton())
            xforms = skel_query.ComputeSkinningTransforms(time)
            world = np.array(
                UsdGeom.Xformable(binding.GetSkeleton().GetPrim()).ComputeLocalToWorldTransform(
                    time
                )
            )
            for query in binding.GetSkinningTargets():
                points = UsdGeom.Mesh(query.GetPrim()).GetPointsAttr().Get()
                if query.IsRigidlyDeformed():
                    m = np.array(query.ComputeSkinnedTransform(xforms, time))
                    pts = np.asarray(points, dtype=np.float64) @ m[:3, :3] + m[3, :3]
                else:
                    skinned = Vt.Vec3fArray(points)
                    assert query.ComputeSkinnedPoints(xforms, skinned, time)
                    pts = np.asarray(skinned, dtype=np.float64)
                out[query.GetPrim().GetName()] = pts @ world[:3, :3] + world[3, :3]
    return out


def gf_quat(xyzw: tuple[float, float, float, float] | np.ndarray) -> Gf.Quatf:
    x, y, z, w = (float(v) for v in xyzw)
    return Gf.Quatf(w, Gf.Vec3f(x, y, z))
