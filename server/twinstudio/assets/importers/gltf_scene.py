"""A glTF scene's node hierarchy and the skeleton its skins make, in UsdSkel's terms.

glTF skins ``v`` as ``sum_j w_j G_j IBM_j v``, with ``G_j`` the joint node's global
transform and the skinned mesh node's own transform ignored. UsdSkel skins as
``sum_j w_j (skel-space joint_j) bind_j^-1 (geomBind v)``. So, with the Skeleton at the
asset root (skeleton space = glTF world space) and geomBindTransform = identity:

- ``bind_j = inverse(IBM_j)``;
- joint ``j``'s local transform is ``G_parent^-1 G_j`` where ``parent`` is its nearest
  ancestor that is also a joint (non-joint nodes in between are folded in), and a root
  joint's is ``G_j`` itself (its non-joint ancestors, e.g. an "Armature", folded in);
- joint frames are rescaled to unit scale (``G_j D_j``, ``bind_j D_j`` with ``D_j`` the
  inverse of bind_j's uniform scale): skinning is unchanged, and the SkelAnimation's
  half-precision scales stay exactly 1 for armatures exported with a 0.01 scale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pxr import Tf

from twinstudio.assets.importers.checks import check_joint_count
from twinstudio.assets.importers.gltf_data import GltfFile, item
from twinstudio.assets.importers.report import (
    FEATURE_UNSUPPORTED,
    FILE_MALFORMED,
    SKELETON_MISSING,
    ImportRefused,
)

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class TRS:
    """A node's translation, rotation (x, y, z, w) and scale, as glTF stores them."""

    t: tuple[float, float, float] = (0.0, 0.0, 0.0)
    r: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    s: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def matrix(self) -> F64:
        x, y, z, w = self.r
        n = np.sqrt(x * x + y * y + z * z + w * w) or 1.0
        x, y, z, w = x / n, y / n, z / n, w / n
        rot = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        m = np.eye(4)
        m[:3, :3] = rot * np.asarray(self.s)
        m[:3, 3] = self.t
        return m


@dataclass
class Scene:
    """The nodes of the file's default scene: parents first, with rest local transforms."""

    order: list[int]
    parent: dict[int, int | None]
    rest: dict[int, TRS | F64]  # a TRS, or a fixed matrix for nodes given as one

    def globals(self, overrides: Mapping[int, TRS] | None = None) -> dict[int, F64]:
        """Every node's global transform, with some nodes' TRS replaced (an animation)."""
        out: dict[int, F64] = {}
        for n in self.order:
            node = (overrides or {}).get(n, self.rest[n])
            local = node.matrix() if isinstance(node, TRS) else node
            p = self.parent[n]
            out[n] = local if p is None else out[p] @ local
        return out

    def name(self, f: GltfFile, n: int) -> str:
        return str(f.doc.nodes[n].name or f"node{n}")


@dataclass
class Skeleton:
    """The joints of every skin the scene's skinned meshes use, merged into one skeleton."""

    nodes: list[int]  # glTF node per joint, parents first
    tokens: list[str]  # UsdSkel joint paths
    parent: list[int]  # joint index of the parent, -1 for roots
    bind: F64  # (J, 4, 4) bind transforms in glTF space, unit-scale frames
    unit: F64  # (J, 4, 4) the D_j rescaling each joint frame
    skin_joints: dict[int, list[int]]  # skin index -> joint index per skin-local index

    @property
    def index(self) -> dict[int, int]:
        return {n: j for j, n in enumerate(self.nodes)}

    def locals(self, globals_: Mapping[int, F64]) -> F64:
        """(J, 4, 4) joint-local transforms for a set of node globals (glTF space)."""
        frames = np.stack([globals_[n] for n in self.nodes]) @ self.unit
        out = frames.copy()
        for j, p in enumerate(self.parent):
            if p >= 0:
                out[j] = np.linalg.inv(frames[p]) @ frames[j]
        return out


def read_scene(f: GltfFile) -> Scene:
    """The default scene's node tree, checked: indices exist, no node has two parents,
    no cycles, finite transforms."""
    doc = f.doc
    nodes = doc.nodes or []
    parent: dict[int, int | None] = {}
    for i, node in enumerate(nodes):
        for c in node.children or []:
            item(nodes, c, f"node {i}'s child")
            if c in parent or c == i:
                raise ImportRefused(FILE_MALFORMED, f"node {c} has two parents or is its own child")
            parent[c] = i
    if doc.scenes:
        scene = item(doc.scenes, doc.scene if doc.scene is not None else 0, "scene")
        roots = list(scene.nodes or [])
        for r in roots:
            item(nodes, r, "scene root node")
    else:
        roots = [i for i in range(len(nodes)) if i not in parent]
    order: list[int] = []
    seen: set[int] = set()
    stack = list(reversed(roots))
    while stack:
        n = stack.pop()
        if n in seen:
            raise ImportRefused(FILE_MALFORMED, f"node {n} is reached twice (a cycle?)")
        seen.add(n)
        order.append(n)
        stack.extend(reversed(nodes[n].children or []))
    scene_parent = {n: (parent.get(n) if n not in roots else None) for n in order}
    rest = {n: _rest(nodes[n], n) for n in order}
    return Scene(order, scene_parent, rest)


def _rest(node: Any, n: int) -> TRS | F64:
    if node.matrix is not None:
        m = _floats(node.matrix, 16, f"node {n}.matrix")
        return m.reshape(4, 4).T  # glTF stores column-major
    t = _floats(node.translation or [0, 0, 0], 3, f"node {n}.translation")
    r = _floats(node.rotation or [0, 0, 0, 1], 4, f"node {n}.rotation")
    s = _floats(node.scale or [1, 1, 1], 3, f"node {n}.scale")
    return TRS((t[0], t[1], t[2]), (r[0], r[1], r[2], r[3]), (s[0], s[1], s[2]))


def _floats(values: Sequence[Any], n: int, what: str) -> F64:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImportRefused(FILE_MALFORMED, f"{what} must be {n} numbers") from None
    if arr.shape != (n,) or not np.isfinite(arr).all():
        raise ImportRefused(FILE_MALFORMED, f"{what} must be {n} finite numbers")
    return arr


def build_skeleton(f: GltfFile, scene: Scene, skins: Sequence[int]) -> Skeleton:
    """Merge ``skins`` into one skeleton ordered parents first, with unique joint names."""
    if not skins:
        raise ImportRefused(
            SKELETON_MISSING,
            f"{f.path.name} has no skinned mesh in its scene: a twin needs a mesh with a skin "
            "(export the armature with the mesh)",
        )
    in_scene = set(scene.order)
    ibm: dict[int, F64] = {}
    for s in skins:
        skin = item(f.doc.skins, s, "skin")
        joints = list(skin.joints or [])
        check_joint_count(len(joints), f"skin {s}")
        if len(set(joints)) != len(joints):
            raise ImportRefused(FILE_MALFORMED, f"skin {s} lists a joint twice")
        for n in joints:
            item(f.doc.nodes, n, f"skin {s}'s joint")
            if n not in in_scene:
                raise ImportRefused(
                    FILE_MALFORMED, f"skin {s}'s joint node {n} is not in the scene"
                )
        mats = _inverse_binds(f, skin, s, len(joints))
        for n, m in zip(joints, mats, strict=True):
            if n in ibm and not np.allclose(ibm[n], m, atol=1e-5, rtol=1e-4):
                raise ImportRefused(
                    FEATURE_UNSUPPORTED,
                    f"node {n} is a joint of several skins with different bind poses; "
                    "export one armature per twin",
                )
            ibm[n] = m
    nodes = [n for n in scene.order if n in ibm]
    check_joint_count(len(nodes), f"{f.path.name}'s skeleton")
    index = {n: j for j, n in enumerate(nodes)}
    parent = []
    for n in nodes:
        p = scene.parent[n]
        while p is not None and p not in index:
            p = scene.parent[p]
        parent.append(-1 if p is None else index[p])
    bind = np.stack([np.linalg.inv(ibm[n]) for n in nodes])
    scale = np.cbrt(np.abs(np.linalg.det(bind[:, :3, :3])))
    unit = np.tile(np.eye(4), (len(nodes), 1, 1))
    unit[:, :3, :3] /= scale[:, None, None]
    tokens = _tokens([scene.name(f, n) for n in nodes], parent)
    skin_joints = {s: [index[n] for n in item(f.doc.skins, s, "skin").joints] for s in skins}
    return Skeleton(nodes, tokens, parent, bind @ unit, unit, skin_joints)


def _inverse_binds(f: GltfFile, skin: Any, s: int, count: int) -> F64:
    if skin.inverseBindMatrices is None:
        return np.tile(np.eye(4), (count, 1, 1))
    acc = item(f.doc.accessors, skin.inverseBindMatrices, "accessor")
    if acc.type != "MAT4" or acc.componentType != 5126:
        raise ImportRefused(FILE_MALFORMED, f"skin {s}'s inverseBindMatrices must be float MAT4")
    raw = f.accessor(skin.inverseBindMatrices, f"skin {s} inverseBindMatrices")
    if len(raw) < count:
        raise ImportRefused(
            FILE_MALFORMED, f"skin {s} has {count} joints but {len(raw)} inverseBindMatrices"
        )
    mats = raw[:count].astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
    if not np.isfinite(mats).all() or (np.abs(np.linalg.det(mats[:, :3, :3])) < 1e-12).any():
        raise ImportRefused(
            FILE_MALFORMED, f"skin {s} has a non-finite or singular inverse bind matrix"
        )
    return mats


_IDENT = re.compile(r"[^A-Za-z0-9_]")


def _tokens(names: list[str], parent: list[int]) -> list[str]:
    """UsdSkel joint paths from node names: valid identifiers, unique across the skeleton
    (the studio's pose op addresses joints by their last path element)."""
    used: set[str] = set()
    leaves = []
    for raw in names:
        base = Tf.MakeValidIdentifier(_IDENT.sub("_", raw)) or "joint"
        leaf, k = base, 1
        while leaf in used:
            k += 1
            leaf = f"{base}_{k}"
        used.add(leaf)
        leaves.append(leaf)
    tokens: list[str] = []
    for j, leaf in enumerate(leaves):
        p = parent[j]
        tokens.append(leaf if p < 0 else f"{tokens[p]}/{leaf}")
    return tokens
