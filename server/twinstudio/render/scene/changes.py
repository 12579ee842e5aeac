"""What a batch of ``Usd.Notice.ObjectsChanged`` paths calls for: the table in the
package docstring, as code.

No pyrender: :class:`PendingChanges` collects the notices' paths between syncs,
:func:`sort_changes` turns them into the :class:`SyncWork` one incremental sync redoes, and
:class:`SyncStats` reports what the sync did.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from pxr import Sdf, Usd, UsdGeom, UsdSkel

from twinstudio.render.scene.lights import light_kind
from twinstudio.render.scene.shading import material_of

# Properties whose change redraws the prim's whole subtree.
SUBTREE_PROPS = ("visibility", "purpose", "proxyPrim", "skel:skeleton")


@dataclass(frozen=True)
class SyncStats:
    """What one ``StudioScene.sync`` did. ``full`` means the whole scene was rebuilt."""

    full: bool
    meshes_rebuilt: int
    nodes_moved: int
    lights_changed: int
    seconds: float
    materials_updated: int = 0
    cameras_changed: int = 0


@dataclass
class PendingChanges:
    """The paths the notices reported since the last sync, as text."""

    resynced: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)


@dataclass
class SyncWork:
    """What one incremental sync must redo, sorted out of the notices' paths."""

    rebuild: set[str] = field(default_factory=set)  # prims whose subtree is rebuilt
    meshes: set[str] = field(default_factory=set)  # meshes rebuilt from USD
    moved: set[str] = field(default_factory=set)  # prims whose transform changed
    lights: set[str] = field(default_factory=set)
    cameras: set[str] = field(default_factory=set)
    materials: set[str] = field(default_factory=set)
    rebind: set[str] = field(default_factory=set)  # prims whose material bindings changed
    posed: set[str] = field(default_factory=set)  # SkelAnimations: re-skin their meshes
    skeletons: set[str] = field(default_factory=set)  # Skeletons: rebuild their meshes


def sort_changes(stage: Usd.Stage, pending: PendingChanges, meshes: Container[str]) -> SyncWork:
    """Sort the notices' paths into the work they call for (see the package's table).

    ``meshes`` are the prim paths drawn as meshes: a change to any other prim's attribute
    (that no row of the table claims) changes nothing drawn.
    """
    work = SyncWork()
    for text in pending.resynced | pending.changed:
        path = Sdf.Path(text)
        if not path.IsPropertyPath():
            # A resynced prim is rebuilt; info-only prim changes (metadata, the inert
            # overs a first edit creates) change nothing we draw.
            if text in pending.resynced:
                work.rebuild.add(text)
            continue
        prim_path, name = str(path.GetPrimPath()), path.name
        prim = stage.GetPrimAtPath(prim_path)
        if not prim:
            continue
        if name.startswith("xformOp") or name == "xformOpOrder":
            work.moved.add(prim_path)
        elif name in SUBTREE_PROPS:
            work.rebuild.add(prim_path)
        elif name.startswith("material:binding"):
            work.rebind.add(prim_path)
        elif light_kind(prim):
            work.lights.add(prim_path)
        elif prim.IsA(UsdGeom.Camera):
            work.cameras.add(prim_path)
        elif prim.IsA(UsdSkel.Animation):
            work.posed.add(prim_path)
        elif prim.IsA(UsdSkel.Skeleton):
            work.skeletons.add(prim_path)
        elif (material := material_of(prim)) is not None:
            work.materials.add(material)
        elif prim_path in meshes:
            work.meshes.add(prim_path)
    return work


def under(path: str, roots: Iterable[str]) -> bool:
    """True if ``path`` is one of ``roots`` or below one."""
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def top_most(paths: Iterable[str]) -> list[str]:
    """``paths`` without those below another of them, sorted."""
    out: list[str] = []
    for p in sorted(set(paths)):
        if not under(p, out):
            out.append(p)
    return out


def count_changed(before: Mapping[str, object], after: Mapping[str, object]) -> int:
    """How many entries were added, removed or replaced."""
    return sum(1 for p in before.keys() | after.keys() if before.get(p) is not after.get(p))
