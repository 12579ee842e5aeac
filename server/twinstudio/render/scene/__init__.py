"""The stage as a pyrender scene, kept in step with the stage by USD's own change notices.

:class:`StudioScene` turns a composed stage into a ``pyrender.Scene`` of meshes and
materials, plus plain descriptions of the lights (:class:`StudioLight`) and cameras
(:class:`StudioCamera`) that each renderer maps to its own light model. It listens to
``Usd.Notice.ObjectsChanged``; after edits, call :meth:`StudioScene.sync` before the next
frame and it redoes only what the edits touched:

==========================================  =================================================
what changed                                 what sync() does
==========================================  =================================================
a light's or camera's attribute             rebuilds that StudioLight / StudioCamera
an ``xformOp``                              moves the nodes of the prim and its descendants
                                            (``scene.set_pose``); no mesh is rebuilt
a SkelAnimation / Skeleton attribute        re-skins the meshes bound to that skeleton
(a pose)
a mesh attribute or primvar                 rebuilds that mesh
a material or shader input                  rebuilds that material, swaps it into its meshes
``material:binding``                        re-resolves materials under that prim
visibility / purpose, or a resync           rebuilds everything under that prim
(variant switch, create, delete)
a resync of the root (e.g. a take restore)  full rebuild
the stage's ``metersPerUnit``               full rebuild
==========================================  =================================================

Everything the scene hands out is in metres: lengths are scaled by the stage's
``metersPerUnit`` (``UsdGeom.GetStageMetersPerUnit``; by the spec 0.01, centimetres, where
the root layer authors none). Mesh nodes get it as a uniform scale in their pose, lights and
cameras in their position, sizes and distances (:mod:`.lights` lists which values are
lengths; a camera's lens stays in millimetres).

pyrender uploads a Mesh to the GPU once, when it first sees it; writing new vertex positions
into an uploaded Mesh changes nothing on screen. A rebuilt or re-skinned mesh is therefore
a *new* ``pyrender.Mesh`` put into the prim's existing node (the node leaves the scene and
comes back with it, since ``pyrender.Scene`` indexes nodes by mesh). Node identity is thus
stable while a prim is shown (callers may key segmentation maps on
:attr:`StudioScene.mesh_nodes`); the renderer uploads the new Mesh and frees the old one on
its next render. A Mesh is bound to one GL context: render one StudioScene with one
renderer.

Skinned meshes follow the UsdSkel spec: the mesh's own transform is ignored, the skinned
points (``UsdSkelSkinningQuery.ComputeSkinnedPoints``) are in *skeleton* space, and the
node's pose is the Skeleton prim's local-to-world transform (which includes its SkelRoot).

The package's modules, and what they need:

- :mod:`.topology` (meshes as triangles), :mod:`.gprims` (implicit surfaces, via trimesh),
  :mod:`.skinning`, :mod:`.shading` (reading UsdShade), :mod:`.lights` (the light and
  camera records), :mod:`.visibility` and :mod:`.changes` (notices to work): numpy and pxr
  only, usable without OpenGL;
- :mod:`.materials` (pyrender materials) and :mod:`.studio_scene` import pyrender, which
  fixes the GL platform (``PYOPENGL_PLATFORM``, default EGL). Importing this package does
  not: that happens when :class:`StudioScene` is first used, so call
  :func:`twinstudio.render.gl.select_platform` before that to pick another platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twinstudio.render.scene.changes import SyncStats
from twinstudio.render.scene.lights import StudioCamera, StudioLight

if TYPE_CHECKING:
    from twinstudio.render.scene.studio_scene import StudioScene

__all__ = ["StudioCamera", "StudioLight", "StudioScene", "SyncStats"]


def __getattr__(name: str) -> Any:
    if name == "StudioScene":
        from twinstudio.render.scene import studio_scene

        return studio_scene.StudioScene
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
