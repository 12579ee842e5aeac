"""USD authoring steps shared by every asset writer: the sets, the pose library, the twin and
wardrobe builder (:mod:`.mpfb`, :mod:`.wardrobe`) and the importers (:mod:`.importers`).

A writer builds an in-memory stage in the studio's units (:func:`new_stage`: metres, Y up),
authors meshes (:func:`author_mesh`, :func:`author_uvs`, :func:`author_skin`) and
UsdPreviewSurface materials (:class:`Surface`, :func:`define_material`,
:func:`bind_material`), then calls :func:`write_stage` (usda text for the small assets,
usdc for the big ones). The generators round what they write (``decimals``), so
rebuilding an unchanged asset changes no byte; importers keep their source's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdSkel, Vt

Vec3 = tuple[float, float, float]
Color = Vec3  # linear RGB
Box = tuple[Vec3, Vec3]  # (min corner, max corner)
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

POINT_DECIMALS = 5  # 0.01 mm: below any visible detail, above float noise between machines
NORMAL_DECIMALS = 4
UV_DECIMALS = 6


# -- stages ------------------------------------------------------------------------------


def set_studio_units(stage: Usd.Stage) -> None:
    """Declare the studio's units on ``stage``: metres, Y up."""
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)


def new_stage(default_prim: str, prim_type: str) -> tuple[Usd.Stage, Usd.Prim]:
    """An in-memory stage (metres, Y up) with its default prim defined; write it with
    :func:`write_stage`."""
    stage = Usd.Stage.CreateInMemory()
    set_studio_units(stage)
    prim = stage.DefinePrim(f"/{default_prim}", prim_type)
    stage.SetDefaultPrim(prim)
    return stage, prim


def write_stage(stage: Usd.Stage, path: Path) -> None:
    """Write the stage's root layer to ``path``: the suffix picks usda text or usdc. Both
    are byte-for-byte reproducible from the same stage. Raises OSError if USD can't."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not stage.GetRootLayer().Export(str(path)):
        raise OSError(f"could not write {path}")


def set_doc(prim: Usd.Prim, doc: str, *, name: str, version: str) -> None:
    """Document ``prim`` and record its asset name and version in assetInfo."""
    prim.SetDocumentation(doc)
    prim.SetAssetInfo({"name": name, "version": version})


def usd_matrices(m: FloatArray) -> Vt.Matrix4dArray:
    """(N, 4, 4) column-vector matrices as USD's row-vector Matrix4dArray."""
    return Vt.Matrix4dArray.FromNumpy(np.ascontiguousarray(np.transpose(m, (0, 2, 1))))


# -- meshes ------------------------------------------------------------------------------


def f32(a: NDArray[Any], decimals: int | None) -> NDArray[np.float32]:
    """``a`` as float32, rounded to ``decimals`` first (and -0 made 0, so the text is
    stable); ``decimals=None`` converts only."""
    if decimals is None:
        return np.asarray(a, dtype=np.float32)
    return (np.round(a, decimals) + 0.0).astype(np.float32)


def author_mesh(
    stage: Usd.Stage,
    path: str,
    points: FloatArray,
    counts: IntArray,
    indices: IntArray,
    *,
    normals: FloatArray | None = None,
    double_sided: bool = False,
    display_color: Color | None = None,
    decimals: int | None = POINT_DECIMALS,
) -> UsdGeom.Mesh:
    """Define a polygonal Mesh (``subdivisionScheme = none``: drawn as authored) with its
    extent and, if given, vertex normals and a constant displayColor.

    Points are rounded to ``decimals`` (normals to ``NORMAL_DECIMALS``); pass None to
    write the float32 values as they are (an import must not move a vertex). Add UVs,
    skinning and a material with the functions below.
    """
    mesh = UsdGeom.Mesh.Define(stage, path)
    pts = f32(points, decimals)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(pts))
    if normals is not None:
        rounding = None if decimals is None else NORMAL_DECIMALS
        mesh.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(f32(normals, rounding)))
        mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(counts.astype(np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(indices.astype(np.int32)))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(np.stack([pts.min(axis=0), pts.max(axis=0)])))
    if double_sided:  # open shells (garments, hair) are seen from inside too
        mesh.CreateDoubleSidedAttr(True)
    if display_color is not None:
        color = Vt.Vec3fArray([Gf.Vec3f(*display_color)])
        mesh.CreateDisplayColorPrimvar(UsdGeom.Tokens.constant).Set(color)
    return mesh


def author_uvs(
    mesh: UsdGeom.Mesh,
    values: FloatArray,
    indices: IntArray | None = None,
    *,
    decimals: int | None = UV_DECIMALS,
) -> None:
    """``primvars:st``: one value per point, or, with ``indices`` (one per face corner
    into ``values``), face-varying and indexed. Rounded like :func:`author_mesh`."""
    interpolation = UsdGeom.Tokens.vertex if indices is None else UsdGeom.Tokens.faceVarying
    st = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
        "st", Sdf.ValueTypeNames.TexCoord2fArray, interpolation
    )
    st.Set(Vt.Vec2fArray.FromNumpy(f32(values, decimals)))
    if indices is not None:
        st.SetIndices(Vt.IntArray.FromNumpy(indices.astype(np.int32)))


def author_skin(
    mesh: UsdGeom.Mesh,
    joint_indices: IntArray,
    joint_weights: FloatArray,
    joints: Sequence[str] | None = None,
    *,
    rigid: bool = False,
) -> None:
    """Joint influences: one row of ``k`` (index, weight) per vertex, or one row for the
    whole mesh if ``rigid``; weights as given (rows summing to 1). Adds an identity
    geomBindTransform (the points are already in skeleton space) and, if given, the
    mesh's own ``skel:joints`` order. No ``skel:skeleton``: the mesh inherits the binding
    of the SkelRoot it sits under."""
    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    k = joint_indices.shape[1]
    binding.CreateJointIndicesPrimvar(rigid, k).Set(
        Vt.IntArray.FromNumpy(joint_indices.reshape(-1).astype(np.int32))
    )
    binding.CreateJointWeightsPrimvar(rigid, k).Set(
        Vt.FloatArray.FromNumpy(joint_weights.reshape(-1).astype(np.float32))
    )
    binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
    if joints is not None:
        binding.CreateJointsAttr(Vt.TokenArray(list(joints)))


# -- materials ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Surface:
    """A UsdPreviewSurface (metallic workflow). Inputs left None are not authored, so the
    renderer uses UsdPreviewSurface's defaults; opacity, its threshold and emission are
    authored only when they differ from an opaque, unlit surface."""

    color: Color  # diffuseColor, the base colour
    roughness: float = 0.5
    metallic: float = 0.0
    opacity: float = 1.0
    opacity_threshold: float = 0.0  # > 0: a cut-out (glTF MASK)
    emissive: Color = (0.0, 0.0, 0.0)
    ior: float | None = None  # authored with useSpecularWorkflow = 0
    clearcoat: float | None = None  # authored with clearcoat_roughness
    clearcoat_roughness: float = 0.01
    texture: str | None = None  # base colour image, layer-relative, read through primvars:st
    texture_tint: bool = False  # the image times color and opacity (glTF); else it replaces color
    texture_alpha: bool = False  # the image's alpha drives opacity


def dielectric(
    color: Color, roughness: float, *, clearcoat: float = 0.0, clearcoat_roughness: float = 0.01
) -> Surface:
    """A non-metal with its specular (ior 1.4) and clear coat authored: the twin's skin, eyes
    and hair, and the wardrobe's fabrics."""
    return Surface(
        color, roughness, ior=1.4, clearcoat=clearcoat, clearcoat_roughness=clearcoat_roughness
    )


def define_material(stage: Usd.Stage, path: str, surface: Surface) -> UsdShade.Material:
    """A Material at ``path`` whose surface is the UsdPreviewSurface ``<path>/Surface``; a
    texture adds ``<path>/StReader`` and ``<path>/DiffuseTexture``. Bind it with
    :func:`bind_material`."""
    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, f"{path}/Surface")
    shader.CreateIdAttr("UsdPreviewSurface")
    diffuse = shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    diffuse.Set(Gf.Vec3f(*surface.color))
    shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(surface.roughness)
    shader.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(surface.metallic)
    opacity = None
    if surface.opacity != 1.0 or surface.texture_alpha:
        opacity = shader.CreateInput("opacity", Sdf.ValueTypeNames.Float)
        opacity.Set(surface.opacity)
    if surface.opacity_threshold > 0:
        threshold = shader.CreateInput("opacityThreshold", Sdf.ValueTypeNames.Float)
        threshold.Set(surface.opacity_threshold)
    if any(surface.emissive):
        emissive = shader.CreateInput("emissiveColor", Sdf.ValueTypeNames.Color3f)
        emissive.Set(Gf.Vec3f(*surface.emissive))
    if surface.ior is not None:
        shader.CreateInput("useSpecularWorkflow", Sdf.ValueTypeNames.Int).Set(0)
        shader.CreateInput("ior", Sdf.ValueTypeNames.Float).Set(surface.ior)
    if surface.clearcoat is not None:
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
        if surface.texture_tint:  # glTF multiplies the image by baseColorFactor
            tint = Gf.Vec4f(*surface.color, surface.opacity)
            tex.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(tint)
        else:  # the image stands in for the colour, which shows if it can't be read
            fallback = Gf.Vec4f(*surface.color, 1.0)
            tex.CreateInput("fallback", Sdf.ValueTypeNames.Float4).Set(fallback)
        tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
            reader.ConnectableAPI(), "result"
        )
        diffuse.ConnectToSource(tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
        if opacity is not None and surface.texture_alpha:
            opacity.ConnectToSource(tex.CreateOutput("a", Sdf.ValueTypeNames.Float))
    return material


def bind_material(prim: Usd.Prim, material: UsdShade.Material) -> None:
    """Apply MaterialBindingAPI and bind ``material`` to ``prim``."""
    UsdShade.MaterialBindingAPI.Apply(prim).Bind(material)


# -- boxes (set dressing) ----------------------------------------------------------------

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
    stage: Usd.Stage, path: str, boxes: Sequence[Box], material: UsdShade.Material, color: Color
) -> UsdGeom.Mesh:
    """Author ``boxes`` as one Mesh at ``path`` (displayColor ``color``), bound to
    ``material``."""
    points, normals, counts, indices = boxes_mesh(boxes)
    mesh = author_mesh(stage, path, points, counts, indices, normals=normals, display_color=color)
    bind_material(mesh.GetPrim(), material)
    return mesh
