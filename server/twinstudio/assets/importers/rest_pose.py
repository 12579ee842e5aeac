"""The rest pose of a UsdSkel asset: where each skinned mesh's points are before any pose.

Used to measure an asset (its size after normalisation) and to fit garments to a body.
Skinning at rest uses the skeleton's ``restTransforms`` whatever animation is bound, so
the answer doesn't depend on the pose the asset happens to be saved in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pxr import Gf, Usd, UsdGeom, UsdSkel, Vt

TIME = Usd.TimeCode.Default()
PREDICATE = Usd.TraverseInstanceProxies(Usd.PrimDefaultPredicate)
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class RestMesh:
    """One skinned mesh at rest, in its skeleton's space (``skel_to_world`` places it)."""

    prim: Usd.Prim
    skeleton: UsdSkel.Skeleton
    query: UsdSkel.SkinningQuery
    skel_query: UsdSkel.SkeletonQuery
    points: F64  # (N, 3) skinned rest points, skeleton space
    skel_to_world: F64  # 4x4, row vectors (USD)

    def world_points(self) -> F64:
        return _transform(self.points, self.skel_to_world)


def rest_skinning_transforms(skel_query: UsdSkel.SkeletonQuery) -> Vt.Matrix4dArray:
    """Per joint ``inverse(bind) * rest`` in skeleton space (USD row vectors)."""
    rest = skel_query.ComputeJointSkelTransforms(TIME, True)
    bind = skel_query.GetJointWorldBindTransforms()
    return Vt.Matrix4dArray([b.GetInverse() * r for b, r in zip(bind, rest, strict=True)])


def skin(query: UsdSkel.SkinningQuery, xforms: Vt.Matrix4dArray) -> F64 | None:
    """The mesh's points skinned by ``xforms`` (skeleton space); None if UsdSkel can't."""
    points = UsdGeom.PointBased(query.GetPrim()).GetPointsAttr().Get(TIME)
    if points is None:
        return None
    if query.IsRigidlyDeformed():
        m = query.ComputeSkinnedTransform(xforms, TIME)
        if m is None:
            return None
        return _transform(np.asarray(points, dtype=np.float64), np.array(m))
    pts = Vt.Vec3fArray(points)
    if not query.ComputeSkinnedPoints(xforms, pts, TIME):
        return None
    return np.asarray(pts, dtype=np.float64)


def skel_roots(root: Usd.Prim) -> Iterator[UsdSkel.Root]:
    """The SkelRoot enclosing ``root`` (a garment under a twin), else those below it."""
    enclosing = UsdSkel.Root.Find(root)
    if enclosing:
        yield enclosing
        return
    for prim in Usd.PrimRange(root, PREDICATE):
        if prim.IsA(UsdSkel.Root):
            yield UsdSkel.Root(prim)


def rest_meshes(root: Usd.Prim) -> Iterator[RestMesh]:
    """Every skinned mesh UsdSkel binds under ``root``, at rest. Unskinnable ones are skipped
    (the asset checks report them)."""
    cache = UsdSkel.Cache()
    for skel_root in skel_roots(root):
        cache.Populate(skel_root, PREDICATE)
        for binding in cache.ComputeSkelBindings(skel_root, PREDICATE):
            skel_query = cache.GetSkelQuery(binding.GetSkeleton())
            if not skel_query:
                continue
            xforms = rest_skinning_transforms(skel_query)
            skel = binding.GetSkeleton()
            to_world = np.array(
                UsdGeom.Xformable(skel.GetPrim()).ComputeLocalToWorldTransform(TIME)
            )
            for query in binding.GetSkinningTargets():
                if not query.HasJointInfluences() or not query.GetPrim().GetPath().HasPrefix(
                    root.GetPath()
                ):
                    continue
                points = skin(query, xforms)
                if points is not None:
                    yield RestMesh(query.GetPrim(), skel, query, skel_query, points, to_world)


def _transform(points: F64, m: F64) -> F64:
    return np.asarray(points, dtype=np.float64) @ m[:3, :3] + m[3, :3]


def world_points(prim: Usd.Prim) -> F64:
    """An unskinned point-based prim's points in world space."""
    points = UsdGeom.PointBased(prim).GetPointsAttr().Get(TIME)
    if points is None:
        return np.zeros((0, 3))
    m = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(TIME))
    return _transform(np.asarray(points, dtype=np.float64), m)


def gf_matrix(m: F64) -> Gf.Matrix4d:
    """A 4x4 row-vector numpy matrix as Gf.Matrix4d."""
    return Gf.Matrix4d(*(float(v) for v in np.asarray(m, dtype=np.float64).ravel()))
