"""The MPFB2 game-engine rig placed on a shaped hm08 mesh, and its skin weights.

``rigs/standard/rig.game_engine.json`` gives each bone a parent, a roll and, for its head
and tail, a *strategy* over hm08 vertices: ``CUBE`` (the centre of a ``joint-*`` helper
cube), ``MEAN`` (the mean of listed vertices) or ``VERTEX`` (one vertex). Placing the
joints on the shaped mesh is what makes the skeleton follow the body shape.

Bone frames follow Blender: +Y runs from head to tail, and X/Z come from the smallest
rotation taking Blender's +Y onto the bone, then ``roll`` about it. They are computed in
Blender's axes (Z up, -Y forward; the MPFB data was authored there) and expressed in the
studio's (Y up, +Z forward).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinstudio.assets.mpfb.obj import BaseMesh, FloatArray, IntArray

# Studio (Y up, +Z forward) from Blender (Z up, -Y forward): (x, y, z) = (bx, bz, -by).
BLENDER_TO_STUDIO = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class Rig:
    """Bones in parent-first order: names, parent indices (-1: root), rolls (radians)."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    rolls: tuple[float, ...]
    heads: tuple[Mapping[str, Any], ...]  # strategy records from the rig JSON
    tails: tuple[Mapping[str, Any], ...]

    @property
    def tokens(self) -> tuple[str, ...]:
        """UsdSkel joint paths, e.g. ``Root/pelvis/spine_01``."""
        out: list[str] = []
        for name, parent in zip(self.names, self.parents, strict=True):
            out.append(name if parent < 0 else f"{out[parent]}/{name}")
        return tuple(out)


def parse_rig(rig_json: Mapping[str, Any]) -> Rig:
    """Order the bones depth first from the root, children in the file's order."""
    bones: Mapping[str, Any] = rig_json.get("bones", rig_json)
    roots = [n for n, b in bones.items() if not b.get("parent")]
    if len(roots) != 1:
        raise ValueError(f"a rig needs exactly one root bone, found {roots}")
    names: list[str] = []
    parents: list[int] = []
    stack: list[tuple[str, int]] = [(roots[0], -1)]
    while stack:
        name, parent = stack.pop()
        index = len(names)
        names.append(name)
        parents.append(parent)
        children = [n for n, b in bones.items() if b.get("parent") == name]
        stack.extend((child, index) for child in reversed(children))
    return Rig(
        names=tuple(names),
        parents=tuple(parents),
        rolls=tuple(float(bones[n]["roll"]) for n in names),
        heads=tuple(bones[n]["head"] for n in names),
        tails=tuple(bones[n]["tail"] for n in names),
    )


def _place(record: Mapping[str, Any], mesh: BaseMesh, points: FloatArray) -> FloatArray:
    strategy = record["strategy"]
    if strategy == "CUBE":
        idx: IntArray = mesh.groups[record["cube_name"]].vertex_set
    elif strategy == "MEAN":
        idx = np.asarray(record["vertex_indices"], dtype=np.int64)
    elif strategy == "VERTEX":
        idx = np.asarray([record["vertex_index"]], dtype=np.int64)
    else:
        raise ValueError(f"unknown joint strategy {strategy!r}")
    out: FloatArray = points[idx].mean(axis=0)
    return out


def joint_positions(rig: Rig, mesh: BaseMesh, points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(heads, tails), each (bones, 3), on ``points`` (the shaped hm08 vertices)."""
    heads = np.stack([_place(r, mesh, points) for r in rig.heads])
    tails = np.stack([_place(r, mesh, points) for r in rig.tails])
    return heads, tails


def _axis_angle(axis: FloatArray, angle: float) -> FloatArray:
    x, y, z = axis
    c, s, t = np.cos(angle), np.sin(angle), 1.0 - np.cos(angle)
    return np.array(
        [
            [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
            [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
            [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
        ]
    )


def bone_matrix(direction: FloatArray, roll: float) -> FloatArray:
    """Blender's ``vec_roll_to_mat3``: columns are the bone's X, Y, Z axes (Blender axes)."""
    x, y, z = direction / np.linalg.norm(direction)
    theta = 1.0 + y
    theta_alt = x * x + z * z
    if theta > 1e-5 or theta_alt > 1e-9:
        if theta <= 1e-5:  # close to -Y: Blender's Taylor expansion
            theta = theta_alt * 0.5 + theta_alt * theta_alt * 0.125
        b = np.array(
            [
                [1.0 - x * x / theta, x, -x * z / theta],
                [-x, y, -z],
                [-x * z / theta, z, 1.0 - z * z / theta],
            ]
        )
    else:  # exactly -Y
        b = np.diag([-1.0, -1.0, 1.0])
    out: FloatArray = _axis_angle(np.array([x, y, z]), roll) @ b
    return out


def bone_frames(rig: Rig, heads: FloatArray, tails: FloatArray) -> FloatArray:
    """(bones, 4, 4) world frames, column vectors, studio axes: rotation columns are the
    bone's X, Y (head to tail), Z; the translation is the head."""
    to_blender = BLENDER_TO_STUDIO.T
    frames = np.zeros((len(rig.names), 4, 4))
    for i, roll in enumerate(rig.rolls):
        rot = bone_matrix(to_blender @ (tails[i] - heads[i]), roll)
        frames[i, :3, :3] = BLENDER_TO_STUDIO @ rot
        frames[i, :3, 3] = heads[i]
        frames[i, 3, 3] = 1.0
    return frames


def skin_influences(
    rig: Rig, weights_json: Mapping[str, Any], vertex_count: int, per_vertex: int
) -> tuple[IntArray, FloatArray]:
    """(vertex_count, per_vertex) joint indices and weights: each vertex's strongest
    ``per_vertex`` influences, renormalised to sum to 1 (unused slots: joint 0, weight 0).
    Raises ValueError if a vertex has no weight at all."""
    dense = np.zeros((vertex_count, len(rig.names)))
    index = {name: i for i, name in enumerate(rig.names)}
    for bone, pairs in weights_json["weights"].items():
        if pairs:
            arr = np.asarray(pairs, dtype=np.float64)
            dense[arr[:, 0].astype(np.int64), index[bone]] += arr[:, 1]
    return strongest_influences(dense, per_vertex)


def strongest_influences(dense: FloatArray, k: int) -> tuple[IntArray, FloatArray]:
    """Each row's ``k`` largest weights of a (vertices, joints) matrix, as (indices,
    weights) renormalised to sum to 1 (unused slots: joint 0, weight 0). Raises
    ValueError if a row has no weight at all."""
    order = np.argsort(-dense, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(dense, order, axis=1)
    total = w.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError(f"{int(np.sum(total <= 0))} vertices have no skin weight")
    w = w / total
    order[w == 0] = 0
    return order.astype(np.int64), w
