"""UsdPreviewSurface materials as pyrender materials, textures included.

:func:`convert_material` reads a Material through :mod:`.shading` and builds the pyrender
``MetallicRoughnessMaterial`` (glTF's model, which UsdPreviewSurface maps onto);
:func:`display_material` is the plain material of a mesh without one (its displayColor).

Importing this module fixes the GL platform (``PYOPENGL_PLATFORM``, default EGL), because
it imports pyrender: call :func:`twinstudio.render.gl.select_platform` first to pick another.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pxr import Usd, UsdShade

from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import select_platform
from twinstudio.render.scene.shading import (
    PREVIEW_DEFAULTS,
    TextureRef,
    load_image,
    surface_input,
    texture_channels,
)
from twinstudio.render.scene.topology import Topology

select_platform()
apply_pyrender_compat()
import pyrender  # noqa: E402  (after the platform is chosen and numpy is patched)

log = logging.getLogger(__name__)

_GL_WRAP = {"repeat": 10497, "mirror": 33648, "clamp": 33071, "black": 33071}  # GL enums


def convert_material(
    stage: Usd.Stage, path: str, double_sided: bool, images: dict[str, np.ndarray]
) -> tuple[pyrender.Material, str]:
    """The pyrender material for the USD Material at ``path``, and the UV primvar it reads.

    A Material without a UsdPreviewSurface is drawn as the default grey. ``images`` caches
    decoded textures by resolved path across calls; a texture that can't be loaded falls
    back to the input's constant, with a warning.
    """
    material = UsdShade.Material(stage.GetPrimAtPath(path))
    shader = material.ComputeSurfaceSource()[0] if material else None
    if not shader or shader.GetIdAttr().Get() != "UsdPreviewSurface":
        log.info("%s: no UsdPreviewSurface; drawn as the default grey", path)
        return display_material(None, double_sided), "st"
    inputs = {name: surface_input(shader, name) for name in PREVIEW_DEFAULTS}
    uv_name = next((t.uv_name for _, t in inputs.values() if t is not None), "st")
    textures = {name: _texture_image(name, c, t, images) for name, (c, t) in inputs.items()}

    diffuse = tuple(float(x) for x in inputs["diffuseColor"][0])
    opacity = float(inputs["opacity"][0])
    threshold = float(inputs["opacityThreshold"][0])
    kwargs: dict[str, Any] = {
        "baseColorFactor": (*diffuse, opacity),
        "metallicFactor": float(inputs["metallic"][0]),
        "roughnessFactor": float(inputs["roughness"][0]),
        "emissiveFactor": tuple(float(x) for x in inputs["emissiveColor"][0]),
        "doubleSided": double_sided,
        "name": path,
    }
    base = textures["diffuseColor"]
    if base is not None:
        image, sampler = base
        alpha = textures["opacity"]
        if alpha is not None and alpha[0].shape[:2] == image.shape[:2]:
            image = np.concatenate([image[:, :, :3], alpha[0][:, :, :1]], axis=2)
            kwargs["baseColorFactor"] = (1.0, 1.0, 1.0, 1.0)
        else:
            kwargs["baseColorFactor"] = (1.0, 1.0, 1.0, opacity)
        kwargs["baseColorTexture"] = _texture(image, sampler)
    if textures["emissiveColor"] is not None:
        kwargs["emissiveTexture"] = _texture(*textures["emissiveColor"])
        kwargs["emissiveFactor"] = (1.0, 1.0, 1.0)
    if textures["normal"] is not None:
        kwargs["normalTexture"] = _texture(*textures["normal"])
    if textures["occlusion"] is not None:
        kwargs["occlusionTexture"] = _texture(*textures["occlusion"])
    rough, metal = textures["roughness"], textures["metallic"]
    if rough is not None or metal is not None:
        kwargs["metallicRoughnessTexture"] = _metallic_roughness(
            rough, metal, kwargs["roughnessFactor"], kwargs["metallicFactor"]
        )
        kwargs["roughnessFactor"] = kwargs["metallicFactor"] = 1.0
    if threshold > 0:
        kwargs.update(alphaMode="MASK", alphaCutoff=threshold)
    elif opacity < 1.0 or textures["opacity"] is not None:
        kwargs["alphaMode"] = "BLEND"
    return pyrender.MetallicRoughnessMaterial(**kwargs), uv_name


def display_material(topo: Topology | None, double_sided: bool) -> pyrender.Material:
    """A plain dielectric for meshes without a material: displayColor, else grey 0.5.

    Varying colours ride on the vertices (pyrender multiplies them into the base colour).
    """
    base = (0.5, 0.5, 0.5, 1.0)
    blend = False
    if topo is not None and topo.display is not None:
        base = topo.display
        blend = base[3] < 1.0
    elif topo is not None and topo.colors is not None:
        base = (1.0, 1.0, 1.0, 1.0)
        blend = bool((topo.colors[:, 3] < 1.0).any())
    return pyrender.MetallicRoughnessMaterial(
        baseColorFactor=base,
        metallicFactor=0.0,
        roughnessFactor=0.5,
        doubleSided=double_sided,
        alphaMode="BLEND" if blend else "OPAQUE",
    )


def _texture_image(
    name: str, constant: Any, ref: TextureRef | None, images: dict[str, np.ndarray]
) -> tuple[np.ndarray, pyrender.Sampler] | None:
    """The channels ``ref`` feeds ``name`` with, or None (with a warning if it's missing)."""
    if ref is None:
        return None
    resolved = str(ref.asset.resolvedPath)
    image = images.get(resolved) if resolved else None
    if image is None:
        try:
            if not resolved:
                raise FileNotFoundError("the asset resolver can't find it")
            image = load_image(resolved)
        except Exception as exc:
            log.warning(
                "texture %s (from %s, for %s) can't be used: %s; using the constant %s",
                ref.asset.path,
                ref.shader,
                name,
                exc,
                constant,
            )
            return None
        images[resolved] = image
    channel = ref.channel or "rgb"
    if name in ("metallic", "roughness", "opacity", "occlusion") and len(channel) > 1:
        channel = "r"
    sampler = pyrender.Sampler(
        wrapS=_GL_WRAP.get(ref.wrap_s, _GL_WRAP["repeat"]),
        wrapT=_GL_WRAP.get(ref.wrap_t, _GL_WRAP["repeat"]),
    )
    return texture_channels(image, channel), sampler


def _texture(image: np.ndarray, sampler: pyrender.Sampler) -> pyrender.Texture:
    channels = {1: "R", 2: "RG", 3: "RGB", 4: "RGBA"}[image.shape[2]]
    source = np.ascontiguousarray(image)
    return pyrender.Texture(source=source, source_channels=channels, sampler=sampler)


def _metallic_roughness(
    rough: tuple[np.ndarray, pyrender.Sampler] | None,
    metal: tuple[np.ndarray, pyrender.Sampler] | None,
    roughness: float,
    metallic: float,
) -> pyrender.Texture:
    """pyrender wants one texture: roughness in G, metallic in B (glTF)."""
    first = rough or metal
    assert first is not None
    h, w = first[0].shape[:2]
    out = np.zeros((h, w, 3), dtype=np.uint8)
    for channel, src, const in ((1, rough, roughness), (2, metal, metallic)):
        if src is None:
            out[:, :, channel] = round(const * 255)
        elif src[0].shape[:2] == (h, w):
            out[:, :, channel] = src[0][:, :, 0]
        else:  # different resolutions: nearest-neighbour resample onto the first one
            ys = np.arange(h) * src[0].shape[0] // h
            xs = np.arange(w) * src[0].shape[1] // w
            out[:, :, channel] = src[0][ys][:, xs, 0]
    return _texture(out, first[1])
