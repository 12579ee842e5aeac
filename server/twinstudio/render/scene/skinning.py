"""UsdSkel skinning of one mesh: its points (and normal blend matrices) in a given pose.

No pyrender: :func:`skin_for` gathers what re-posing a skinned mesh needs once, and
:meth:`Skin.points` computes the posed points whenever the skeleton's animation changes.
As the UsdSkel spec says, skinned points are in *skeleton* space (the mesh's own transform
is ignored): place them with the Skeleton prim's local-to-world transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pxr import Usd, UsdGeom, UsdSkel, Vt

TIME = Usd.TimeCode.Default()
_F32 = np.float32


@dataclass
class Skin:
    """What re-posing one skinned mesh needs; built once per mesh build."""

    query: UsdSkel.SkinningQuery
    skel_query: UsdSkel.SkeletonQuery
    skeleton: str
    animation: str | None
    rest_points: Vt.Vec3fArray
    influences: tuple[np.ndarray, np.ndarray] | None  # (P, k) joint indices, weights
    geom_bind: np.ndarray  # 4x4, row vectors (USD)

    def points(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Skeleton-space points, and per-point 3x3 blend matrices for skinning normals."""
        xforms = self.skel_query.ComputeSkinningTransforms(TIME)
        if self.query.IsRigidlyDeformed():
            m = np.array(self.query.ComputeSkinnedTransform(xforms, TIME))
            rest = np.asarray(self.rest_points, dtype=np.float64)
            pts = rest @ m[:3, :3] + m[3, :3]
            return pts.astype(_F32), np.broadcast_to(m[:3, :3], (len(rest), 3, 3))
        pts = Vt.Vec3fArray(self.rest_points)
        self.query.ComputeSkinnedPoints(xforms, pts, TIME)
        blend = None
        if self.influences is not None:
            idx, w = self.influences
            mats = np.einsum("ij,njk->nik", self.geom_bind[:3, :3], np.array(xforms)[:, :3, :3])
            blend = np.einsum("pk,pkij->pij", w, mats[idx])
        return np.asarray(pts, dtype=_F32), blend


def find_skin(prim: Usd.Prim, cache: UsdSkel.Cache, predicate: object) -> Skin | None:
    """The :class:`Skin` of ``prim`` if it is a point-based prim skinned under a SkelRoot.

    ``cache`` is populated for the SkelRoot here; ``predicate`` is the traversal predicate
    the caller walks the stage with (e.g. one that includes instance proxies).
    """
    root = UsdSkel.Root.Find(prim)
    if not root or not prim.IsA(UsdGeom.PointBased):
        return None
    cache.Populate(root, predicate)
    for binding in cache.ComputeSkelBindings(root, predicate):
        for query in binding.GetSkinningTargets():
            if query.GetPrim() == prim and query.HasJointInfluences():
                skel_query = cache.GetSkelQuery(binding.GetSkeleton())
                if skel_query:
                    return skin_for(query, skel_query)
    return None


def skin_for(query: UsdSkel.SkinningQuery, skel_query: UsdSkel.SkeletonQuery) -> Skin:
    """The :class:`Skin` of the mesh ``query`` skins, posed by ``skel_query``'s skeleton.

    Joint influences (for skinning normals) are only read when the mesh's joint order is the
    skeleton's; otherwise a non-rigid :meth:`Skin.points` returns no blend matrices and the
    caller recomputes normals from the skinned points.
    """
    points = UsdGeom.PointBased(query.GetPrim()).GetPointsAttr().Get(TIME)
    mapper = query.GetJointMapper()
    influences = None
    if mapper is None or mapper.IsIdentity():  # else normals are recomputed after skinning
        idx, w = query.ComputeVaryingJointInfluences(len(points), TIME)
        k = query.GetNumInfluencesPerComponent()
        influences = (
            np.asarray(idx).reshape(-1, k),
            np.asarray(w, dtype=np.float64).reshape(-1, k),
        )
    anim = skel_query.GetAnimQuery()
    return Skin(
        query=query,
        skel_query=skel_query,
        skeleton=str(skel_query.GetSkeleton().GetPath()),
        animation=str(anim.GetPrim().GetPath()) if anim else None,
        rest_points=Vt.Vec3fArray(points),
        influences=influences,
        geom_bind=np.array(query.GetGeomBindTransform(TIME)),
    )
