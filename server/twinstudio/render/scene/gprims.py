"""UsdGeom's implicit surfaces (Sphere, Cube, Cylinder, Cone, Capsule) as triangle meshes.

Tessellated with trimesh (numpy only: no pyrender or OpenGL), into the same
:class:`~twinstudio.render.scene.topology.Topology` a Mesh gets. Lengths are the stage's
scene units, as authored.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh
from pxr import Usd, UsdGeom

from twinstudio.render.scene.topology import F32, TIME, Topology, display_colors, flattened_primvar

GPRIMS = ("Sphere", "Cube", "Cylinder", "Cone", "Capsule")


def gprim_topology(prim: Usd.Prim) -> tuple[Topology, np.ndarray] | None:
    """Sphere/Cube/Cylinder/Cone/Capsule as a triangle mesh (topology, points); None for any
    other prim type."""

    def get(name: str, default: float) -> float:
        v = prim.GetAttribute(name).Get(TIME)
        return float(v) if v is not None else default

    kind = prim.GetTypeName()
    if kind == "Sphere":
        tm = trimesh.creation.icosphere(subdivisions=3, radius=get("radius", 1.0))
    elif kind == "Cube":
        tm = trimesh.creation.box(extents=[get("size", 2.0)] * 3)
    elif kind == "Cylinder":
        tm = trimesh.creation.cylinder(radius=get("radius", 1.0), height=get("height", 2.0))
    elif kind == "Cone":
        height = get("height", 2.0)
        tm = trimesh.creation.cone(radius=get("radius", 1.0), height=height)
        tm.apply_translation([0.0, 0.0, -height / 2.0])  # USD cones are centred
    elif kind == "Capsule":
        tm = trimesh.creation.capsule(height=get("height", 1.0), radius=get("radius", 0.5))
    else:
        return None
    tm = trimesh.graph.smooth_shade(tm, angle=math.radians(30))  # split the sharp edges
    points = np.asarray(tm.vertices, dtype=F32)
    normals = np.asarray(tm.vertex_normals, dtype=F32)
    axis = prim.GetAttribute("axis").Get(TIME) or "Z"
    if axis in ("X", "Y"):  # trimesh builds along +Z; rotate +Z onto the USD axis
        order, flip = ([2, 1, 0], [1, 1, -1]) if axis == "X" else ([0, 2, 1], [1, 1, -1])
        points = points[:, order] * np.array(flip, dtype=F32)
        normals = normals[:, order] * np.array(flip, dtype=F32)
    faces = np.asarray(tm.faces, dtype=np.int64)
    api = UsdGeom.PrimvarsAPI(prim)
    rgb = flattened_primvar(api.GetPrimvar("displayColor"))
    alpha = flattened_primvar(api.GetPrimvar("displayOpacity"))
    # gprims take their first (constant) display colour only
    _, display = display_colors(rgb[0][:1] if rgb else None, alpha[0][:1] if alpha else None, 1)
    n = len(points)
    topo = Topology(np.arange(n), faces.astype(np.uint32), faces, n, normals, None, None, display)
    return topo, points
