"""Small USD authoring steps shared by the studio's own asset generators (sets, poses).

Every generator builds an in-memory stage in the studio's units (metres, Y up), then
writes it as reproducible usda text, so regenerating an unchanged asset changes no byte.
(The twin builder has its own helpers in :mod:`twinstudio.assets.mpfb.authoring`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, Vt

Vec3 = tuple[float, float, float]
Box = tuple[Vec3, Vec3]  # (min corner, max corner)
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def new_stage(default_prim: str, prim_type: str) -> tuple[Usd.Stage, Usd.Prim]:
    """An in-memory stage (metres, Y up) with its default prim defined."""
    stage = Usd.Stage.Open(Sdf.Layer.CreateAnonymous(".usda"))
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    prim = stage.DefinePrim(f"/{default_prim}", prim_type)
    stage.SetDefaultPrim(prim)
    return stage, prim


def write_stage(stage: Usd.Stage, path: Path) -> None:
    """Write the stage's root layer as usda text (byte-for-byte reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(str(stage.GetRootLayer().ExportToString()).encode("utf-8"))


def set_doc(prim: Usd.Prim, doc: str, *, name: str, version: str) -> None:
    """Document ``prim`` and record its asset name and version in assetInfo."""
    prim.SetDocumentation(doc)
    prim.SetAssetInfo({"name": name, "version": version})


def define_preview_material(
    stage: Usd.Stage, path: str, color: Vec3, roughness: float, metallic: float = 0.0
) -> UsdShade.Material:
    """A UsdPreviewSurface material (shader ``<path>/Surface``) with a constant diffuse colour."""
    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, f"{path}/Surface")
    shader.CreateIdAttr("UsdPreviewSurface")
    shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(*color))
    shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(roughness)
    shader.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(metallic)
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
    return material


def bind_material(prim: Usd.Prim, material: UsdShade.Material) -> None:
    """Apply MaterialBindingAPI and bind ``material`` to ``prim``."""
    UsdShade.MaterialBindingAPI.Apply(prim).Bind(material)


def _f32(a: FloatArray, decimals: int) -> NDArray[np.float32]:
    return (np.round(a, decimals) + 0.0).astype(np.float32)


def author_mesh(
    stage: Usd.Stage,
    path: str,
    points: FloatArray,
    normals: FloatArray,
    counts: IntArray,
    indices: IntArray,
    color: Vec3,
) -> UsdGeom.Mesh:
    """Define a polygonal (non-subdivided) Mesh with vertex normals, extent and displayColor."""
    mesh = UsdGeom.Mesh.Define(stage, path)
    pts = _f32(points, 5)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(pts))
    mesh.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(_f32(normals, 4)))
    mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(counts.astype(np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(indices.astype(np.int32)))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(np.stack([pts.min(axis=0), pts.max(axis=0)])))
    mesh.CreateDisplayColorPrimvar(UsdGeom.Tokens.constant).Set(Vt.Vec3fArray([Gf.Vec3f(*color)]))
    return mesh


# The six faces of a box over its corners (bit 0: x, bit 1: y, bit 2: z), counter-clockwise
# seen from outside, with each face's normal.
_BOX_FACES: tuple[tuple[tuple[int, int, int, int], Vec3], ...] = (
    ((0, 4, 6, 2), (-1.0, 0.0, 0.0)),
    ((1, 3, 7, 5), (1.0, 0.0, 0.0)),
    ((0, 1, 5, 4), (0.0, -1.0, 0.0)),
    ((2, 6, 7, 3), (0.0, 1.0, 0.0)),
    ((0, 2, 3, 1), (0.0, 0.0, -1.0)),
    ((4, 5, 7, 6), (0.0, 0.0, 1.0)),
)


def boxes_mesh(boxes: Sequence[Box]) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Axis-aligned boxes as one flat-shaded mesh (four points per face): points, normals,
    face vertex counts and indices."""
    points: list[Vec3] = []
    normals: list[Vec3] = []
    for lo, hi in boxes:
        corners = [
            (hi[0] if i & 1 else lo[0], hi[1] if i & 2 else lo[1], hi[2] if i & 4 else lo[2])
            for i in range(8)
        ]
        for face, normal in _BOX_FACES:
            points.extend(corners[c] for c in face)
            normals.extend([normal] * 4)
    n_faces = len(points) // 4
    return (
        np.asarray(points, dtype=np.float64),
        np.asarray(normals, dtype=np.float64),
        np.full(n_faces, 4, dtype=np.int64),
        np.arange(len(points), dtype=np.int64),
    )


def add_boxes(
    stage: Usd.Stage, path: str, boxes: Sequence[Box], material: UsdShade.Material, color: Vec3
) -> UsdGeom.Mesh:
    """Author ``boxes`` as one Mesh at ``path``, bound to ``material``."""
    mesh = author_mesh(stage, path, *boxes_mesh(boxes), color)
    bind_material(mesh.GetPrim(), material)
    return mesh
