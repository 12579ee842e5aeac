"""The studio's photographic renderer: UsdLux lights on a pyrender scene, in nits.

A render is a short pipeline, all in float until the very end:

1. base pass: depth, coverage, emissive surfaces and the uniform dome (``surface.frag``);
2. one additive pass per light, after that light's shadow map (and its penumbra mask,
   ``penumbra.py``), so any number of lights of any kind (rect, disk, sphere, cylinder,
   distant) are lit and shadowed;
3. blended surfaces: the nearest one per pixel, lit the same way in a layer of its own;
4. resolve: ``supersample`` x ``supersample`` box filter in linear light, front layer over;
5. optional thin-lens depth of field (``post.py``);
6. numpy: camera exposure ``2**exposure``, then :mod:`.tonemap` to 8-bit sRGB.

Use one :class:`StudioRenderer` per GL thread. It borrows the GL context of the
``OffscreenRenderer`` it is given (or opens its own through ``twinstudio.render.gl``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import open_renderer, select_platform
from twinstudio.render.lighting.emitters import Emitter, Lighting, studio_emitters
from twinstudio.render.lighting.inputs import StudioCameraFields, StudioLightFields
from twinstudio.render.lighting.lens import CameraView, camera_view
from twinstudio.render.lighting.tonemap import TONE_MAPS, to_srgb8
from twinstudio.render.lighting.units import exposure_scale

select_platform()  # before the first OpenGL import fixes the platform
apply_pyrender_compat()  # numpy 2 aliases; EGL renderers that can be deleted one by one

import pyrender  # noqa: E402
from OpenGL import GL  # noqa: E402

from twinstudio.render.lighting.passes import (  # noqa: E402
    PENUMBRA_UNIT,
    SHADOW_UNIT,
    SurfaceDraw,
    SurfacePasses,
    scene_bounds,
)
from twinstudio.render.lighting.penumbra import PenumbraMask  # noqa: E402
from twinstudio.render.lighting.post import FramePost, RenderTarget  # noqa: E402
from twinstudio.render.lighting.shadows import ShadowMaps  # noqa: E402

KIND_CODES = {"distant": 0, "sphere": 1, "rect": 2, "disk": 3, "cylinder": 4}


@dataclass(frozen=True)
class ShadowQuality:
    """How soft shadows are sampled per (sub)pixel: blocker-search and filter taps, and the
    widest penumbra blur in (sub)pixels (0: no screen-space blur)."""

    search_taps: int
    filter_taps: int
    max_blur: int


# By supersample factor. A supersampled frame also averages k^2 differently shifted
# estimates per output pixel, so it needs fewer taps per subpixel; its blur radius is in
# subpixels (at most penumbra.TILE).
SHADOW_QUALITY = {
    1: ShadowQuality(search_taps=16, filter_taps=16, max_blur=6),
    2: ShadowQuality(search_taps=12, filter_taps=12, max_blur=8),
    3: ShadowQuality(search_taps=8, filter_taps=12, max_blur=8),
    4: ShadowQuality(search_taps=8, filter_taps=8, max_blur=8),
}
MAX_SUPERSAMPLE = 4


@dataclass(frozen=True)
class RenderSettings:
    """What to render: size in pixels and the quality switches."""

    width: int
    height: int
    shadows: bool = True
    supersample: int = 1  # SSAA factor: render k x larger, box-filter in linear light
    depth_of_field: bool = False  # thin lens from the camera's f_stop / focus_distance
    transparent_background: bool = False
    tone_map: str = "filmic"  # "filmic" (ACES fitted, Narkowicz) | "none"

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"render size must be positive, got {self.width}x{self.height}")
        if not 1 <= self.supersample <= MAX_SUPERSAMPLE:
            raise ValueError(f"supersample must be 1..{MAX_SUPERSAMPLE}, got {self.supersample}")
        if self.tone_map not in TONE_MAPS:
            raise ValueError(
                f"unknown tone_map {self.tone_map!r}; use one of {', '.join(TONE_MAPS)}"
            )


@dataclass(frozen=True)
class RenderResult:
    """A finished frame.

    ``rgb`` is (H, W, 3) uint8 sRGB, or (H, W, 4) with straight alpha when the background is
    transparent. ``linear`` is (H, W, 3) float32 scene radiance in nits times the camera's
    ``2**exposure``, before the tone map (premultiplied by coverage when transparent).
    """

    rgb: npt.NDArray[np.uint8]
    linear: npt.NDArray[np.float32]
    seconds: float


def shadow_map_size(width: int, height: int) -> int:
    """Cube face size for a render of this (supersampled) size: half the long side, as a
    power of two in [512, 2048]."""
    half = max(width, height) // 2
    return int(min(max(1 << max(half - 1, 1).bit_length(), 512), 2048))


def light_uniforms(emitter: Emitter) -> dict[str, Any]:
    shape = emitter.shape
    half = {
        "rect": (shape.width / 2.0, shape.height / 2.0),
        "cylinder": (shape.length / 2.0, shape.radius),
    }.get(emitter.kind, (shape.radius, shape.radius))
    return {
        "light_position": emitter.position,
        "light_x": emitter.x_axis,
        "light_y": emitter.y_axis,
        "light_axis": emitter.axis,
        "light_half": np.asarray(half),
        "light_radiance": emitter.radiance,
        "light_tan_half": emitter.tan_half_angle,
        "cone_cutoff": emitter.cone_cutoff,
        "cone_start": emitter.cone_start,
        "cone_focus": emitter.focus,
    }


class StudioRenderer:
    """Renders a pyrender scene of meshes under UsdLux lights through a USD camera.

    Call :meth:`render` for each frame and :meth:`delete` when done (it also closes the
    offscreen context if this renderer opened it).
    """

    def __init__(
        self,
        offscreen: pyrender.OffscreenRenderer | None = None,
        width: int = 1280,
        height: int = 720,
    ) -> None:
        self._owns_context = offscreen is None
        self._offscreen = open_renderer(width, height) if offscreen is None else offscreen
        self._platform = self._offscreen._platform
        self._platform.make_current()
        try:
            self._passes = SurfacePasses()
            self._shadows = ShadowMaps()
            self._post = FramePost(self._passes.programs)
            self._penumbra = PenumbraMask(self._post)
        finally:
            self._platform.make_uncurrent()

    def render(
        self,
        scene: pyrender.Scene,
        lights: Iterable[StudioLightFields],
        camera: StudioCameraFields,
        settings: RenderSettings,
    ) -> RenderResult:
        """Render ``scene`` lit by ``lights`` through ``camera``; see :class:`RenderResult`."""
        start = time.perf_counter()
        lighting = studio_emitters(lights)
        self._platform.make_current()
        try:
            hdr = self._render_hdr(scene, lighting, camera, settings)
        finally:
            self._platform.make_uncurrent()
        linear = hdr[..., :3] * np.float32(exposure_scale(camera.exposure))
        if settings.transparent_background:
            alpha = np.clip(hdr[..., 3:4], 0.0, 1.0)
            straight = np.where(alpha > 0.0, linear / np.maximum(alpha, 1e-6), 0.0)
            rgb = np.concatenate(
                [to_srgb8(straight, settings.tone_map), np.rint(alpha * 255.0).astype(np.uint8)],
                axis=-1,
            )
        else:
            rgb = to_srgb8(linear, settings.tone_map)
        return RenderResult(
            rgb=rgb, linear=linear.astype(np.float32), seconds=time.perf_counter() - start
        )

    def delete(self) -> None:
        """Free every GL resource; close the context if this renderer opened it."""
        self._platform.make_current()
        try:
            self._post.delete()
            self._shadows.delete()
            self._passes.delete()
        finally:
            self._platform.make_uncurrent()
        if self._owns_context:
            self._offscreen.delete()

    # -- the passes ---------------------------------------------------------------------

    def _render_hdr(
        self,
        scene: pyrender.Scene,
        lighting: Lighting,
        camera: StudioCameraFields,
        settings: RenderSettings,
    ) -> npt.NDArray[np.float32]:
        k = settings.supersample
        width, height = settings.width * k, settings.height * k
        view = camera_view(camera, width, height)
        draws = self._passes.sync(scene)
        opaque = [d for d in draws if not d.blended]
        blended = [d for d in draws if d.blended]
        common = {"V": view.view, "P": view.projection, "cam_pos": view.position}

        background = np.zeros(3) if settings.transparent_background else lighting.dome_radiance
        main = self._post.target("opaque", width, height)
        main.bind()
        GL.glClearColor(*(float(c) for c in background), 0.0)
        GL.glClearDepth(1.0)
        self._base_state()
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        base = {"STUDIO_BASE_PASS": 1}
        self._passes.draw_surfaces(
            opaque, base, {**common, "dome_radiance": lighting.dome_radiance}
        )

        front: RenderTarget | None = None
        if blended:
            front = self._post.target("front", width, height)
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, main.fbo)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, front.fbo)
            GL.glBlitFramebuffer(
                0, 0, width, height, 0, 0, width, height, GL.GL_DEPTH_BUFFER_BIT, GL.GL_NEAREST
            )
            front.bind()
            GL.glClearColor(0.0, 0.0, 0.0, 0.0)
            GL.glClear(GL.GL_COLOR_BUFFER_BIT)
            self._passes.draw_surfaces(
                blended, base, {**common, "dome_radiance": lighting.dome_radiance}
            )

        casters = [d for d in draws if d.casts_shadow]
        bounds = scene_bounds(draws)
        quality = SHADOW_QUALITY[k]
        for emitter in lighting.emitters:
            defines, uniforms = self._shadow_pass(emitter, draws, casters, bounds, settings, view)
            defines |= {
                "STUDIO_LIGHT_PASS": 1,
                "LIGHT_KIND": KIND_CODES[emitter.kind],
                "SHADOW_SEARCH_TAPS": quality.search_taps,
                "SHADOW_FILTER_TAPS": quality.filter_taps,
            }
            uniforms |= common | light_uniforms(emitter)
            masked = defines, uniforms
            shadowed = "SHADOW_CUBE" in defines or "SHADOW_ORTHO" in defines
            if shadowed and opaque and quality.max_blur > 0:
                texture = self._penumbra.draw(
                    self._passes, opaque, defines, uniforms, main, view, quality.max_blur
                )
                GL.glActiveTexture(GL.GL_TEXTURE0 + PENUMBRA_UNIT)
                GL.glBindTexture(GL.GL_TEXTURE_2D, texture)
                masked = defines | {"SHADOW_MASK": 1}, uniforms | {"shadow_mask": PENUMBRA_UNIT}
            for target, surfaces, (pass_defines, pass_uniforms) in (
                (main, opaque, masked),
                (front, blended, (defines, uniforms)),
            ):
                if target is None or not surfaces:
                    continue
                target.bind()
                self._light_state()
                self._passes.draw_surfaces(surfaces, pass_defines, pass_uniforms)
        self._shadows.unbind(SHADOW_UNIT)
        self._base_state()

        resolved = self._post.resolve(main, front, k, view)
        final = resolved
        out_view = camera_view(camera, settings.width, settings.height)
        if settings.depth_of_field and out_view.coc_k > 0.0:
            final = self._post.depth_of_field(resolved, out_view)
        hdr = self._post.read(final)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        return hdr

    def _shadow_pass(
        self,
        emitter: Emitter,
        draws: list[SurfaceDraw],
        casters: list[SurfaceDraw],
        bounds: npt.NDArray[np.float64],
        settings: RenderSettings,
        view: CameraView,
    ) -> tuple[dict[str, int], dict[str, Any]]:
        """Render ``emitter``'s shadow map if it casts any; return the light pass's extras."""
        if not (settings.shadows and emitter.casts_shadow and casters):
            return {}, {}
        size = shadow_map_size(view.width, view.height)
        samplers = {"shadow_depth": SHADOW_UNIT, "shadow_test": SHADOW_UNIT + 1}
        if emitter.is_local:
            cube = self._shadows.render_cube(self._passes, draws, emitter, size, bounds)
            self._shadows.bind(GL.GL_TEXTURE_CUBE_MAP, cube.texture, SHADOW_UNIT)
            return {"SHADOW_CUBE": 1}, {
                **samplers,
                "shadow_texel": cube.texel,
                "shadow_range": cube.range,
            }
        flat = self._shadows.render_ortho(self._passes, draws, emitter, min(2 * size, 4096), bounds)
        self._shadows.bind(GL.GL_TEXTURE_2D, flat.texture, SHADOW_UNIT)
        return {"SHADOW_ORTHO": 1}, {
            **samplers,
            "shadow_texel": flat.texel,
            "shadow_range": flat.range,
            "shadow_origin": flat.origin,
            "shadow_half_extent": flat.half_extent,
        }

    @staticmethod
    def _base_state() -> None:
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glDisable(GL.GL_BLEND)
        GL.glColorMask(GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE)

    @staticmethod
    def _light_state() -> None:
        # add this light's radiance where the base pass left the nearest surface
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LEQUAL)
        GL.glDepthMask(GL.GL_FALSE)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_ONE, GL.GL_ONE)
        GL.glColorMask(GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE, GL.GL_FALSE)
