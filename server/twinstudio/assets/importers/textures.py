"""UsdPreviewSurface materials for imported assets, optionally with a base colour texture.

Textures are written next to the asset (``textures/``) and referenced relatively, so the
asset directory is self-contained and the library serves it as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pxr import Gf, Sdf, Usd, UsdShade

TEXTURES = "textures"


@dataclass(frozen=True)
class Surface:
    """The inputs the studio's renderer reads, in glTF's metallic-roughness terms."""

    base_color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    opacity: float = 1.0
    opacity_threshold: float = 0.0  # > 0: cut-out (glTF MASK)
    metallic: float = 0.0
    roughness: float = 0.5
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    texture: str | None = None  # asset-relative path of the base colour image
    texture_alpha: bool = False  # the texture's alpha drives opacity


def write_texture(asset_dir: Path, stem: str, data: bytes, suffix: str) -> str:
    """Write image bytes under ``textures/`` and return the asset-relative path."""
    folder = asset_dir / TEXTURES
    folder.mkdir(exist_ok=True)
    name = f"{stem}{suffix}"
    n = 1
    while (folder / name).exists():
        n += 1
        name = f"{stem}_{n}{suffix}"
    (folder / name).write_bytes(data)
    return f"./{TEXTURES}/{name}"


def define_material(stage: Usd.Stage, path: str, surface: Surface) -> UsdShade.Material:
    """A Material at ``path`` with a UsdPreviewSurface (and a UV texture if given)."""
    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, f"{path}/PreviewSurface")
    shader.CreateIdAttr("UsdPreviewSurface")
    color = shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    color.Set(Gf.Vec3f(*surface.base_color))
    opacity = shader.CreateInput("opacity", Sdf.ValueTypeNames.Float)
    opacity.Set(surface.opacity)
    if surface.opacity_threshold > 0:
        threshold = shader.CreateInput("opacityThreshold", Sdf.ValueTypeNames.Float)
        threshold.Set(surface.opacity_threshold)
    shader.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(surface.metallic)
    shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(surface.roughness)
    if any(surface.emissive):
        emissive = shader.CreateInput("emissiveColor", Sdf.ValueTypeNames.Color3f)
        emissive.Set(Gf.Vec3f(*surface.emissive))
    if surface.texture:
        reader = UsdShade.Shader.Define(stage, f"{path}/UV")
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("st")
        st = reader.CreateOutput("result", Sdf.ValueTypeNames.Float2)
        tex = UsdShade.Shader.Define(stage, f"{path}/BaseColor")
        tex.CreateIdAttr("UsdUVTexture")
        tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(surface.texture)
        tex.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(st)
        # glTF multiplies the texture by baseColorFactor: UsdUVTexture's scale does the same.
        r, g, b = surface.base_color
        tex.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(r, g, b, surface.opacity))
        rgb = tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        color.ConnectToSource(rgb)
        if surface.texture_alpha:
            opacity.ConnectToSource(tex.CreateOutput("a", Sdf.ValueTypeNames.Float))
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
    return material
