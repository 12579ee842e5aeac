"""A UsdGeom.Mesh as triangles with per-vertex normals, UVs and display colours.

Pure numpy and pxr (no pyrender, trimesh or OpenGL), so anything that needs a stage's
meshes as triangles can use it: :func:`mesh_topology` triangulates a mesh and lays out its
primvars per render vertex; the points stay separate (a :class:`Topology` is reused when
only the points change, e.g. a re-skin). Lengths are the stage's scene units, as authored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pxr import Usd, UsdGeom

log = logging.getLogger(__name__)

TIME = Usd.TimeCode.Default()
F32 = np.float32


@dataclass(frozen=True)
class Topology:
    """A mesh's triangles and per-vertex attributes, ready for pyrender, minus its points.

    A render vertex is a USD point when every attribute is per point, else a face corner
    (faceVarying/uniform data splits vertices); ``point_index`` maps it to its USD point so
    a re-skin only needs the new points.
    """

    point_index: np.ndarray  # (V,) USD point behind each render vertex
    triangles: np.ndarray  # (T, 3) uint32 render vertices
    point_triangles: np.ndarray  # (T, 3) the same triangles over USD points (smooth normals)
    num_points: int
    normals: np.ndarray | None  # (V, 3) authored normals (before skinning)
    uvs: np.ndarray | None  # (V, 2)
    colors: np.ndarray | None  # (V, 4) varying displayColor/Opacity (meshes without material)
    display: tuple[float, float, float, float] | None  # uniform displayColor/Opacity


def flattened_primvar(pv: UsdGeom.Primvar) -> tuple[np.ndarray, str] | None:
    """``pv``'s flattened values as a float32 (N, k) array and its interpolation, or None."""
    if not pv or not pv.HasAuthoredValue():
        return None
    values = pv.ComputeFlattened(TIME)
    if values is None or len(values) == 0:
        return None
    arr = np.asarray(values, dtype=F32)
    return arr.reshape(len(arr), -1), str(pv.GetInterpolation())


def fan_triangles(counts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Fan-triangulate the kept faces: (T, 3) face-corner indices."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ntri = np.where(keep, counts - 2, 0)
    face = np.repeat(np.arange(len(counts)), ntri)
    local = np.arange(int(ntri.sum())) - np.repeat(np.cumsum(ntri) - ntri, ntri)
    s = starts[face]
    return np.stack([s, s + local + 1, s + local + 2], axis=1)


def mesh_topology(mesh: UsdGeom.Mesh, uv_name: str, want_colors: bool) -> Topology | None:
    """Triangulate ``mesh`` and lay out its normals, UVs and colours per render vertex.

    None (with a warning) for a mesh without points or faces, or whose face indices don't
    match its points. ``want_colors`` reads displayColor/Opacity (for meshes without a
    material); ``uv_name`` is the primvar the bound material reads its UVs from.
    """
    path = mesh.GetPath()
    points = mesh.GetPointsAttr().Get(TIME)
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get(TIME) or [], dtype=np.int64)
    fvi = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(TIME) or [], dtype=np.int64)
    n_points = len(points) if points is not None else 0
    if n_points == 0 or len(counts) == 0:
        return None
    if counts.sum() != len(fvi) or (len(fvi) and (fvi.min() < 0 or fvi.max() >= n_points)):
        log.warning(
            "%s: faceVertexCounts/Indices don't match its %d points; skipped", path, n_points
        )
        return None
    keep = counts >= 3
    if not keep.all():
        log.warning("%s: %d faces with fewer than 3 vertices skipped", path, int((~keep).sum()))
    holes = np.asarray(mesh.GetHoleIndicesAttr().Get(TIME) or [], dtype=np.int64)
    if len(holes):  # USD holes are faces punched out of the surface: leave them out
        keep[holes[(holes >= 0) & (holes < len(counts))]] = False
    corners = fan_triangles(counts, keep)
    if mesh.GetOrientationAttr().Get(TIME) == UsdGeom.Tokens.leftHanded:
        corners = corners[:, [0, 2, 1]]

    api = UsdGeom.PrimvarsAPI(mesh.GetPrim())
    normals = flattened_primvar(api.GetPrimvar("normals"))
    if normals is None:
        authored = mesh.GetNormalsAttr().Get(TIME)
        if authored is not None and len(authored):
            normals = (np.asarray(authored, dtype=F32), str(mesh.GetNormalsInterpolation()))
    uvs = flattened_primvar(api.GetPrimvar(uv_name))
    colors = flattened_primvar(api.GetPrimvar("displayColor")) if want_colors else None
    opacity = flattened_primvar(api.GetPrimvar("displayOpacity")) if want_colors else None

    attrs = [a for a in (normals, uvs, colors, opacity) if a is not None]
    per_corner = any(interp in ("uniform", "faceVarying") for _, interp in attrs)
    face_of_corner = np.repeat(np.arange(len(counts)), counts)
    if per_corner:
        point_index, triangles = fvi, corners
    else:
        point_index, triangles = np.arange(n_points), fvi[corners]

    def expand(item: tuple[np.ndarray, str] | None, name: str) -> np.ndarray | None:
        if item is None:
            return None
        values, interp = item
        need = {"constant": 1, "uniform": len(counts), "faceVarying": len(fvi)}.get(
            interp, n_points
        )
        if len(values) < need:
            msg = "%s: %s has %d values, %s needs %d; ignored"
            log.warning(msg, path, name, len(values), interp, need)
            return None
        if interp == "constant":
            return np.broadcast_to(values[0], (len(point_index), values.shape[1])).copy()
        if interp == "uniform":
            return values[face_of_corner]
        if interp == "faceVarying":
            return values[: len(fvi)]
        return values[point_index]  # vertex / varying

    rgba, display = display_colors(
        expand(colors, "displayColor"), expand(opacity, "displayOpacity"), len(point_index)
    )
    uv = expand(uvs, uv_name)  # pyrender flips images on upload: v = 0 is the bottom, as in USD
    return Topology(
        point_index=point_index,
        triangles=triangles.astype(np.uint32),
        point_triangles=fvi[corners],
        num_points=n_points,
        normals=expand(normals, "normals"),
        uvs=None if uv is None else uv[:, :2],
        colors=rgba,
        display=display,
    )


def display_colors(
    rgb: np.ndarray | None, alpha: np.ndarray | None, n: int
) -> tuple[np.ndarray | None, tuple[float, float, float, float] | None]:
    """(per-vertex RGBA, None) when the colours vary, else (None, the one RGBA or None)."""
    if rgb is None and alpha is None:
        return None, None
    rgba = np.ones((n, 4), dtype=F32)
    if rgb is not None:
        rgba[:, :3] = rgb[:, :3]
    if alpha is not None:
        rgba[:, 3] = alpha[:, 0]
    if n and (rgba == rgba[0]).all():
        r, g, b, a = (float(x) for x in rgba[0])
        return None, (r, g, b, a)
    return rgba, None


def smooth_normals(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals over shared points; unshared points come out flat."""
    tri = points[triangles]
    face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = np.zeros_like(points)
    flat = triangles.reshape(-1)
    for axis in range(3):
        out[:, axis] = np.bincount(flat, np.repeat(face[:, axis], 3), minlength=len(points))
    return unit_rows(out)


def unit_rows(v: np.ndarray) -> np.ndarray:
    """Each row of ``v`` scaled to unit length (zero rows stay zero), as float32."""
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.where(n > 1e-20, n, 1.0)).astype(F32)
