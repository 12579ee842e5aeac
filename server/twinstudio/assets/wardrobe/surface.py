"""Geometry over polygon meshes: triangles, normals, smoothing, and distance to the skin.

:class:`SkinSurface` answers "how far outside the body is this point?" with the exact
closest point on the body's triangles (searched among the triangles nearest to it), signed
by the triangle's normal: negative inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.spatial import cKDTree

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def face_starts(counts: IntArray) -> IntArray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def triangulate(counts: IntArray, indices: IntArray) -> IntArray:
    """(T, 3) fan triangles of polygons given as corner counts and flattened indices."""
    starts = face_starts(counts)
    tris = [
        np.stack(
            [indices[starts[sel]], indices[starts[sel] + k], indices[starts[sel] + k + 1]], axis=1
        )
        for k in range(1, int(counts.max()) - 1)
        if (sel := np.nonzero(counts > k + 1)[0]).size
    ]
    return np.concatenate(tris).astype(np.int64)


def vertex_normals(points: FloatArray, tris: IntArray) -> FloatArray:
    """Area-weighted unit vertex normals (zero for unused vertices)."""
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    fn = np.cross(b - a, c - a)
    n = np.zeros_like(points)
    for k in range(3):
        np.add.at(n, tris[:, k], fn)
    return unit(n)


def unit(v: FloatArray) -> FloatArray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    out: FloatArray = v / np.where(norm > 1e-12, norm, 1.0)
    return out


def edges_of(counts: IntArray, indices: IntArray) -> IntArray:
    """(E, 2) directed edges, one per polygon corner (corner -> next corner)."""
    starts = face_starts(counts)
    pos = np.arange(len(indices))
    face = np.repeat(np.arange(len(counts)), counts)
    nxt = np.where(pos + 1 - starts[face] == counts[face], starts[face], pos + 1)
    return np.stack([indices, indices[nxt]], axis=1)


def adjacency(n: int, counts: IntArray, indices: IntArray) -> sparse.csr_matrix:
    """Symmetric 0/1 vertex adjacency over polygon edges."""
    e = edges_of(counts, indices)
    m = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    m = m + m.T
    m.data[:] = 1.0
    return m


def smoothing_operator(n: int, counts: IntArray, indices: IntArray) -> sparse.csr_matrix:
    """Row-normalised adjacency: ``op @ x`` is each vertex's neighbour mean."""
    adj = adjacency(n, counts, indices)
    deg = np.asarray(adj.sum(axis=1)).ravel()
    result: sparse.csr_matrix = sparse.diags(1.0 / np.maximum(deg, 1.0)) @ adj
    return result


def boundary_edges(counts: IntArray, indices: IntArray) -> IntArray:
    """Directed edges that no other polygon shares (the open rims: hems, cuffs, necklines)."""
    e = edges_of(counts, indices)
    key = np.sort(e, axis=1)
    _, inverse, seen = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    edges: IntArray = e[seen[inverse.ravel()] == 1]
    return edges


@dataclass
class SkinSurface:
    """The body's triangles, for signed distances of garment points to the skin."""

    points: FloatArray
    tris: IntArray

    def __post_init__(self) -> None:
        a, b, c = (self.points[self.tris[:, k]] for k in range(3))
        self._abc = (a, b, c)
        self._normals = unit(np.cross(b - a, c - a))
        self._tree = cKDTree((a + b + c) / 3.0)

    def signed_distance(self, q: FloatArray, k: int = 12) -> tuple[FloatArray, FloatArray]:
        """(distance, outward normal at the closest point) for each point of ``q``:
        distance to the nearest of the ``k`` triangles whose centres are closest, negative
        when the point is behind (inside) that triangle."""
        dist, normal, _, _ = self.closest(q, k)
        return dist, normal

    def closest(
        self, q: FloatArray, k: int = 12
    ) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
        """(signed distance, normal, triangle index, barycentric coordinates (n, 3)) of
        the closest point on the surface to each point of ``q`` (see signed_distance)."""
        _, cand = self._tree.query(q, k=k)
        a, b, c = (x[cand] for x in self._abc)
        closest = closest_on_triangles(q[:, None, :], a, b, c)
        d2 = np.sum((q[:, None, :] - closest) ** 2, axis=2)
        best = np.argmin(d2, axis=1)
        rows = np.arange(len(q))
        tri = cand[rows, best]
        point = closest[rows, best]
        normal = self._normals[tri]
        side = np.sign(np.sum((q - point) * normal, axis=1))
        side[side == 0] = 1.0
        bary = barycentric(point, *(x[tri] for x in self._abc))
        return side * np.sqrt(d2[rows, best]), normal, tri, bary


def barycentric(p: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """(n, 3) barycentric coordinates of points ``p`` lying on triangles ``abc``."""
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11 = _dot(v0, v0), _dot(v0, v1), _dot(v1, v1)
    d20, d21 = _dot(v2, v0), _dot(v2, v1)
    denom = d00 * d11 - d01 * d01
    denom = np.where(np.abs(denom) > 1e-30, denom, 1e-30)
    v = (d11 * d20 - d01 * d21) / denom
    w = (d00 * d21 - d01 * d20) / denom
    out: FloatArray = np.clip(np.stack([1.0 - v - w, v, w], axis=1), 0.0, 1.0)
    out /= out.sum(axis=1, keepdims=True)
    return out


def closest_on_triangles(p: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """Closest points to ``p`` on triangles ``abc`` (broadcasting; Ericson, RTCD 5.1.5)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    denom = va + vb + vc
    denom = np.where(np.abs(denom) > 1e-30, denom, 1e-30)
    v = vb / denom
    w = vc / denom
    out = a + ab * v[..., None] + ac * w[..., None]  # inside the face
    # Edges and vertices, in reverse order of precedence so the first region wins.
    bc_w = (d4 - d3) / np.where((d4 - d3) + (d5 - d6) != 0, (d4 - d3) + (d5 - d6), 1e-30)
    out = np.where(((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0))[..., None],
                   b + (c - b) * bc_w[..., None], out)  # fmt: skip
    ac_w = d2 / np.where(d2 - d6 != 0, d2 - d6, 1e-30)
    out = np.where(((vb <= 0) & (d2 >= 0) & (d6 <= 0))[..., None], a + ac * ac_w[..., None], out)
    out = np.where(((d6 >= 0) & (d5 <= d6))[..., None], c, out)
    ab_v = d1 / np.where(d1 - d3 != 0, d1 - d3, 1e-30)
    out = np.where(((vc <= 0) & (d1 >= 0) & (d3 <= 0))[..., None], a + ab * ab_v[..., None], out)
    out = np.where(((d3 >= 0) & (d4 <= d3))[..., None], b, out)
    out = np.where(((d1 <= 0) & (d2 <= 0))[..., None], a, out)
    result: FloatArray = out
    return result


def _dot(x: FloatArray, y: FloatArray) -> FloatArray:
    out: FloatArray = np.sum(x * y, axis=-1)
    return out
