"""Reading UsdShade: which material a prim draws with, its UsdPreviewSurface inputs, textures.

No pyrender: :func:`surface_input` gives a UsdPreviewSurface input's constant and the
UsdUVTexture feeding it (a :class:`TextureRef`), :func:`load_image` decodes a texture
(from a file or a usdz) and :func:`texture_channels` picks the output a shader reads.
``twinstudio.render.scene.materials`` turns these into pyrender materials.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pxr import Ar, Sdf, Usd, UsdShade

TIME = Usd.TimeCode.Default()

PREVIEW_DEFAULTS: dict[str, Any] = {
    "diffuseColor": (0.18, 0.18, 0.18),
    "emissiveColor": (0.0, 0.0, 0.0),
    "metallic": 0.0,
    "roughness": 0.5,
    "opacity": 1.0,
    "opacityThreshold": 0.0,
    "occlusion": 1.0,
    "normal": (0.0, 0.0, 1.0),
}


@dataclass(frozen=True)
class TextureRef:
    """A UsdUVTexture feeding a surface input."""

    asset: Sdf.AssetPath
    channel: str  # the UsdUVTexture output used: rgb, rgba, r, g, b, a
    wrap_s: str
    wrap_t: str
    uv_name: str
    shader: str


def bound_material_key(prim: Usd.Prim, double_sided: bool) -> tuple[str, bool] | None:
    """(material path, ``double_sided``) of the material bound to ``prim``, or None."""
    # The preview binding (else the all-purpose one): UsdPreviewSurface is what we read.
    binding = UsdShade.MaterialBindingAPI(prim)
    material = binding.ComputeBoundMaterial(UsdShade.Tokens.preview)[0]
    return (str(material.GetPath()), double_sided) if material else None


def material_of(prim: Usd.Prim) -> str | None:
    """The Material ``prim`` is (or is inside), e.g. a shader's."""
    p = prim
    while p and not p.IsPseudoRoot():
        if p.IsA(UsdShade.Material):
            return str(p.GetPath())
        p = p.GetParent()
    return None


def value_sources(inp: UsdShade.Input) -> Iterator[tuple[Any, UsdShade.Shader | None, str]]:
    """(value, source shader, output name) for each attribute producing ``inp``'s value."""
    for attr in inp.GetValueProducingAttributes(False):
        base, kind = UsdShade.Utils.GetBaseNameAndType(attr.GetName())
        if kind == UsdShade.AttributeType.Output:
            yield None, UsdShade.Shader(attr.GetPrim()), str(base)
        else:
            yield attr.Get(TIME), None, ""


def input_value(shader: UsdShade.Shader, name: str, default: Any) -> Any:
    """The value ``shader``'s input ``name`` resolves to, else ``default``."""
    inp = shader.GetInput(name)
    if not inp:
        return default
    for value, _, _ in value_sources(inp):
        if value is not None:
            return value
    return default


def surface_input(shader: UsdShade.Shader, name: str) -> tuple[Any, TextureRef | None]:
    """A UsdPreviewSurface input's constant value and, if a UsdUVTexture feeds it, its ref.

    The constant is the input's own authored value (what a missing texture falls back to),
    else the UsdPreviewSurface default.
    """
    default = PREVIEW_DEFAULTS[name]
    inp = shader.GetInput(name)
    if not inp:
        return default, None
    own = inp.GetAttr().Get(TIME)
    constant = own if own is not None else default
    for value, source, output in value_sources(inp):
        if source is None:
            if value is not None:
                constant = value
        elif source.GetIdAttr().Get() == "UsdUVTexture":
            asset = input_value(source, "file", None)
            if isinstance(asset, Sdf.AssetPath) and asset.path:
                return constant, TextureRef(
                    asset,
                    output,
                    str(input_value(source, "wrapS", "useMetadata")),
                    str(input_value(source, "wrapT", "useMetadata")),
                    texture_uv_name(source),
                    str(source.GetPath()),
                )
    return constant, None


def texture_uv_name(texture: UsdShade.Shader) -> str:
    """The UV primvar a UsdUVTexture reads (its UsdPrimvarReader's varname), else "st"."""
    st = texture.GetInput("st")
    if st:
        for _, source, _ in value_sources(st):
            if source is not None and str(source.GetIdAttr().Get()).startswith("UsdPrimvarReader"):
                return str(input_value(source, "varname", "st"))
    return "st"


def load_image(resolved: str) -> np.ndarray:
    """Decode an image (a file, or a file inside a usdz) to uint8 HxWxC, C in 1..4."""
    from PIL import Image

    asset = Ar.GetResolver().OpenAsset(Ar.ResolvedPath(resolved))
    if asset is None:
        raise OSError(f"can't open {resolved}")
    with Image.open(io.BytesIO(bytes(asset.GetBuffer()))) as img:
        if img.mode.startswith("I;16"):
            arr = (np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8)
        elif img.mode in ("L", "LA", "RGB", "RGBA"):
            arr = np.asarray(img, dtype=np.uint8)
        else:
            alpha = "A" in img.getbands() or "transparency" in img.info
            arr = np.asarray(img.convert("RGBA" if alpha else "RGB"), dtype=np.uint8)
    return arr if arr.ndim == 3 else arr[:, :, None]


def texture_channels(image: np.ndarray, channel: str) -> np.ndarray:
    """The UsdUVTexture output ``channel`` of ``image`` (grey images feed every channel)."""
    c = image.shape[2]
    rgb = image[:, :, :3] if c >= 3 else np.repeat(image[:, :, :1], 3, axis=2)
    alpha = image[:, :, c - 1 : c] if c in (2, 4) else np.full_like(image[:, :, :1], 255)
    if channel == "rgba":
        return np.concatenate([rgb, alpha], axis=2)
    if channel in ("r", "g", "b"):
        return rgb[:, :, "rgb".index(channel)][:, :, None]
    if channel == "a":
        return alpha
    return rgb
