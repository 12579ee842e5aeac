"""Mesh proxies for the browser's layout view: every shown mesh, simplified, in world space.

The layout view draws the set and the twin as light, grey-ish stand-ins, so what it needs
is each mesh's shape in the current pose, not its materials or UVs. Sans-I/O:
:meth:`ProxyBuilder.build` reads a composed stage (visibility, purpose, active prims,
variant selections: just what the stage composes) and returns :class:`LayoutProxies`;
:func:`pack_proxies` turns them into one msgpack map whose arrays are raw little-endian
bytes. :class:`ProxyCache` keeps the packed answer per room and seq, so the handler only
rebuilds after an edit.

- Skinned meshes are posed with UsdSkel's own skinning (``ComputeSkinnedPoints``), then
  placed by their skeleton's world transform, as the UsdSkel spec says.
- Large meshes are simplified once per topology (quadric collapses from
  ``fast_simplification``); each proxy vertex then follows one source vertex (the nearest
  in its collapse cluster), so a new pose only re-skins and gathers, never re-simplifies.
- Each mesh gets at most ``mesh_budget`` triangles, and all meshes together at most
  ``total_budget`` (targets shrink in proportion when the shot has many meshes).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np
from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdSkel

TIME = Usd.TimeCode.Default()
PREDICATE = Usd.TraverseInstanceProxies(Usd.PrimDefaultPredicate)
IDENTITY_KEY = "twinstudio:identity"
BACKDROP_KEY = "twinstudio:backdrop"  # on a set: its backdrop shader, relative to the set
MESH_BUDGET = 3_000
TOTAL_BUDGET = 30_000
GREY = (0.6, 0.6, 0.6)
_GPRIMS = ("Cube", "Sphere", "Cylinder", "Cone", "Capsule")
_F32 = np.dtype("<f4")
_U32 = np.dtype("<u4")


@dataclass(frozen=True)
class MeshProxy:
    """One mesh as the layout view draws it: world-space triangles and one colour."""

    path: str
    pick: str  # what a click on it selects: the twin's root, else its model (kind component)
    positions: np.ndarray  # (V, 3) float32, world space
    triangles: np.ndarray  # (T, 3) uint32
    color: tuple[float, float, float]
    source_triangles: int
    skinned: bool

    def to_wire(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "pick": self.pick,
            "color": [round(c, 4) for c in self.color],
            "vertices": len(self.positions),
            "triangles": len(self.triangles),
            "source_triangles": self.source_triangles,
            "skinned": self.skinned,
            "positions": np.ascontiguousarray(self.positions, dtype=_F32).tobytes(),
            "indices": np.ascontiguousarray(self.triangles, dtype=_U32).tobytes(),
        }


@dataclass(frozen=True)
class SkeletonJoints:
    """A skeleton's joints in world space, for joint pickers in the layout view."""

    path: str
    root: str  # the SkelRoot (what a pose op names)
    joints: tuple[str, ...]
    positions: np.ndarray  # (J, 3) float32, world space

    def to_wire(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "root": self.root,
            "joints": list(self.joints),
            "positions": np.ascontiguousarray(self.positions, dtype=_F32).tobytes(),
        }


@dataclass(frozen=True)
class LayoutProxies:
    """What :meth:`ProxyBuilder.build` returns for one stage state."""

    meshes: list[MeshProxy]
    # every transformable prim: its parent's and its own local-to-world matrix, 16 floats,
    # row-major USD (= column-major column-vector, what three.js's Matrix4.fromArray reads)
    frames: dict[str, dict[str, list[float]]]
    skeletons: list[SkeletonJoints]
    # sets with a recolourable backdrop: {"set": path, "shader": the shader's path}
    backdrops: list[dict[str, str]]
    build_ms: float

    @property
    def triangle_count(self) -> int:
        return sum(len(m.triangles) for m in self.meshes)


@dataclass(frozen=True)
class _Simplified:
    """A mesh's simplified topology: proxy vertex -> source point, and proxy triangles."""

    source: np.ndarray  # (V,) int64 indices into the mesh's points
    triangles: np.ndarray  # (T, 3) uint32 indices into ``source``


@dataclass
class _Candidate:
    prim: Usd.Prim
    triangles: np.ndarray  # (T, 3) source point indices
    points: np.ndarray | None  # rest points (None for gprims, which bring their own)


def _fan(counts: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Fan-triangulate polygons: (T, 3) point indices."""
    keep = counts >= 3
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ntri = np.where(keep, counts - 2, 0)
    face = np.repeat(np.arange(len(counts)), ntri)
    local = np.arange(int(ntri.sum())) - np.repeat(np.cumsum(ntri) - ntri, ntri)
    s = starts[face]
    corners = np.stack([s, s + local + 1, s + local + 2], axis=1)
    triangles: np.ndarray = indices[corners]
    return triangles


def _mesh_triangles(mesh: UsdGeom.Mesh, n_points: int) -> np.ndarray | None:
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get(TIME) or [], dtype=np.int64)
    fvi = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(TIME) or [], dtype=np.int64)
    if not len(counts) or counts.sum() != len(fvi) or fvi.min() < 0 or fvi.max() >= n_points:
        return None  # malformed: the renderer warns about it; the layout view just leaves it out
    tris = _fan(counts, fvi)
    if mesh.GetOrientationAttr().Get(TIME) == UsdGeom.Tokens.leftHanded:
        tris = tris[:, [0, 2, 1]]
    return tris if len(tris) else None


def _gprim_mesh(prim: Usd.Prim) -> tuple[np.ndarray, np.ndarray] | None:
    """Points and triangles of a Cube / Sphere / Cylinder / Cone / Capsule, in its own space."""
    name = prim.GetTypeName()

    def get(attr: str, default: float) -> float:
        value = prim.GetAttribute(attr).Get(TIME)
        return float(value) if value is not None else default

    if name == "Cube":
        h = get("size", 2.0) / 2
        corners = np.array([[x, y, z] for x in (-h, h) for y in (-h, h) for z in (-h, h)])
        quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
        tris = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
        return corners.astype(np.float64), tris
    segments, rings = 24, 12
    radius = get("radius", 1.0)
    if name == "Sphere":
        profile = [
            (radius * math.sin(math.pi * i / rings), -radius * math.cos(math.pi * i / rings))
            for i in range(rings + 1)
        ]
    elif name in ("Cylinder", "Cone", "Capsule"):
        h = get("height", 2.0) / 2
        top = 0.0 if name == "Cone" else radius
        profile = [(0.0, -h), (radius, -h), (top, h), (0.0, h)]
        if name == "Capsule":  # a cylinder whose ends bulge by the radius
            profile = [(0.0, -h - radius), (radius, -h), (radius, h), (0.0, h + radius)]
    else:
        return None
    axis = prim.GetAttribute("axis").Get(TIME) or "Z"
    points: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []
    for r, y in profile:
        for k in range(segments):
            a = 2 * math.pi * k / segments
            points.append((r * math.cos(a), y, -r * math.sin(a)))
    for i in range(len(profile) - 1):
        for k in range(segments):
            a, b = i * segments + k, i * segments + (k + 1) % segments
            faces += [(a, b, b + segments), (a, b + segments, a + segments)]
    pts = np.array(points, dtype=np.float64)
    if axis == "Z":  # the profile is built along Y
        pts = pts[:, [0, 2, 1]] * [1, -1, 1]
    elif axis == "X":
        pts = pts[:, [1, 0, 2]] * [1, -1, 1]
    return pts, np.array(faces, dtype=np.int64)


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
        h.update(str(a.shape).encode())
    return h.hexdigest()


def simplify(points: np.ndarray, triangles: np.ndarray, target: int) -> _Simplified:
    """Reduce a mesh to at most ``target`` triangles; each kept vertex is a source point."""
    import fast_simplification

    n = len(triangles)
    if n <= target or target < 4:
        used = np.unique(triangles)
        remap = np.full(len(points), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        return _Simplified(used, remap[triangles].astype(np.uint32))
    tris32 = triangles.astype(np.int32)
    _, _, collapses = fast_simplification.simplify(
        points, tris32, target_count=target, return_collapses=True
    )
    merged, new_tris, mapping = fast_simplification.replay_simplification(
        points.astype(np.float32), tris32, collapses
    )
    mapping = np.asarray(mapping, dtype=np.int64)
    # per proxy vertex: the source point of its cluster nearest to where the collapse put it
    distance = np.linalg.norm(points - np.asarray(merged)[mapping], axis=1)
    order = np.lexsort((distance, mapping))
    first = np.concatenate([[0], np.flatnonzero(np.diff(mapping[order])) + 1])
    source = order[first]
    new_tris = np.asarray(new_tris, dtype=np.int64).reshape(-1, 3)
    if len(new_tris) > target:  # the collapser stopped short: drop the smallest triangles
        p = points[source]
        e = np.cross(p[new_tris[:, 1]] - p[new_tris[:, 0]], p[new_tris[:, 2]] - p[new_tris[:, 0]])
        keep = np.argsort(-np.linalg.norm(e, axis=1))[:target]
        new_tris = new_tris[np.sort(keep)]
    return _Simplified(source, new_tris.astype(np.uint32))


def _pick(prim: Usd.Prim) -> str:
    """The prim a click on ``prim``'s proxy selects: the twin's root, else its component."""
    component = None
    p = prim
    while p and not p.IsPseudoRoot():
        if p.GetCustomData().get(IDENTITY_KEY) == "locked":
            return str(p.GetPath())
        if component is None and Usd.ModelAPI(p).GetKind() == "component":
            component = str(p.GetPath())
        p = p.GetParent()
    return component or str(prim.GetPath())


def _color(prim: Usd.Prim) -> tuple[float, float, float]:
    """The bound UsdPreviewSurface's diffuseColor value, else displayColor, else grey."""
    material = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial(UsdShade.Tokens.preview)[0]
    if material:
        shader = material.ComputeSurfaceSource()[0]
        diffuse = shader.GetInput("diffuseColor") if shader else None
        if diffuse:
            for attr in diffuse.GetValueProducingAttributes():
                if UsdShade.Input.IsInput(attr) and attr.HasValue():
                    value = attr.Get(TIME)
                    if value is not None and len(value) >= 3:
                        return (float(value[0]), float(value[1]), float(value[2]))
                # an output (a texture): its fallback, if any, stands for it
                texture = UsdShade.Shader(attr.GetPrim())
                fallback = texture.GetInput("fallback") if texture else None
                value = fallback.Get(TIME) if fallback else None
                if value is not None and len(value) >= 3:
                    return (float(value[0]), float(value[1]), float(value[2]))
    pv = UsdGeom.PrimvarsAPI(prim).GetPrimvar("displayColor")
    values = pv.ComputeFlattened(TIME) if pv and pv.HasValue() else None
    if values is not None and len(values):
        mean = np.asarray(values, dtype=np.float64).reshape(-1, 3).mean(axis=0)
        return (float(mean[0]), float(mean[1]), float(mean[2]))
    return GREY


def _shown(prim: Usd.Prim) -> bool:
    imageable = UsdGeom.Imageable(prim)
    if imageable.ComputeVisibility(TIME) == UsdGeom.Tokens.invisible:
        return False
    return imageable.ComputePurpose() in (UsdGeom.Tokens.default_, UsdGeom.Tokens.render)


def _backdrop_shader(prim: Usd.Prim) -> str | None:
    """The absolute path of the backdrop shader a set names in its customData, if it exists."""
    relative = prim.GetCustomData().get(BACKDROP_KEY)
    if not isinstance(relative, str) or not relative:
        return None
    try:
        path = Sdf.Path(relative.removeprefix("./")).MakeAbsolutePath(prim.GetPath())
    except Exception:  # not a path: the set is still drawn, just without the widget
        return None
    return str(path) if prim.GetStage().GetPrimAtPath(path) else None


def _row_major(m: Gf.Matrix4d) -> list[float]:
    values: list[float] = np.array(m, dtype=np.float64).ravel().tolist()  # 50x a Python loop
    return values


@dataclass
class ProxyBuilder:
    """Builds :class:`LayoutProxies` from a stage; remembers simplified topology per mesh.

    The memory is keyed by the mesh's shape (a digest of its points and triangles) and kept
    least-recently-used, so one builder can serve every room, and switching back to a look
    seen a moment ago does not simplify its garments again.
    """

    mesh_budget: int = MESH_BUDGET
    total_budget: int = TOTAL_BUDGET
    remembered: int = 256  # simplified meshes kept (a look is a handful)
    _simplified: OrderedDict[tuple[str, str, int], _Simplified] = field(default_factory=OrderedDict)

    def build(self, stage: Usd.Stage) -> LayoutProxies:
        """Read ``stage`` now: every shown mesh and gprim as a world-space proxy."""
        start = time.perf_counter()
        xf = UsdGeom.XformCache(TIME)
        candidates: list[_Candidate] = []
        frames: dict[str, dict[str, list[float]]] = {}
        backdrops: list[dict[str, str]] = []
        for prim in Usd.PrimRange(stage.GetPseudoRoot(), PREDICATE):
            if prim.IsPseudoRoot():
                continue
            if prim.IsA(UsdGeom.Xformable):
                frames[str(prim.GetPath())] = {
                    "parent": _row_major(xf.GetParentToWorldTransform(prim)),
                    "world": _row_major(xf.GetLocalToWorldTransform(prim)),
                }
            if (shader := _backdrop_shader(prim)) is not None:
                backdrops.append({"set": str(prim.GetPath()), "shader": shader})
            if not prim.IsA(UsdGeom.Gprim) or not _shown(prim):
                continue
            if prim.IsA(UsdGeom.Mesh):
                rest = UsdGeom.Mesh(prim).GetPointsAttr().Get(TIME)
                if rest is None or not len(rest):
                    continue
                points = np.asarray(rest, dtype=np.float64)
                tris = _mesh_triangles(UsdGeom.Mesh(prim), len(points))
                if tris is not None:
                    candidates.append(_Candidate(prim, tris, points))
            elif prim.GetTypeName() in _GPRIMS and (made := _gprim_mesh(prim)) is not None:
                candidates.append(_Candidate(prim, made[1], made[0]))
        targets = self._targets([len(c.triangles) for c in candidates])
        skins, skeletons = _skinning(stage, xf)
        meshes = []
        for cand, target in zip(candidates, targets, strict=True):
            path = str(cand.prim.GetPath())
            assert cand.points is not None
            key = (path, _digest(cand.points, cand.triangles), target)
            simple = self._simplified.get(key)
            if simple is None:
                simple = self._simplified[key] = simplify(cand.points, cand.triangles, target)
                while len(self._simplified) > self.remembered:
                    self._simplified.popitem(last=False)
            else:
                self._simplified.move_to_end(key)
            world, skinned = _world_points(cand, skins.get(path), xf)
            meshes.append(
                MeshProxy(
                    path=path,
                    pick=_pick(cand.prim),
                    positions=world[simple.source].astype(_F32),
                    triangles=simple.triangles,
                    color=_color(cand.prim),
                    source_triangles=len(cand.triangles),
                    skinned=skinned,
                )
            )
        return LayoutProxies(
            meshes, frames, skeletons, backdrops, build_ms=(time.perf_counter() - start) * 1000
        )

    def _targets(self, sizes: list[int]) -> list[int]:
        wanted = [min(n, self.mesh_budget) for n in sizes]
        total = sum(wanted)
        if total <= self.total_budget:
            return wanted
        scale = self.total_budget / total
        return [max(4, math.floor(w * scale)) for w in wanted]


@dataclass(frozen=True)
class _Skin:
    query: UsdSkel.SkinningQuery
    skel_query: UsdSkel.SkeletonQuery
    skeleton: Usd.Prim


def _skinning(
    stage: Usd.Stage, xf: UsdGeom.XformCache
) -> tuple[dict[str, _Skin], list[SkeletonJoints]]:
    """Skinning queries by mesh path, and every bound skeleton's joints in world space."""
    # A fresh cache per build: UsdSkel's cached queries miss a pose authored in a layer that
    # had no opinion when they were made (the first pose edit of a room).
    cache = UsdSkel.Cache()
    skins: dict[str, _Skin] = {}
    skeletons: list[SkeletonJoints] = []
    for prim in Usd.PrimRange(stage.GetPseudoRoot(), PREDICATE):
        if not prim.IsA(UsdSkel.Root):
            continue
        root = UsdSkel.Root(prim)
        cache.Populate(root, PREDICATE)
        for binding in cache.ComputeSkelBindings(root, PREDICATE):
            skel = binding.GetSkeleton()
            skel_query = cache.GetSkelQuery(skel)
            if not skel_query:
                continue
            for query in binding.GetSkinningTargets():
                if query.HasJointInfluences():
                    skins[str(query.GetPrim().GetPath())] = _Skin(query, skel_query, skel.GetPrim())
            world = skel_query.ComputeJointWorldTransforms(xf)
            positions = np.array([list(m.ExtractTranslation()) for m in world], dtype=_F32)
            skeletons.append(
                SkeletonJoints(
                    path=str(skel.GetPath()),
                    root=str(prim.GetPath()),
                    joints=tuple(str(j) for j in skel_query.GetJointOrder()),
                    positions=positions.reshape(-1, 3),
                )
            )
    return skins, skeletons


def _world_points(
    cand: _Candidate, skin: _Skin | None, xf: UsdGeom.XformCache
) -> tuple[np.ndarray, bool]:
    """The candidate's points in world space, posed when it is skinned."""
    assert cand.points is not None
    if skin is None or not cand.prim.IsA(UsdGeom.PointBased):
        world = np.array(xf.GetLocalToWorldTransform(cand.prim), dtype=np.float64)
        return cand.points @ world[:3, :3] + world[3, :3], False
    xforms = skin.skel_query.ComputeSkinningTransforms(TIME)
    if skin.query.IsRigidlyDeformed():
        m = np.array(skin.query.ComputeSkinnedTransform(xforms, TIME), dtype=np.float64)
        posed = cand.points @ m[:3, :3] + m[3, :3]
    else:
        from pxr import Vt

        pts = Vt.Vec3fArray.FromNumpy(cand.points.astype(np.float32))
        skin.query.ComputeSkinnedPoints(xforms, pts, TIME)
        posed = np.asarray(pts, dtype=np.float64)
    # skinned points are in skeleton space: the skeleton's world transform places them
    skel_world = np.array(xf.GetLocalToWorldTransform(skin.skeleton), dtype=np.float64)
    return posed @ skel_world[:3, :3] + skel_world[3, :3], True


def pack_proxies(proxies: LayoutProxies, seq: int) -> bytes:
    """One msgpack map: ``{seq, build_ms, triangles, meshes, frames, skeletons, backdrops}``."""
    message = {
        "seq": seq,
        "build_ms": round(proxies.build_ms, 2),
        "triangles": proxies.triangle_count,
        "meshes": [m.to_wire() for m in proxies.meshes],
        "frames": proxies.frames,
        "skeletons": [s.to_wire() for s in proxies.skeletons],
        "backdrops": proxies.backdrops,
    }
    data: bytes = msgpack.packb(message, use_bin_type=True)
    return data


@dataclass
class _Packed:
    stage: Usd.Stage
    seq: int
    data: bytes


class ProxyCache:
    """The packed proxies of each room's current seq; rebuilt only after an edit."""

    def __init__(self, builder: ProxyBuilder | None = None) -> None:
        self.builder = builder or ProxyBuilder()  # shared: rooms share the library's meshes
        self._packed: dict[str, _Packed] = {}

    def packed(self, room: str, seq: int, stage: Usd.Stage) -> bytes:
        """The proxies of ``stage`` at ``seq`` as msgpack bytes; cached until seq changes."""
        hit = self._packed.get(room)
        if hit is not None and hit.stage is stage and hit.seq == seq:
            return hit.data
        data = pack_proxies(self.builder.build(stage), seq)
        self._packed[room] = _Packed(stage, seq, data)
        return data
