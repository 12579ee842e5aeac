"""Skin a static garment to a twin: borrow the weights of the nearest body vertices.

For each garment vertex, the 4 nearest body vertices (the body skinned at rest, in its
skeleton's space) lend their joint weights, blended by inverse distance; the 4 strongest
joints are kept and renormalised. The garment's points are then moved into the body's
bind space (through the inverse of each vertex's blended rest skinning matrix), so that
at rest the garment sits exactly where it was modelled and in any pose it follows the
body the way the body's own nearby skin does.

A garment whose vertices are a median of more than ``FIT_LIMIT_M`` from the body is
refused: it was modelled for another body, or its units or up axis are wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pxr import Tf, Usd, UsdGeom, UsdSkel
from scipy.spatial import cKDTree

from twinstudio.assets.importers.report import (
    FILE_UNREADABLE,
    GARMENT_DOES_NOT_FIT,
    SKELETON_MISSING,
    ImportRefused,
)
from twinstudio.assets.importers.rest_pose import TIME, rest_meshes, rest_skinning_transforms

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
NEIGHBOURS = 4
INFLUENCES = 4
FIT_LIMIT_M = 0.10
_MIN_DISTANCE_M = 1e-4  # inverse-distance weights stay finite on the body surface
_CHUNK = 4096


@dataclass(frozen=True)
class Body:
    """A twin's skinned body at rest, in its skeleton's space."""

    path: Path
    root: str  # the twin's default prim name
    joints: list[str]  # skeleton joint tokens
    points: F64  # (N, 3)
    indices: I64  # (N, k) skeleton joint indices
    weights: F64  # (N, k)
    rest_skinning: F64  # (J, 4, 4) row vectors: inverse(bind) * rest, per joint
    skel_to_root: F64  # 4x4 row vectors


@dataclass(frozen=True)
class Fit:
    indices: I64  # (G, k), k = INFLUENCES or fewer if the skeleton has fewer joints
    weights: F64  # (G, k), rows sum to 1
    bind_points: F64  # (G, 3) skeleton (bind) space
    median_distance: float
    max_distance: float


def load_body(path: Path) -> Body:
    """The skinned body of the twin asset at ``path`` (its largest skeleton's meshes)."""
    try:
        stage = Usd.Stage.Open(str(path))
    except Tf.ErrorException:
        stage = None
    if stage is None or not stage.GetDefaultPrim():
        raise ImportRefused(FILE_UNREADABLE, f"the twin {path} does not open as a USD asset")
    root = stage.GetDefaultPrim()
    if not root.IsA(UsdSkel.Root):
        raise ImportRefused(
            SKELETON_MISSING,
            f"the twin {path.name}'s root prim {root.GetPath()} must be its SkelRoot, so that "
            "garments placed under it are skinned (as the studio's and imported twins are)",
        )
    meshes = list(rest_meshes(root))
    if not meshes:
        raise ImportRefused(
            SKELETON_MISSING, f"the twin {path.name} has no skinned body to fit a garment to"
        )
    main = max(meshes, key=lambda m: len(m.points))
    skel_path = main.skeleton.GetPath()
    joints = [str(j) for j in main.skel_query.GetJointOrder()]
    order = {j: i for i, j in enumerate(joints)}
    points, indices, weights = [], [], []
    k = max(
        m.query.GetNumInfluencesPerComponent() for m in meshes if m.skeleton.GetPath() == skel_path
    )
    for m in meshes:
        if m.skeleton.GetPath() != skel_path:
            continue
        n = len(m.points)
        idx, w = m.query.ComputeVaryingJointInfluences(n, TIME)
        mk = m.query.GetNumInfluencesPerComponent()
        idx = np.asarray(idx, dtype=np.int64).reshape(n, mk)
        w = np.asarray(w, dtype=np.float64).reshape(n, mk)
        mesh_order = m.query.GetJointOrder()
        if mesh_order:  # the mesh's own skel:joints order -> the skeleton's
            idx = np.asarray([order[str(j)] for j in mesh_order], dtype=np.int64)[idx]
        pad = k - mk
        points.append(m.points)
        indices.append(np.pad(idx, ((0, 0), (0, pad))))
        weights.append(np.pad(w, ((0, 0), (0, pad))))
    xforms = np.array(rest_skinning_transforms(main.skel_query))
    skel_world = np.array(
        UsdGeom.Xformable(main.skeleton.GetPrim()).ComputeLocalToWorldTransform(TIME)
    )
    root_world = np.array(UsdGeom.Xformable(root).ComputeLocalToWorldTransform(TIME))
    return Body(
        path=path,
        root=root.GetName(),
        joints=joints,
        points=np.concatenate(points),
        indices=np.concatenate(indices),
        weights=np.concatenate(weights),
        rest_skinning=xforms,
        skel_to_root=skel_world @ np.linalg.inv(root_world),
    )


def fit_garment(body: Body, points: F64) -> Fit:
    """Weights and bind-space points for garment ``points`` (the twin's root space)."""
    to_skel = np.linalg.inv(body.skel_to_root)
    p = points @ to_skel[:3, :3] + to_skel[3, :3]
    distance, nearest = cKDTree(body.points).query(p, k=NEIGHBOURS)
    median = float(np.median(distance[:, 0]))
    if median > FIT_LIMIT_M:
        raise ImportRefused(
            GARMENT_DOES_NOT_FIT,
            f"this garment does not fit the twin {body.path.name}: its points are a median "
            f"{median * 100:.1f} cm from the body (at most {FIT_LIMIT_M * 100:.0f} cm); "
            "check units (--units) and up axis (--up)",
        )
    lend = 1.0 / np.maximum(distance, _MIN_DISTANCE_M)
    lend /= lend.sum(axis=1, keepdims=True)
    n_joints = len(body.joints)
    k = min(INFLUENCES, n_joints)
    indices = np.zeros((len(p), k), dtype=np.int64)
    weights = np.zeros((len(p), k))
    for start in range(0, len(p), _CHUNK):
        rows = slice(start, start + _CHUNK)
        near = nearest[rows]
        dense = np.zeros((len(near), n_joints))
        contrib = body.weights[near] * lend[rows, :, None]  # (g, NEIGHBOURS, k)
        row_ids = np.broadcast_to(np.arange(len(near))[:, None, None], contrib.shape)
        np.add.at(dense, (row_ids, body.indices[near]), contrib)
        top = np.argsort(-dense, axis=1)[:, :INFLUENCES]
        indices[rows] = top
        weights[rows] = np.take_along_axis(dense, top, axis=1)
    weights /= weights.sum(axis=1, keepdims=True)
    # At rest the body skins by sum_j w_j inverse(bind_j) rest_j; undo the garment's blend
    # of it so that skinning at rest puts every garment point back where it was modelled.
    blend = np.einsum("gk,gkij->gij", weights, body.rest_skinning[indices])
    homogeneous = np.c_[p, np.ones(len(p))]
    bind = np.einsum("gi,gij->gj", homogeneous, np.linalg.inv(blend))
    return Fit(indices, weights, bind[:, :3] / bind[:, 3:], median, float(distance[:, 0].max()))
