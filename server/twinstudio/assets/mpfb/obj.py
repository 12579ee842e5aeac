"""The MakeHuman hm08 base mesh (``3dobjs/base.obj``), with its vertex numbering intact.

Targets, rig joint strategies and skin weights all address hm08 vertices by their index
in this file, so :class:`BaseMesh` keeps every vertex (body, helpers and joint cubes) in
file order and gives each face group as indices into that one array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class FaceGroup:
    """The faces of one ``g`` group: ``counts[i]`` corners each, flattened in order."""

    counts: IntArray
    vertices: IntArray  # 0-based indices into BaseMesh.points
    uvs: IntArray  # 0-based indices into BaseMesh.uvs (-1 where a corner has none)

    @property
    def vertex_set(self) -> IntArray:
        """The distinct vertices the group uses, sorted."""
        return np.unique(self.vertices)


@dataclass(frozen=True)
class BaseMesh:
    """All hm08 vertices (decimetres, Y up, facing +Z, the model's left on +X)."""

    points: FloatArray  # (19158, 3)
    uvs: FloatArray  # (T, 2)
    groups: dict[str, FaceGroup]


def parse_obj(text: str) -> BaseMesh:
    """Parse an OBJ file's text; repeated ``g`` names accumulate into one group."""
    points: list[tuple[float, float, float]] = []
    uvs: list[tuple[float, float]] = []
    faces: dict[str, tuple[list[int], list[int], list[int]]] = {}
    current = faces.setdefault("default", ([], [], []))
    for line in text.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "v":
            x, y, z = rest.split()[:3]
            points.append((float(x), float(y), float(z)))
        elif tag == "vt":
            u, v = rest.split()[:2]
            uvs.append((float(u), float(v)))
        elif tag == "g":
            current = faces.setdefault(rest.strip(), ([], [], []))
        elif tag == "f":
            corners = rest.split()
            current[0].append(len(corners))
            for corner in corners:
                vi, _, ti = corner.partition("/")
                current[1].append(int(vi) - 1)
                current[2].append(int(ti.partition("/")[0]) - 1 if ti else -1)
    groups = {
        name: FaceGroup(
            np.asarray(c, dtype=np.int64), np.asarray(v, dtype=np.int64), np.asarray(t, np.int64)
        )
        for name, (c, v, t) in faces.items()
        if c
    }
    return BaseMesh(np.asarray(points, dtype=np.float64), np.asarray(uvs, np.float64), groups)
