"""Cut a polygon mesh along the zero line of a per-vertex scalar field.

A garment's outline is where its fields cross zero (a hem height, a sleeve length, a
neckline), not where the body's polygons happen to end, so hems come out as clean curves.
:func:`clip` keeps the part where the field is >= 0: polygons wholly inside are kept as
they are, polygons the zero line crosses are cut (Sutherland-Hodgman), and every vertex
attribute is interpolated onto the new rim vertices, which neighbouring polygons share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from twinstudio.assets.wardrobe.surface import FloatArray, IntArray, face_starts


@dataclass(frozen=True)
class PolyMesh:
    """Polygons over vertices with named per-vertex attributes (each (V, k) float)."""

    counts: IntArray
    indices: IntArray
    attrs: dict[str, FloatArray] = field(default_factory=dict)

    @property
    def vertex_count(self) -> int:
        return len(next(iter(self.attrs.values())))

    def with_attr(self, name: str, values: FloatArray) -> PolyMesh:
        return PolyMesh(self.counts, self.indices, {**self.attrs, name: values})


def clip(mesh: PolyMesh, values: FloatArray) -> PolyMesh:
    """The part of ``mesh`` where the per-vertex ``values`` are >= 0 (see the module doc)."""
    inside = values >= 0.0
    starts = face_starts(mesh.counts)
    face_of = np.repeat(np.arange(len(mesh.counts)), mesh.counts)
    corners_in = inside[mesh.indices]
    n_in = np.bincount(face_of, weights=corners_in, minlength=len(mesh.counts))
    whole = n_in == mesh.counts
    crossed = np.nonzero((n_in > 0) & ~whole)[0]

    n = mesh.vertex_count
    new_vertices: dict[tuple[int, int], int] = {}
    lerps: list[tuple[int, int, float]] = []
    counts: list[int] = []
    corners: list[int] = []

    def rim_vertex(a: int, b: int) -> int:
        key = (a, b) if a < b else (b, a)
        if key not in new_vertices:
            t = values[key[0]] / (values[key[0]] - values[key[1]])
            new_vertices[key] = n + len(lerps)
            lerps.append((key[0], key[1], float(t)))
        return new_vertices[key]

    for f in crossed.tolist():
        ring = mesh.indices[starts[f] : starts[f] + mesh.counts[f]].tolist()
        out: list[int] = []
        for i, a in enumerate(ring):
            b = ring[(i + 1) % len(ring)]
            if inside[a]:
                out.append(a)
            if inside[a] != inside[b]:
                out.append(rim_vertex(a, b))
        if len(out) >= 3:
            counts.append(len(out))
            corners.extend(out)

    kept = whole[face_of]
    all_counts = np.concatenate([mesh.counts[whole], np.asarray(counts, dtype=np.int64)])
    all_indices = np.concatenate([mesh.indices[kept], np.asarray(corners, dtype=np.int64)])
    attrs = dict(mesh.attrs)
    if lerps:
        lerp = np.asarray(lerps)
        ia, ib, t = lerp[:, 0].astype(np.int64), lerp[:, 1].astype(np.int64), lerp[:, 2:3]
        attrs = {k: np.concatenate([v, v[ia] * (1.0 - t) + v[ib] * t]) for k, v in attrs.items()}
    return compact(PolyMesh(all_counts, all_indices.astype(np.int64), attrs))


def compact(mesh: PolyMesh) -> PolyMesh:
    """Drop the vertices no polygon uses (renumbering the rest in order)."""
    used = np.unique(mesh.indices)
    remap = np.full(mesh.vertex_count, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return PolyMesh(mesh.counts, remap[mesh.indices], {k: v[used] for k, v in mesh.attrs.items()})


def keep_large_pieces(mesh: PolyMesh, fraction: float = 0.05) -> PolyMesh:
    """Drop connected pieces smaller than ``fraction`` of the largest (stray islands)."""
    n = mesh.vertex_count
    face_of = np.repeat(np.arange(len(mesh.counts)), mesh.counts)
    starts = face_starts(mesh.counts)
    first = mesh.indices[starts][face_of]
    graph = coo_matrix((np.ones(len(mesh.indices)), (first, mesh.indices)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    size = np.bincount(label)
    good = size[label] >= fraction * size.max()
    keep_face = good[mesh.indices[starts]]
    keep_corner = keep_face[face_of]
    return compact(PolyMesh(mesh.counts[keep_face], mesh.indices[keep_corner], mesh.attrs))
