"""glTF mesh primitives -> point/face/skin arrays ready for a UsdGeom.Mesh.

Each primitive of each mesh node in the scene becomes one mesh:

- skinned (the node has a skin): points stay in the mesh's bind space; JOINTS_n/WEIGHTS_n
  become vertex jointIndices/jointWeights (elementSize 4 per set), re-indexed into the
  merged skeleton; weights off by quantisation are renormalised;
- attached to a joint (no skin, but an ancestor is a joint): rigidly bound to that joint
  (constant influence), points moved so the rest pose is unchanged;
- static: points baked to their world position.

Only indexed or plain TRIANGLES are read; strips, fans, lines, points, Draco and
meshopt compression are refused with a message saying how to re-export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinstudio.assets.importers.checks import check_influences
from twinstudio.assets.importers.gltf_data import GltfFile, item
from twinstudio.assets.importers.gltf_scene import Scene, Skeleton
from twinstudio.assets.importers.report import (
    FEATURE_UNSUPPORTED,
    FILE_MALFORMED,
    GEOMETRY_INVALID,
    WEIGHTS_INVALID,
    ImportRefused,
)
from twinstudio.assets.importers.units import Normalisation

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
TRIANGLES = 4
_MODES = {0: "POINTS", 1: "LINES", 2: "LINE_LOOP", 3: "LINE_STRIP", 5: "TRIANGLE_STRIP", 6: "FAN"}
_COMPRESSION = ("KHR_draco_mesh_compression", "EXT_meshopt_compression")


@dataclass
class MeshData:
    """One primitive, in studio space (metres, Y up)."""

    name: str
    points: F64
    face_indices: I64  # triangles, 3 per face
    normals: F64 | None
    st: F64 | None
    joint_indices: I64 | None  # (N*k,) vertex, or (1,) for a rigid mesh
    joint_weights: F64 | None
    element_size: int
    rigid: bool
    material: int | None
    double_sided: bool
    renormalised: int = 0


def read_meshes(
    f: GltfFile, scene: Scene, skel: Skeleton, norm: Normalisation, notes: list[str]
) -> list[MeshData]:
    """Every primitive of every mesh node in the scene (see the module doc)."""
    rest = scene.globals()
    joint_of = skel.index
    out: list[MeshData] = []
    ignored: set[str] = set()
    for n in scene.order:
        node = f.doc.nodes[n]
        if node.mesh is None:
            continue
        mesh = item(f.doc.meshes, node.mesh, f"node {n}'s mesh")
        base = str(mesh.name or node.name or f"mesh{node.mesh}")
        prims = list(mesh.primitives or [])
        rigid_joint = None
        if node.skin is None:
            p = scene.parent[n]
            while p is not None and p not in joint_of:
                p = scene.parent[p]
            rigid_joint = None if p is None else joint_of[p]
            # Points in the space the rigid joint's bind expects, or baked to world.
            to_bind = (
                rest[n]
                if rigid_joint is None
                else skel.bind[rigid_joint]
                @ np.linalg.inv(rest[skel.nodes[rigid_joint]] @ skel.unit[rigid_joint])
                @ rest[n]
            )
        else:
            to_bind = np.eye(4)
        for i, prim in enumerate(prims):
            where = f"mesh {node.mesh} ({base}) primitive {i}"
            data = _primitive(f, prim, where, node.skin, skel, ignored)
            name = base if len(prims) == 1 else f"{base}_{i}"
            data.name = name
            _place(data, to_bind, norm)
            if rigid_joint is not None:
                data.joint_indices = np.array([rigid_joint])
                data.joint_weights = np.array([1.0])
                data.element_size, data.rigid = 1, True
            out.append(data)
    notes.extend(sorted(ignored))
    return out


def _place(data: MeshData, to_bind: F64, norm: Normalisation) -> None:
    pts = data.points @ to_bind[:3, :3].T + to_bind[:3, 3]
    data.points = norm.points(pts)
    if data.normals is not None:
        normal_matrix = np.linalg.inv(to_bind[:3, :3]).T
        nrm = data.normals @ normal_matrix.T
        nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
        data.normals = norm.normals(nrm)


def _primitive(
    f: GltfFile, prim: Any, where: str, skin: int | None, skel: Skeleton, ignored: set[str]
) -> MeshData:
    mode = TRIANGLES if prim.mode is None else prim.mode
    if mode != TRIANGLES:
        raise ImportRefused(
            FEATURE_UNSUPPORTED,
            f"{where} draws {_MODES.get(mode, mode)}; only TRIANGLES are imported "
            "(triangulate the mesh when exporting)",
        )
    for ext in _COMPRESSION:
        if ext in (prim.extensions or {}):
            raise ImportRefused(
                FEATURE_UNSUPPORTED,
                f"{where} is compressed with {ext}; export without mesh compression",
            )
    attrs = prim.attributes
    if getattr(attrs, "POSITION", None) is None:
        raise ImportRefused(FILE_MALFORMED, f"{where} has no POSITION")
    points = _float_attr(f, attrs.POSITION, 3, f"{where} POSITION")
    if not np.isfinite(points).all():
        raise ImportRefused(GEOMETRY_INVALID, f"{where} has NaN or infinite positions")
    n = len(points)
    if prim.indices is not None:
        idx = f.accessor(prim.indices, f"{where} indices")
        if idx.shape[1] != 1 or idx.dtype.kind != "u":
            raise ImportRefused(FILE_MALFORMED, f"{where}: indices must be unsigned scalars")
        faces = idx[:, 0].astype(np.int64)
    else:
        faces = np.arange(n, dtype=np.int64)
    if len(faces) % 3:
        raise ImportRefused(FILE_MALFORMED, f"{where}: {len(faces)} indices aren't whole triangles")
    if len(faces) and faces.max() >= n:
        raise ImportRefused(
            FILE_MALFORMED, f"{where}: index {int(faces.max())} is past its {n} vertices"
        )
    normals = _optional(f, attrs, "NORMAL", 3, n, where)
    uv = _optional(f, attrs, "TEXCOORD_0", 2, n, where)
    st = None if uv is None else np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])  # glTF v is down
    if prim.targets:
        ignored.add("morph targets (blend shapes) are not imported")
    if getattr(attrs, "COLOR_0", None) is not None:
        ignored.add("vertex colours (COLOR_0) are not imported")
    material = None if prim.material is None else int(prim.material)
    if material is not None:
        item(f.doc.materials, material, f"{where}'s material")
    double_sided = bool(material is not None and f.doc.materials[material].doubleSided)
    data = MeshData("", points, faces, normals, st, None, None, 0, False, material, double_sided)
    if skin is not None:
        _skin(f, attrs, skin, skel, n, where, data)
    return data


def _skin(
    f: GltfFile, attrs: Any, skin: int, skel: Skeleton, n: int, where: str, data: MeshData
) -> None:
    sets = []
    k = 0
    while getattr(attrs, f"JOINTS_{k}", None) is not None:
        if getattr(attrs, f"WEIGHTS_{k}", None) is None:
            raise ImportRefused(WEIGHTS_INVALID, f"{where} has JOINTS_{k} without WEIGHTS_{k}")
        j = f.accessor(getattr(attrs, f"JOINTS_{k}"), f"{where} JOINTS_{k}")
        w = f.accessor(getattr(attrs, f"WEIGHTS_{k}"), f"{where} WEIGHTS_{k}")
        if j.dtype.kind != "u" or j.shape != (n, 4) or w.shape != (n, 4):
            raise ImportRefused(
                FILE_MALFORMED,
                f"{where}: JOINTS_{k}/WEIGHTS_{k} must be unsigned/float VEC4 with one per vertex",
            )
        sets.append((j.astype(np.int64), w.astype(np.float64)))
        k += 1
    if not sets:
        raise ImportRefused(
            WEIGHTS_INVALID, f"{where} belongs to a skinned node but has no JOINTS_0/WEIGHTS_0"
        )
    joints = np.concatenate([j for j, _ in sets], axis=1)
    weights = np.concatenate([w for _, w in sets], axis=1)
    element = joints.shape[1]
    local = skel.skin_joints[skin]
    fixed_w, data.renormalised = check_influences(
        joints.reshape(-1), weights.reshape(-1), element, len(local), where, renormalise=True
    )
    data.joint_indices = np.asarray(local, dtype=np.int64)[joints.reshape(-1)]
    data.joint_weights = fixed_w
    data.element_size = element


def _float_attr(f: GltfFile, index: int, width: int, what: str) -> F64:
    arr = f.accessor(index, what)
    if arr.shape[1] != width or arr.dtype.kind != "f":
        raise ImportRefused(FILE_MALFORMED, f"{what} must be float VEC{width}")
    return arr.astype(np.float64)


def _optional(f: GltfFile, attrs: Any, name: str, width: int, n: int, where: str) -> F64 | None:
    index = getattr(attrs, name, None)
    if index is None:
        return None
    arr = _float_attr(f, index, width, f"{where} {name}")
    if len(arr) != n:
        raise ImportRefused(FILE_MALFORMED, f"{where}: {name} has {len(arr)} values for {n} points")
    if not np.isfinite(arr).all():
        raise ImportRefused(GEOMETRY_INVALID, f"{where} has NaN or infinite {name}")
    return arr
