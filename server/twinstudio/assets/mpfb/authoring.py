"""USD authoring helpers of the twin and wardrobe builders.

Meshes are polygonal (``subdivisionScheme = none``) with float points rounded to 0.01 mm,
so a rebuild from the same data gives the same asset; skinned meshes carry constant
``elementSize`` joint influences and an identity ``geomBindTransform`` (their points are
already in skeleton space).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdSkel, Vt

Color = tuple[float, float, float]


def new_stage(default_prim: str, prim_type: str) -> tuple[Usd.Stage, Usd.Prim]:
    """An in-memory stage (metres, Y up) with its default prim defined."""
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    prim = stage.DefinePrim(f"/{default_prim}", prim_type)
    stage.SetDefaultPrim(prim)
    return stage, prim


def save(stage: Usd.Stage, path: Path) -> None:
    """Write the stage's root layer to ``path`` (the suffix picks usda or usdc)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not stage.GetRootLayer().Export(str(path)):
        raise OSError(f"could not write {path}")


def f32(a: NDArray[Any], decimals: int = 5) -> NDArray[np.float32]:
    return (np.round(a, decimals) + 0.0).astype(np.float32)


def matrix(m: NDArray[np.float64]) -> Gf.Matrix4d:
    """A USD (row-vector) matrix from a 4x4 column-vector one."""
    return Gf.Matrix4d(*[float(x) for x in np.asarray(m).T.reshape(-1)])


def author_mesh(
    stage: Usd.Stage,
    path: str,
    points: NDArray[np.float64],
    counts: NDArray[np.int64],
    indices: NDArray[np.int64],
) -> UsdGeom.Mesh:
    """Define a polygonal Mesh with its extent."""
    mesh = UsdGeom.Mesh.Define(stage, path)
    pts = f32(points)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(pts))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(counts.astype(np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(indices.astype(np.int32)))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(np.stack([pts.min(axis=0), pts.max(axis=0)])))
    return mesh


def author_uvs(mesh: UsdGeom.Mesh, values: NDArray[np.float64], indices: NDArray[np.int64]) -> None:
    """Face-varying, indexed ``primvars:st``."""
    st = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
        "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.faceVarying
    )
    st.Set(Vt.Vec2fArray.FromNumpy(f32(values, 6)))
    st.SetIndices(Vt.IntArray.FromNumpy(indices.astype(np.int32)))


def author_skin(
    mesh: UsdGeom.Mesh,
    joint_indices: NDArray[np.int64],
    joint_weights: NDArray[np.float64],
    joints: list[str] | None = None,
) -> None:
    """Vertex joint influences (rows: one vertex's ``k`` influences, weights summing to
    1), an identity geomBindTransform and, if given, the mesh's own ``skel:joints`` order.
    No ``skel:skeleton``: the mesh inherits the binding of the SkelRoot it sits under."""
    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    k = joint_indices.shape[1]
    w = joint_weights / joint_weights.sum(axis=1, keepdims=True)
    binding.CreateJointIndicesPrimvar(False, k).Set(
        Vt.IntArray.FromNumpy(joint_indices.reshape(-1).astype(np.int32))
    )
    binding.CreateJointWeightsPrimvar(False, k).Set(
        Vt.FloatArray.FromNumpy(w.reshape(-1).astype(np.float32))
    )
    binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
    if joints is not None:
        binding.CreateJointsAttr(Vt.TokenArray(joints))


@dataclass(frozen=True)
class Surface:
    """UsdPreviewSurface inputs of a material (``texture``: a diffuse texture file,
    relative to the layer, read through ``primvars:st``)."""

    color: Color
    roughness: float
    specular: float = 0.5
    clearcoat: float = 0.0
    clearcoat_roughness: float = 0.01
    texture: str | None = None


def define_material(stage: Usd.Stage, path: str, surface: Surface) -> UsdShade.Material:
    """A Material at ``path`` whose surface is a UsdPreviewSurface ``<path>/Surface``."""
    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, f"{path}/Surface")
    shader.CreateIdAttr("UsdPreviewSurface")
    diffuse = shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    diffuse.Set(Gf.Vec3f(*surface.color))
    shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(surface.roughness)
    shader.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    shader.CreateInput("useSpecularWorkflow", Sdf.ValueTypeNames.Int).Set(0)
    shader.CreateInput("ior", Sdf.ValueTypeNames.Float).Set(1.3 + surface.specular * 0.2)
    shader.CreateInput("clearcoat", Sdf.ValueTypeNames.Float).Set(surface.clearcoat)
    shader.CreateInput("clearcoatRoughness", Sdf.ValueTypeNames.Float).Set(
        surface.clearcoat_roughness
    )
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
    if surface.texture is not None:
        reader = UsdShade.Shader.Define(stage, f"{path}/StReader")
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
        tex = UsdShade.Shader.Define(stage, f"{path}/DiffuseTexture")
        tex.CreateIdAttr("UsdUVTexture")
        tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(Sdf.AssetPath(surface.texture))
        tex.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        tex.CreateInput("fallback", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*surface.color, 1.0))
        tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
            reader.ConnectableAPI(), "result"
        )
        rgb = tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        diffuse.ConnectToSource(rgb)
    return material


def bind(prim: Usd.Prim, material: UsdShade.Material) -> None:
    UsdShade.MaterialBindingAPI.Apply(prim).Bind(material)
