"""A strict Wavefront OBJ reader for garments: positions, polygons and one UV set.

Strict because a garment with a bad index or a NaN must be refused with the line that is
wrong, not silently repaired (general mesh loaders drop or clamp such faces). Vertex
order is kept exactly; polygons stay polygons (USD takes n-gons); UVs stay face-varying
(OBJ's own indexing), so seams never split vertices. Normals, materials (mtllib/usemtl),
groups, smoothing groups, lines and points are ignored, with a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from twinstudio.assets.importers.gltf_data import sniff
from twinstudio.assets.importers.report import (
    FILE_MALFORMED,
    FILE_UNREADABLE,
    FORMAT_UNSUPPORTED,
    GEOMETRY_INVALID,
    ImportRefused,
)

MAX_BYTES = 512 * 1024 * 1024
_IGNORED = {
    "vn": "normals (recomputed from the surface)",
    "mtllib": "materials (a fabric material is assigned)",
    "usemtl": "materials (a fabric material is assigned)",
    "g": "groups",
    "o": "object names",
    "s": "smoothing groups",
    "l": "line elements",
    "p": "point elements",
}


@dataclass
class ObjMesh:
    points: NDArray[np.float64]  # (N, 3)
    face_counts: NDArray[np.int64]
    face_indices: NDArray[np.int64]
    uvs: NDArray[np.float64] | None = None  # (M, 2)
    uv_indices: NDArray[np.int64] | None = None  # one per face corner
    notes: list[str] = field(default_factory=list)


def read_obj(path: Path) -> ObjMesh:
    """Parse ``path`` or refuse it, naming the offending line."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImportRefused(FILE_UNREADABLE, f"can't read {path}: {e.strerror}") from None
    other = sniff(data[:16])
    if other or b"\x00" in data[:4096]:
        raise ImportRefused(FORMAT_UNSUPPORTED, f"{path.name} is {other or 'binary'}, not OBJ")
    if len(data) > MAX_BYTES:
        raise ImportRefused(FILE_UNREADABLE, f"{path.name} is over {MAX_BYTES >> 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # only comments and names can be non-ASCII
    points: list[tuple[float, float, float]] = []
    uvs: list[tuple[float, float]] = []
    counts: list[int] = []
    corners: list[int] = []
    uv_corners: list[int] = []
    faces_without_uv = 0
    ignored: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, *args = line.split()
        where = f"{path.name} line {number}"
        if key == "v":
            x, y, z = _numbers(args, 3, where, "vertex")
            points.append((x, y, z))
        elif key == "vt":
            u, v = _numbers(args[:2], 2, where, "texture coordinate")
            uvs.append((u, v))
        elif key == "f":
            if len(args) < 3:
                raise ImportRefused(FILE_MALFORMED, f"{where}: a face needs at least 3 corners")
            has_uv = None
            for corner in args:
                parts = corner.split("/")
                corners.append(_index(parts[0], len(points), where, "vertex"))
                uv = parts[1] if len(parts) > 1 and parts[1] else None
                if has_uv is not None and has_uv != (uv is not None):
                    raise ImportRefused(
                        FILE_MALFORMED, f"{where}: some corners have a UV and some don't"
                    )
                has_uv = uv is not None
                if uv is not None:
                    uv_corners.append(_index(uv, len(uvs), where, "texture coordinate"))
            if not has_uv:
                faces_without_uv += 1
            counts.append(len(args))
        elif key in _IGNORED:
            ignored.add(_IGNORED[key])
        else:
            ignored.add(f"'{key}' statements")
    if not points or not counts:
        raise ImportRefused(GEOMETRY_INVALID, f"{path.name} has no faces: a garment is a mesh")
    mesh = ObjMesh(
        np.asarray(points, dtype=np.float64),
        np.asarray(counts, dtype=np.int64),
        np.asarray(corners, dtype=np.int64),
    )
    if uv_corners and not faces_without_uv:
        mesh.uvs = np.asarray(uvs, dtype=np.float64)
        mesh.uv_indices = np.asarray(uv_corners, dtype=np.int64)
    elif uv_corners:
        mesh.notes.append("UVs dropped: only some faces have them")
    mesh.notes.extend(f"OBJ {what} ignored" for what in sorted(ignored))
    return mesh


def _numbers(args: list[str], n: int, where: str, what: str) -> tuple[float, ...]:
    if len(args) < n:
        raise ImportRefused(FILE_MALFORMED, f"{where}: a {what} needs {n} numbers")
    try:
        values = tuple(float(a) for a in args[:n])
    except ValueError:
        raise ImportRefused(FILE_MALFORMED, f"{where}: {' '.join(args)!r} is not numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise ImportRefused(GEOMETRY_INVALID, f"{where}: a {what} is NaN or infinite")
    return values


def _index(token: str, count: int, where: str, what: str) -> int:
    """A 1-based (or negative, relative) OBJ index -> 0-based, checked against ``count``."""
    try:
        i = int(token)
    except ValueError:
        raise ImportRefused(FILE_MALFORMED, f"{where}: {token!r} is not a {what} index") from None
    resolved = i - 1 if i > 0 else count + i
    if i == 0 or not 0 <= resolved < count:
        raise ImportRefused(
            FILE_MALFORMED,
            f"{where}: {what} index {i} is out of range (the file has {count} so far)",
        )
    return resolved
