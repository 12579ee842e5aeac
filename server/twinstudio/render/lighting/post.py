"""Float render targets and the full-screen passes after lighting: resolve, depth of field.

Everything stays scene-linear float until :meth:`FramePost.read` hands numpy the final
RGBA (premultiplied by coverage): exposure and the tone map are applied in numpy, so the
linear image the tests and HDR outputs use is exactly what was rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from twinstudio.render.gl import select_platform
from twinstudio.render.lighting.lens import CameraView

select_platform()  # before the first OpenGL import fixes the platform

from OpenGL import GL  # noqa: E402

from twinstudio.render.lighting.programs import StudioProgram, StudioProgramCache, set_uniforms  # noqa: E402

# Depth-of-field blur is capped at this fraction of the image height (radius), which keeps
# the gather at <= 128 taps a pixel from turning into visible ghost copies.
MAX_BLUR_RADIUS = 0.03
# Blur radii are gathered per tile of this many pixels, so blurred neighbours within a tile
# and a half can spill over a pixel.
DOF_TILE = 16


# Colour formats a target can have: internal format, pixel format.
COLOR_FORMATS = {
    "rgba32f": (GL.GL_RGBA32F, GL.GL_RGBA),
    "r16f": (GL.GL_R16F, GL.GL_RED),
}


@dataclass
class RenderTarget:
    """A framebuffer of float colour textures (RGBA32F unless ``color_format`` says which
    of :data:`COLOR_FORMATS`), with an optional depth texture."""

    width: int
    height: int
    n_color: int = 1
    with_depth: bool = True
    color_format: str = "rgba32f"
    fbo: int = 0
    colors: list[int] = field(default_factory=list)
    depth: int = 0

    def __post_init__(self) -> None:
        self.fbo = int(GL.glGenFramebuffers(1))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        for i in range(self.n_color):
            tex = _texture(*COLOR_FORMATS[self.color_format], self.width, self.height)
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0 + i, GL.GL_TEXTURE_2D, tex, 0
            )
            self.colors.append(tex)
        if self.with_depth:
            self.depth = _texture(
                GL.GL_DEPTH_COMPONENT32F, GL.GL_DEPTH_COMPONENT, self.width, self.height
            )
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_TEXTURE_2D, self.depth, 0
            )
        GL.glDrawBuffers(self.n_color, [GL.GL_COLOR_ATTACHMENT0 + i for i in range(self.n_color)])
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            self.delete()
            raise RuntimeError(
                f"float framebuffer {self.width}x{self.height} is incomplete (status {status:#x}); "
                f"the GL driver must support {self.color_format} render targets (GL 3.3+)"
            )

    def bind(self) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        GL.glViewport(0, 0, self.width, self.height)

    def delete(self) -> None:
        textures = [*self.colors, *([self.depth] if self.depth else [])]
        if textures:
            GL.glDeleteTextures(textures)
        GL.glDeleteFramebuffers(1, [self.fbo])
        self.colors, self.depth = [], 0


def _texture(internal: int, fmt: int, width: int, height: int) -> int:
    tex = int(GL.glGenTextures(1))
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, internal, width, height, 0, fmt, GL.GL_FLOAT, None)
    for pname, value in (
        (GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST),
        (GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST),
        (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
        (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
    ):
        GL.glTexParameteri(GL.GL_TEXTURE_2D, pname, value)
    GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
    return tex


class FramePost:
    """Render targets, reused while the size stays the same, and the passes over them."""

    def __init__(self, programs: StudioProgramCache) -> None:
        self._programs = programs
        self._targets: dict[str, RenderTarget] = {}
        self._vao = int(GL.glGenVertexArrays(1))

    def target(
        self,
        role: str,
        width: int,
        height: int,
        n_color: int = 1,
        depth: bool = True,
        color_format: str = "rgba32f",
    ) -> RenderTarget:
        """The ``role`` target at this size, made (or remade) on demand."""
        t = self._targets.get(role)
        shape = (width, height, n_color, depth, color_format)
        if t is None or (t.width, t.height, t.n_color, t.with_depth, t.color_format) != shape:
            if t is not None:
                t.delete()
            t = RenderTarget(width, height, n_color, depth, color_format)
            self._targets[role] = t
        return t

    def fullscreen(
        self,
        fragment: str,
        out: RenderTarget,
        textures: dict[str, int],
        uniforms: dict[str, Any],
        defines: dict[str, int] | None = None,
    ) -> None:
        """Run the full-screen pass ``fragment`` (a file in ``shaders/``) into ``out``, with
        ``textures`` (sampler name -> 2D texture) on units 0, 1, ..."""
        program = self._programs.get_program("fullscreen.vert", fragment, defines=defines)
        program._bind()
        self._bind_textures(program, textures)
        set_uniforms(program, uniforms)
        self._draw(out)

    def delete(self) -> None:
        for t in self._targets.values():
            t.delete()
        self._targets.clear()
        GL.glDeleteVertexArrays(1, [self._vao])

    def resolve(
        self,
        opaque: RenderTarget,
        front: RenderTarget | None,
        factor: int,
        view: CameraView,
    ) -> RenderTarget:
        """Downsample by ``factor`` and composite the front layer: colour 0, view depth 1."""
        out = self.target("resolved", opaque.width // factor, opaque.height // factor, 2, False)
        defines = {"FACTOR": factor, **({"FRONT_LAYER": 1} if front is not None else {})}
        program = self._programs.get_program("fullscreen.vert", "resolve.frag", defines=defines)
        program._bind()
        self._bind_textures(
            program,
            {"opaque_layer": opaque.colors[0], "opaque_depth": opaque.depth}
            | ({"front_layer": front.colors[0]} if front is not None else {}),
        )
        set_uniforms(program, {"near": view.near, "far": view.far})
        self._draw(out)
        return out

    def depth_of_field(self, resolved: RenderTarget, view: CameraView) -> RenderTarget:
        """Gather the thin-lens blur of ``resolved`` (colour 0, depth 1)."""
        lens = {
            "coc_k": view.coc_k,
            "focus_distance": view.focus_distance,
            "max_radius": max(MAX_BLUR_RADIUS * resolved.height, 1.0),
        }
        defines = {"TILE": DOF_TILE}
        tiles = self.target(
            "coc_tiles",
            -(-resolved.width // DOF_TILE),
            -(-resolved.height // DOF_TILE),
            1,
            False,
        )
        program = self._programs.get_program("fullscreen.vert", "coc_tiles.frag", defines=defines)
        program._bind()
        self._bind_textures(program, {"depth_layer": resolved.colors[1]})
        set_uniforms(program, lens)
        self._draw(tiles)

        out = self.target("dof", resolved.width, resolved.height, 1, False)
        program = self._programs.get_program("fullscreen.vert", "dof.frag", defines=defines)
        program._bind()
        self._bind_textures(
            program,
            {
                "color_layer": resolved.colors[0],
                "depth_layer": resolved.colors[1],
                "tile_radius": tiles.colors[0],
            },
        )
        set_uniforms(program, lens)
        self._draw(out)
        return out

    @staticmethod
    def read(target: RenderTarget, attachment: int = 0) -> npt.NDArray[np.float32]:
        """The attachment's RGBA as a top-down (H, W, 4) float32 array."""
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, target.fbo)
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0 + attachment)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(0, 0, target.width, target.height, GL.GL_RGBA, GL.GL_FLOAT)
        data = np.frombuffer(raw, dtype=np.float32).reshape(target.height, target.width, 4)
        return np.ascontiguousarray(data[::-1])

    @staticmethod
    def _bind_textures(program: StudioProgram, textures: dict[str, int]) -> None:
        for unit, (name, tex) in enumerate(textures.items()):
            GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            set_uniforms(program, {name: unit})

    def _draw(self, out: RenderTarget) -> None:
        out.bind()
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glColorMask(GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE)
        GL.glBindVertexArray(self._vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glBindVertexArray(0)
