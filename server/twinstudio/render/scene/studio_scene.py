"""StudioScene: the stage as a pyrender scene, kept in step by USD's change notices.

See the package docstring (``twinstudio.render.scene``) for what :meth:`StudioScene.sync`
redoes per kind of change, and why a rebuilt mesh is a new ``pyrender.Mesh`` in the same
node. Importing this module fixes the GL platform (``PYOPENGL_PLATFORM``, default EGL),
because it imports pyrender: call :func:`twinstudio.render.gl.select_platform` first to
pick another.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pxr import Tf, Usd, UsdGeom, UsdShade, UsdSkel

from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import select_platform
from twinstudio.render.scene.changes import (
    PendingChanges,
    SyncStats,
    SyncWork,
    count_changed,
    sort_changes,
    top_most,
    under,
)
from twinstudio.render.scene.gprims import GPRIMS, gprim_topology
from twinstudio.render.scene.lights import (
    StudioCamera,
    StudioLight,
    light_kind,
    studio_camera,
    studio_light,
)
from twinstudio.render.scene.materials import convert_material, display_material
from twinstudio.render.scene.shading import bound_material_key
from twinstudio.render.scene.skinning import Skin, find_skin
from twinstudio.render.scene.topology import F32, Topology, mesh_topology, smooth_normals, unit_rows
from twinstudio.render.scene.visibility import PREDICATE, ancestors_shown, invisible, shown_purpose

select_platform()
apply_pyrender_compat()
import pyrender  # noqa: E402  (after the platform is chosen and numpy is patched)

log = logging.getLogger(__name__)

TIME = Usd.TimeCode.Default()


@dataclass
class _MeshEntry:
    node: pyrender.Node
    topology: Topology
    material_key: tuple[str, bool] | None  # (material path, doubleSided); None: displayColor
    uv_name: str
    skin: Skin | None
    double_sided: bool


class StudioScene:
    """The render view of one stage. Build once; after edits, call :meth:`sync`.

    ``scene`` holds only meshes and their materials: renderers add their own camera and
    lights (from :attr:`lights`, :attr:`cameras`) and must remove them afterwards.
    Everything is in metres: node poses, lights and cameras scale the stage's lengths by
    :attr:`meters_per_unit` (``UsdGeom.GetStageMetersPerUnit``: 0.01 where a stage authors
    none). :attr:`last_sync` is the :class:`SyncStats` of the latest build or sync. Notices
    may arrive on any thread (USD sends them on the editing one; collecting them is locked),
    but ``sync()`` reads the stage: don't edit the stage while it runs.
    """

    def __init__(self, stage: Usd.Stage) -> None:
        self.stage = stage
        self.scene = pyrender.Scene(bg_color=np.zeros(4), ambient_light=np.zeros(3))
        self.lights: dict[str, StudioLight] = {}
        self.cameras: dict[str, StudioCamera] = {}
        self.meters_per_unit = 1.0  # set from the stage by every full build
        self._meshes: dict[str, _MeshEntry] = {}
        self._materials: dict[tuple[str, bool], tuple[pyrender.Material, str]] = {}
        self._images: dict[str, np.ndarray] = {}
        self._spare_nodes: dict[str, pyrender.Node] = {}
        self._pending = PendingChanges()
        self._pending_lock = threading.Lock()
        self._xf = UsdGeom.XformCache(TIME)
        self._skel_cache: UsdSkel.Cache | None = None
        self._render_models: dict[str, bool] = {}
        self.last_sync = self._full(time.perf_counter())
        # Tf holds the callback weakly (we keep it), and it holds the scene weakly.
        ref = weakref.ref(self)

        def on_change(notice: Usd.Notice.ObjectsChanged, sender: Usd.Stage) -> None:
            scene = ref()
            if scene is not None:
                resynced = [str(p) for p in notice.GetResyncedPaths()]
                changed = [str(p) for p in notice.GetChangedInfoOnlyPaths()]
                with scene._pending_lock:
                    scene._pending.resynced.update(resynced)
                    scene._pending.changed.update(changed)

        self._on_change = on_change
        self._listener = Tf.Notice.Register(Usd.Notice.ObjectsChanged, on_change, stage)

    # -- public ---------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when the stage changed since the last :meth:`sync`."""
        return bool(self._pending.resynced or self._pending.changed)

    @property
    def mesh_nodes(self) -> Mapping[str, pyrender.Node]:
        """Prim path -> its pyrender node; a prim keeps its node across syncs while shown."""
        return {path: entry.node for path, entry in self._meshes.items()}

    def camera(self, path: str) -> StudioCamera:
        """The camera at ``path``; KeyError naming the stage's cameras if there is none."""
        try:
            return self.cameras[path]
        except KeyError:
            known = ", ".join(sorted(self.cameras)) or "none"
            raise KeyError(f"no camera at {path}; cameras on the stage: {known}") from None

    def close(self) -> None:
        """Stop listening to the stage (the scene stays renderable as it is)."""
        self._listener.Revoke()

    def sync(self) -> SyncStats:
        """Apply the stage changes seen since the last sync; return what was redone."""
        start = time.perf_counter()
        with self._pending_lock:
            pending, self._pending = self._pending, PendingChanges()
        if not pending.resynced and not pending.changed:
            return SyncStats(False, 0, 0, 0, 0.0)
        self._xf = UsdGeom.XformCache(TIME)
        self._skel_cache = None
        self._render_models = {}
        # A new metersPerUnit (an info-only change of "/") rescales everything.
        units = UsdGeom.GetStageMetersPerUnit(self.stage)
        if "/" in pending.resynced or units != self.meters_per_unit:
            self.last_sync = self._full(start)
        else:
            work = sort_changes(self.stage, pending, self._meshes)
            self.last_sync = self._incremental(work, start)
        return self.last_sync

    # -- full and incremental sync --------------------------------------------------------

    def _full(self, start: float) -> SyncStats:
        self.meters_per_unit = float(UsdGeom.GetStageMetersPerUnit(self.stage))
        for entry in self._meshes.values():
            self.scene.remove_node(entry.node)
            self._spare_nodes[str(entry.node.name)] = entry.node
        self._meshes.clear()
        self._materials.clear()
        self._images.clear()
        self.lights.clear()
        self.cameras.clear()
        built = self._build_subtree("/")
        self._spare_nodes.clear()
        return SyncStats(
            True,
            built,
            0,
            len(self.lights),
            time.perf_counter() - start,
            len({k[0] for k in self._materials}),
            len(self.cameras),
        )

    def _incremental(self, work: SyncWork, start: float) -> SyncStats:
        lights_before, cameras_before = dict(self.lights), dict(self.cameras)
        for stale in [k for k in self._materials if k[0] in work.materials]:
            del self._materials[stale]
        roots = top_most(work.rebuild)
        # Outside the rebuilt subtrees: meshes whose skeleton or material was inside one
        # (those materials are rebuilt with the subtree; the meshes only need the swap).
        rebuilt_materials = {k[0] for k in self._materials if under(k[0], roots)}
        work.skeletons.update(roots)
        rebuilt = sum(self._rebuild_subtree(root) for root in roots)
        if roots:
            work.rebind.add("/")  # a created or deleted material may change any binding
        for path, entry in list(self._meshes.items()):
            if under(path, roots):
                continue
            skin = entry.skin
            if path in work.meshes or (skin and under(skin.skeleton, work.skeletons)):
                rebuilt += self._rebuild_mesh(path)
            elif skin and skin.animation and under(skin.animation, work.posed | set(roots)):
                self._reskin(path, entry)
                rebuilt += 1

        moved = 0
        for path, entry in self._meshes.items():
            anchor = entry.skin.skeleton if entry.skin else path  # skinned: the skeleton's
            if not under(path, roots) and under(anchor, work.moved):
                self.scene.set_pose(entry.node, self._pose(anchor))
                moved += 1
        for path in work.lights | {p for p in self.lights if under(p, work.moved)}:
            if not under(path, roots):
                self._build_light(path)
        for path in work.cameras | {p for p in self.cameras if under(p, work.moved)}:
            if not under(path, roots):
                self._build_camera(path)

        updated = self._update_materials(
            work.materials | rebuilt_materials, top_most(work.rebind), roots
        )
        return SyncStats(
            False,
            rebuilt,
            moved,
            count_changed(lights_before, self.lights),
            time.perf_counter() - start,
            updated,
            count_changed(cameras_before, self.cameras),
        )

    def _rebuild_subtree(self, root: str) -> int:
        for path in [p for p in self._meshes if under(p, [root])]:
            node = self._meshes.pop(path).node
            self.scene.remove_node(node)
            self._spare_nodes[path] = node
        for path in [p for p in self.lights if under(p, [root])]:
            del self.lights[path]
        for path in [p for p in self.cameras if under(p, [root])]:
            del self.cameras[path]
        for key in [k for k in self._materials if under(k[0], [root])]:
            del self._materials[key]
        prim = self.stage.GetPrimAtPath(root)
        built = 0
        if prim and prim.IsActive() and ancestors_shown(prim):
            built = self._build_subtree(root)
        self._spare_nodes.clear()
        return built

    def _build_subtree(self, root: str) -> int:
        built = 0
        it = iter(Usd.PrimRange(self.stage.GetPrimAtPath(root), PREDICATE))
        for p in it:
            path = str(p.GetPath())
            if invisible(p):
                for q in Usd.PrimRange(p, PREDICATE):  # lights stay listed, visible=False
                    if light_kind(q):
                        self._build_light(str(q.GetPath()))
                it.PruneChildren()
            elif p.IsA(UsdGeom.Mesh) or p.GetTypeName() in GPRIMS:
                if shown_purpose(p, self._render_models):
                    built += self._build_mesh(p)
            elif light_kind(p):
                self._build_light(path)
            elif p.IsA(UsdGeom.Camera):
                self._build_camera(path)
        return built

    # -- meshes ---------------------------------------------------------------------------

    def _skin_query(self, prim: Usd.Prim) -> Skin | None:
        if self._skel_cache is None:
            self._skel_cache = UsdSkel.Cache()
        return find_skin(prim, self._skel_cache, PREDICATE)

    def _build_mesh(self, prim: Usd.Prim, node: pyrender.Node | None = None) -> int:
        """Convert one Mesh/Gprim into ``node`` (its old node, kept), or a new node."""
        path = str(prim.GetPath())
        double_sided = bool(UsdGeom.Gprim(prim).GetDoubleSidedAttr().Get(TIME))
        key = bound_material_key(prim, double_sided)
        uv_name = self._material(key)[1] if key else "st"
        skin = None
        if prim.IsA(UsdGeom.Mesh):
            topology = mesh_topology(UsdGeom.Mesh(prim), uv_name, want_colors=key is None)
            if topology is None:
                return 0
            skin = self._skin_query(prim)
            points = np.asarray(UsdGeom.Mesh(prim).GetPointsAttr().Get(TIME), dtype=F32)
            if UsdShade.MaterialBindingAPI(prim).GetMaterialBindSubsets():
                log.info("%s: per-face material subsets are drawn with its prim material", path)
        else:
            gprim = gprim_topology(prim)
            if gprim is None:
                return 0
            topology, points = gprim
        node = node or self._spare_nodes.pop(path, None) or pyrender.Node(name=path)
        entry = _MeshEntry(node, topology, key, uv_name, skin, double_sided)
        blend = None
        if skin is not None:
            points, blend = skin.points()
        self._put_mesh(node, self._pyrender_mesh(entry, points, blend))
        self.scene.set_pose(node, self._pose(skin.skeleton if skin else path))
        self._meshes[path] = entry
        return 1

    def _put_mesh(self, node: pyrender.Node, mesh: pyrender.Mesh) -> None:
        """Give ``node`` a new Mesh. pyrender.Scene indexes nodes by their mesh, so the node
        leaves the scene and comes back with the new one (same Node object, same pose)."""
        if self.scene.has_node(node):
            self.scene.remove_node(node)
        node.mesh = mesh
        self.scene.add_node(node)

    def _rebuild_mesh(self, path: str) -> int:
        entry = self._meshes.pop(path)
        prim = self.stage.GetPrimAtPath(path)
        if prim and self._build_mesh(prim, entry.node):
            return 1
        self.scene.remove_node(entry.node)
        return 0

    def _reskin(self, path: str, entry: _MeshEntry) -> None:
        """New points for a posed skinned mesh: a new pyrender.Mesh in the same node."""
        # Fresh queries: UsdSkel's cached attribute queries miss a pose authored in a layer
        # that had no opinion when they were made (the first pose edit of a room).
        entry.skin = self._skin_query(self.stage.GetPrimAtPath(path))
        if entry.skin is None:
            self._rebuild_mesh(path)
            return
        points, blend = entry.skin.points()
        self._put_mesh(entry.node, self._pyrender_mesh(entry, points, blend))

    def _pyrender_mesh(
        self, entry: _MeshEntry, points: np.ndarray, blend: np.ndarray | None
    ) -> pyrender.Mesh:
        topo = entry.topology
        if topo.normals is not None and (blend is not None or entry.skin is None):
            normals = topo.normals
            if blend is not None:
                normals = np.einsum("vi,vij->vj", normals, blend[topo.point_index])
            normals = unit_rows(normals)
        else:
            normals = smooth_normals(points, topo.point_triangles)[topo.point_index]
        if entry.material_key is not None:
            material = self._material(entry.material_key)[0]
        else:
            material = display_material(topo, entry.double_sided)
        primitive = pyrender.Primitive(
            positions=points[topo.point_index],
            normals=normals,
            texcoord_0=topo.uvs,
            color_0=topo.colors if entry.material_key is None else None,
            indices=topo.triangles,
            material=material,
            mode=pyrender.constants.GLTF.TRIANGLES,
        )
        return pyrender.Mesh([primitive], name=str(entry.node.name))

    def _world(self, path: str) -> np.ndarray:
        """``path``'s local-to-world matrix (column vectors), in scene units."""
        prim = self.stage.GetPrimAtPath(path)
        return np.array(self._xf.GetLocalToWorldTransform(prim), dtype=np.float64).T

    def _pose(self, path: str) -> np.ndarray:
        """The node pose for geometry in ``path``'s space: its local-to-world matrix, then
        scene units to metres (a uniform scale, so the points stay as authored)."""
        pose = self._world(path)
        pose[:3] *= self.meters_per_unit
        return pose

    # -- materials ------------------------------------------------------------------------

    def _material(self, key: tuple[str, bool]) -> tuple[pyrender.Material, str]:
        """The pyrender material (and UV primvar name) for a USD material, cached."""
        if key not in self._materials:
            self._materials[key] = convert_material(self.stage, key[0], key[1], self._images)
        return self._materials[key]

    def _update_materials(self, changed: set[str], rebind: list[str], skip: list[str]) -> int:
        """Swap the ``changed`` materials (already dropped from the cache) into the meshes
        using them; re-resolve bindings under ``rebind``; leave meshes under ``skip`` alone.

        A mesh is rebuilt instead when its binding changed (its colours depend on having a
        material) or its material now reads another UV primvar.
        """
        updated: set[str] = set()
        for path, entry in list(self._meshes.items()):
            if under(path, skip):
                continue
            key: tuple[str, bool] | None = entry.material_key
            if under(path, rebind):
                key = bound_material_key(self.stage.GetPrimAtPath(path), entry.double_sided)
            if key != entry.material_key:
                self._rebuild_mesh(path)
                updated.update(k[0] for k in (key, entry.material_key) if k)
            elif key is not None and key[0] in changed:
                material, uv_name = self._material(key)
                if uv_name != entry.uv_name:
                    self._rebuild_mesh(path)
                else:
                    for primitive in entry.node.mesh.primitives:
                        primitive.material = material
                updated.add(key[0])
        return len(updated)

    # -- lights and cameras ---------------------------------------------------------------

    def _build_light(self, path: str) -> None:
        prim = self.stage.GetPrimAtPath(path)
        kind = light_kind(prim) if prim and prim.IsActive() else None
        if kind is None:
            self.lights.pop(path, None)
            return
        self.lights[path] = studio_light(prim, kind, self._world(path), self.meters_per_unit)

    def _build_camera(self, path: str) -> None:
        prim = self.stage.GetPrimAtPath(path)
        if not prim or not prim.IsActive() or not prim.IsA(UsdGeom.Camera):
            self.cameras.pop(path, None)
            return
        camera = UsdGeom.Camera(prim)
        self.cameras[path] = studio_camera(camera, self._world(path), self.meters_per_unit)
