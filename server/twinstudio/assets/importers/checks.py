"""Is this a sound UsdSkel asset? The checks every imported twin and garment must pass.

:func:`check_influences` judges one mesh's joint indices and weights (the importers call
it on source data, where weights a little off are renormalised with a note);
:func:`check_asset` judges a whole written asset strictly and measures it:

- every skeleton has 1..``MAX_JOINTS`` joints, ordered parents first, and invertible,
  finite bind transforms;
- every mesh has finite points and face indices in range;
- every mesh with skin weights binds to a Skeleton that resolves, under a SkelRoot;
- joint indices are in range; weights are finite, non-negative, and each vertex's sum to
  1 within ``WEIGHT_SUM_TOLERANCE``; indices and weights have the same elementSize;
- the asset's size at rest, in metres, is plausible for a person or a garment.

Each failure raises :class:`ImportRefused` with a code and says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pxr import Usd, UsdGeom, UsdSkel

from twinstudio.assets.importers.report import (
    FILE_MALFORMED,
    GEOMETRY_INVALID,
    JOINT_COUNT,
    JOINT_INDEX,
    SIZE_IMPLAUSIBLE,
    SKELETON_MISSING,
    SKELETON_UNRESOLVED,
    WEIGHTS_INVALID,
    ImportRefused,
)
from twinstudio.assets.importers.rest_pose import (
    PREDICATE,
    TIME,
    rest_meshes,
    world_points,
)

MAX_JOINTS = 512  # the pose op's limit too; MakeHuman's full rig has 163
WEIGHT_SUM_TOLERANCE = 1e-3
# Sums within this of 1 are quantisation (8-bit weights), renormalised with a note;
# further off is a broken skin and refused.
RENORMALISE_LIMIT = 0.02
SIZE_LIMITS_M = {"twin": (0.25, 3.0), "garment": (0.05, 3.0)}
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class AssetCheck:
    """What a checked asset holds, and its rest-pose bounding box in metres."""

    skeletons: int
    joints: int  # of the largest skeleton
    meshes: int
    skinned_meshes: int
    points: int
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    @property
    def size(self) -> float:
        """The largest side of the bounding box."""
        return float(max(h - lo for lo, h in zip(self.lo, self.hi, strict=True)))


def check_joint_count(count: int, where: str) -> None:
    if count < 1:
        raise ImportRefused(JOINT_COUNT, f"{where} has no joints: a skin needs at least one")
    if count > MAX_JOINTS:
        raise ImportRefused(
            JOINT_COUNT,
            f"{where} has {count} joints; the studio poses at most {MAX_JOINTS}: "
            "export the body rig without helper or face joints",
        )


def check_influences(
    indices: NDArray[np.int64],
    weights: F64,
    element_size: int,
    joint_count: int,
    where: str,
    *,
    renormalise: bool,
) -> tuple[F64, int]:
    """Check (N*k,) joint indices and weights; return the weights (renormalised if asked and
    needed) and how many vertices' sums were more than ``WEIGHT_SUM_TOLERANCE`` off."""
    idx = np.asarray(indices)
    w = np.asarray(weights, dtype=np.float64)
    if element_size < 1 or len(idx) != len(w) or len(w) % element_size:
        raise ImportRefused(
            WEIGHTS_INVALID,
            f"{where}: {len(idx)} joint indices and {len(w)} weights don't make whole vertices "
            f"of {element_size} influences",
        )
    bad = np.flatnonzero(~np.isfinite(w))
    if len(bad):
        raise ImportRefused(
            WEIGHTS_INVALID, f"{where}: vertex {bad[0] // element_size} has a NaN/inf weight"
        )
    bad = np.flatnonzero((idx < 0) | (idx >= joint_count))
    if len(bad):
        raise ImportRefused(
            JOINT_INDEX,
            f"{where}: vertex {bad[0] // element_size} uses joint {int(idx[bad[0]])} but the "
            f"skin has {joint_count} joints (0..{joint_count - 1})",
        )
    bad = np.flatnonzero(w < -1e-6)
    if len(bad):
        raise ImportRefused(
            WEIGHTS_INVALID,
            f"{where}: vertex {bad[0] // element_size} has a negative weight {w[bad[0]]:g}",
        )
    w = np.clip(w, 0.0, None).reshape(-1, element_size)
    sums = w.sum(axis=1)
    off = np.abs(sums - 1.0)
    limit = RENORMALISE_LIMIT if renormalise else WEIGHT_SUM_TOLERANCE
    bad = np.flatnonzero(off > limit)
    if len(bad):
        v = int(bad[0])
        what = (
            "has no weight (every vertex must be skinned)"
            if sums[v] == 0
            else (f"has weights summing to {sums[v]:.4g}; they must sum to 1")
        )
        raise ImportRefused(
            WEIGHTS_INVALID, f"{where}: vertex {v} {what} ({len(bad)} vertices like this)"
        )
    fixed = int(np.count_nonzero(off > WEIGHT_SUM_TOLERANCE))
    if renormalise:
        w = w / sums[:, None]
    return w.reshape(-1), fixed


def check_asset(root: Usd.Prim, *, kind: str) -> AssetCheck:
    """Check the asset under ``root`` strictly (see the module doc) and measure it at rest.

    ``kind`` is "twin" (needs a skeleton and a skinned mesh) or "garment".
    """
    skeletons = [UsdSkel.Skeleton(p) for p in _range(root) if p.IsA(UsdSkel.Skeleton)]
    joints = 0
    for skel in skeletons:
        joints = max(joints, _check_skeleton(skel))
    meshes = [p for p in _range(root) if p.IsA(UsdGeom.Mesh)]
    skinned: list[Usd.Prim] = []
    points = 0
    for prim in meshes:
        points += _check_mesh(prim)
        if _has_skin(prim):
            _check_skin(prim)
            skinned.append(prim)
    if kind == "twin" and not (skeletons and skinned):
        raise ImportRefused(
            SKELETON_MISSING,
            "a twin needs a Skeleton and a mesh skinned to it; this file has "
            f"{len(skeletons)} skeletons and {len(skinned)} skinned meshes",
        )
    # UsdSkel itself must agree that each skinned mesh is bound (its own rules, e.g. the
    # SkelRoot, are stricter than the rel targets checked above).
    rest = {str(m.prim.GetPath()): m for m in rest_meshes(root)}
    for prim in skinned:
        if str(prim.GetPath()) not in rest:
            raise ImportRefused(
                SKELETON_UNRESOLVED,
                f"{prim.GetPath()} has skin weights but UsdSkel can't skin it: it must sit "
                "under a SkelRoot with its skeleton",
            )
    clouds = [m.world_points() for m in rest.values()]
    clouds += [world_points(p) for p in meshes if str(p.GetPath()) not in rest]
    cloud = np.concatenate(clouds) if clouds else np.zeros((0, 3))
    if not len(cloud) or not np.isfinite(cloud).all():
        raise ImportRefused(GEOMETRY_INVALID, f"{root.GetPath()} has no finite geometry at rest")
    lo, hi = cloud.min(axis=0), cloud.max(axis=0)
    check = AssetCheck(
        skeletons=len(skeletons),
        joints=joints,
        meshes=len(meshes),
        skinned_meshes=len(skinned),
        points=points,
        lo=(float(lo[0]), float(lo[1]), float(lo[2])),
        hi=(float(hi[0]), float(hi[1]), float(hi[2])),
    )
    low, high = SIZE_LIMITS_M[kind]
    if not low <= check.size <= high:
        what = "a person" if kind == "twin" else "a garment"
        raise ImportRefused(
            SIZE_IMPLAUSIBLE,
            f"the {kind} is {check.size:.3g} m at its largest side after conversion to metres; "
            f"{what} is {low:g}-{high:g} m: check the units (--units) and up axis (--up)",
        )
    return check


def _range(root: Usd.Prim) -> list[Usd.Prim]:
    return list(Usd.PrimRange(root, PREDICATE))


def _check_skeleton(skel: UsdSkel.Skeleton) -> int:
    where = f"skeleton {skel.GetPath()}"
    joints = [str(j) for j in (skel.GetJointsAttr().Get() or [])]
    check_joint_count(len(joints), where)
    ok, why = UsdSkel.Topology(joints).Validate()
    if not ok:
        raise ImportRefused(FILE_MALFORMED, f"{where}: {why}")
    bind = skel.GetBindTransformsAttr().Get()
    if bind is None or len(bind) != len(joints):
        raise ImportRefused(
            FILE_MALFORMED, f"{where} needs one bindTransform per joint ({len(joints)})"
        )
    rest = skel.GetRestTransformsAttr().Get()
    if rest is not None and len(rest) not in (0, len(joints)):
        raise ImportRefused(
            FILE_MALFORMED, f"{where} has {len(rest)} restTransforms for {len(joints)} joints"
        )
    b = np.array(bind, dtype=np.float64)
    if not np.isfinite(b).all() or (np.abs(np.linalg.det(b)) < 1e-12).any():
        raise ImportRefused(FILE_MALFORMED, f"{where} has a non-finite or singular bind transform")
    if rest is not None and len(rest) and not np.isfinite(np.array(rest)).all():
        raise ImportRefused(FILE_MALFORMED, f"{where} has a non-finite rest transform")
    return len(joints)


def _check_mesh(prim: Usd.Prim) -> int:
    mesh = UsdGeom.Mesh(prim)
    points = np.asarray(mesh.GetPointsAttr().Get(TIME) or [], dtype=np.float64)
    if not np.isfinite(points).all():
        raise ImportRefused(GEOMETRY_INVALID, f"{prim.GetPath()} has NaN or infinite points")
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get(TIME) or [], dtype=np.int64)
    indices = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(TIME) or [], dtype=np.int64)
    if (counts < 3).any() or counts.sum() != len(indices):
        raise ImportRefused(
            GEOMETRY_INVALID,
            f"{prim.GetPath()}: faceVertexCounts (sum {counts.sum()}) don't match its "
            f"{len(indices)} faceVertexIndices, or a face has fewer than 3 corners",
        )
    if len(indices) and (indices.min() < 0 or indices.max() >= len(points)):
        raise ImportRefused(
            GEOMETRY_INVALID,
            f"{prim.GetPath()}: a face uses point {int(indices.max())} but it has {len(points)}",
        )
    return len(points)


def _has_skin(prim: Usd.Prim) -> bool:
    binding = UsdSkel.BindingAPI(prim)
    return any(
        pv and pv.HasAuthoredValue()
        for pv in (binding.GetJointIndicesPrimvar(), binding.GetJointWeightsPrimvar())
    )


def _check_skin(prim: Usd.Prim) -> None:
    where = str(prim.GetPath())
    binding = UsdSkel.BindingAPI(prim)
    ji, jw = binding.GetJointIndicesPrimvar(), binding.GetJointWeightsPrimvar()
    if not (ji and ji.HasAuthoredValue() and jw and jw.HasAuthoredValue()):
        raise ImportRefused(
            WEIGHTS_INVALID, f"{where} needs both skel:jointIndices and skel:jointWeights"
        )
    interp = {ji.GetInterpolation(), jw.GetInterpolation()}
    if not interp <= {UsdGeom.Tokens.vertex, UsdGeom.Tokens.constant} or len(interp) != 1:
        raise ImportRefused(
            WEIGHTS_INVALID, f"{where}: skin primvars must both be 'vertex' or both 'constant'"
        )
    k = ji.GetElementSize()
    if jw.GetElementSize() != k:
        raise ImportRefused(
            WEIGHTS_INVALID,
            f"{where}: jointIndices elementSize {k} != jointWeights elementSize "
            f"{jw.GetElementSize()}",
        )
    idx = np.asarray(ji.Get(TIME) or [], dtype=np.int64)
    w = np.asarray(jw.Get(TIME) or [], dtype=np.float64)
    n_points = len(UsdGeom.Mesh(prim).GetPointsAttr().Get(TIME) or [])
    expected = k if UsdGeom.Tokens.constant in interp else k * n_points
    if len(idx) != expected or len(w) != expected:
        raise ImportRefused(
            WEIGHTS_INVALID,
            f"{where}: {len(idx)} joint indices and {len(w)} weights, expected {expected} "
            f"({k} per point)",
        )
    skel = binding.GetInheritedSkeleton()
    if not skel:
        targets = _skeleton_targets(prim)
        said = (
            f"its skel:skeleton targets {targets[0]}, which is not a Skeleton"
            if targets
            else ("neither it nor an ancestor has a skel:skeleton binding")
        )
        raise ImportRefused(
            SKELETON_UNRESOLVED,
            f"{where} has skin weights but its skeleton does not resolve: {said}",
        )
    if not UsdSkel.Root.Find(prim):
        raise ImportRefused(
            SKELETON_UNRESOLVED,
            f"{where} is skinned but not under a SkelRoot, so UsdSkel ignores it",
        )
    skel_joints = [str(j) for j in (skel.GetJointsAttr().Get() or [])]
    order = binding.GetJointsAttr().Get() if binding.GetJointsAttr().HasAuthoredValue() else None
    if order is not None:
        missing = [str(j) for j in order if str(j) not in set(skel_joints)]
        if missing:
            raise ImportRefused(
                SKELETON_UNRESOLVED,
                f"{where}: its skel:joints name {missing[0]!r}, which {skel.GetPath()} lacks",
            )
    count = len(order) if order is not None else len(skel_joints)
    check_influences(idx, w, k, count, where, renormalise=False)
    gb = binding.GetGeomBindTransformAttr().Get(TIME)
    if gb is not None and not np.isfinite(np.array(gb)).all():
        raise ImportRefused(GEOMETRY_INVALID, f"{where} has a non-finite geomBindTransform")


def _skeleton_targets(prim: Usd.Prim) -> list[str]:
    p = prim
    while p and not p.IsPseudoRoot():
        rel = UsdSkel.BindingAPI(p).GetSkeletonRel()
        if rel and rel.HasAuthoredTargets():
            return [str(t) for t in rel.GetTargets()]
        p = p.GetParent()
    return []
