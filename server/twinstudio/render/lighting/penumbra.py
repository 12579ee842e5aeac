"""Screen-space penumbrae: one light's visibility per pixel, blurred within its penumbra.

At one sample per pixel the soft-shadow estimate (``shaders/soft_shadows.glsl``) leaves a
fine, even noise in wide penumbrae. So before a shadowed light's pass, :class:`PenumbraMask`
draws the opaque surfaces once more, testing against the opaque layer's depth, into a mask
of that light's visibility, a blur radius (a quarter of the narrowest penumbra's width on
screen, 0 where no caster was found) and 1 / view depth. Two full-screen passes blur it
along x then y (``shaders/penumbra_blur.frag``): each neighbour weighs by its distance
against that radius, and only if it lies on the same surface. Blocks of TILE x TILE pixels
with no penumbra within reach are passed over (``shaders/penumbra_tiles.frag``). The light
pass then multiplies by the blurred visibility (``SHADOW_MASK``). Wide penumbrae come out
smooth; full light, full shadow and the narrow penumbrae at contact lines stay as they are.

Blended surfaces (the front layer) are not in the mask: their light pass filters inline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twinstudio.render.gl import select_platform
from twinstudio.render.lighting.lens import CameraView

select_platform()  # before the first OpenGL import fixes the platform

from OpenGL import GL  # noqa: E402

from twinstudio.render.lighting.passes import SurfaceDraw, SurfacePasses  # noqa: E402
from twinstudio.render.lighting.post import FramePost, RenderTarget  # noqa: E402

# The blur skips TILE x TILE blocks with no penumbra within reach (so radius <= TILE).
TILE = 8


class PenumbraMask:
    """The mask and blur targets of one renderer, reused from light to light."""

    def __init__(self, post: FramePost) -> None:
        self._post = post

    def draw(
        self,
        passes: SurfacePasses,
        surfaces: Sequence[SurfaceDraw],
        defines: Mapping[str, int],
        uniforms: Mapping[str, Any],
        opaque: RenderTarget,
        view: CameraView,
        max_blur: int,
    ) -> int:
        """Draw and blur this light's visibility over ``opaque``'s surfaces; return the 2D
        texture (R16F, one texel per pixel of ``opaque``) its light pass reads.

        ``defines`` and ``uniforms`` are the light pass's (its shadow map bound); blur radii
        are capped at ``max_blur`` pixels.
        """
        width, height = opaque.width, opaque.height
        mask = self._post.target("penumbra_mask", width, height, 1, False, "rgba32f")
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, mask.fbo)
        # the opaque layer's depth, read-only: only the visible surface of each pixel counts
        GL.glFramebufferTexture2D(
            GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_TEXTURE_2D, opaque.depth, 0
        )
        mask.bind()
        GL.glClearColor(1.0, 0.0, 0.0, 0.0)  # lit, no blur
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LEQUAL)
        GL.glDepthMask(GL.GL_FALSE)
        GL.glDisable(GL.GL_BLEND)
        GL.glColorMask(GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE)
        mask_defines = {k: v for k, v in defines.items() if k != "STUDIO_LIGHT_PASS"}
        passes.draw_surfaces(
            surfaces,
            {**mask_defines, "STUDIO_SHADOW_MASK_PASS": 1},
            {**uniforms, "focal_px": view.focal_px, "max_blur": float(max_blur)},
        )
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_TEXTURE_2D, 0, 0)

        blur = {"MAX_BLUR": min(max(int(max_blur), 1), TILE), "TILE": TILE}
        tiles = self._post.target(
            "penumbra_tiles", -(-width // TILE), -(-height // TILE), 1, False, "r16f"
        )
        self._post.fullscreen("penumbra_tiles.frag", tiles, {"mask": mask.colors[0]}, {}, blur)
        along_x = self._post.target("penumbra_x", width, height, 1, False, "rgba32f")
        out = self._post.target("penumbra", width, height, 1, False, "r16f")
        for source, target, direction in ((mask, along_x, (1.0, 0.0)), (along_x, out, (0.0, 1.0))):
            self._post.fullscreen(
                "penumbra_blur.frag",
                target,
                {"source": source.colors[0], "tiles": tiles.colors[0]},
                {"direction": np.array(direction)},
                blur,
            )
        return out.colors[0]
