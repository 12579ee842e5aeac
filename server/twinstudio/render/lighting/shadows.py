"""Shadow maps: a distance cube per local light, an orthographic depth map per distant light.

Lights are drawn one pass at a time, so one cube and one 2D map serve every light in turn.
Maps store metres, not window depth: the cube holds the distance from the light's centre to
the nearest caster, the 2D map the depth along the light's direction past the shadow box's
near face. The light pass filters them (PCSS sized by the emitter, see ``surface.frag``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from twinstudio.render.gl import select_platform
from twinstudio.render.lighting.emitters import Emitter
from twinstudio.render.lighting.lens import perspective

select_platform()  # before the first OpenGL import fixes the platform

from OpenGL import GL  # noqa: E402

from twinstudio.render.lighting.passes import SurfaceDraw, SurfacePasses  # noqa: E402

Matrix = npt.NDArray[np.float64]
FAR_AWAY = 1.0e30  # cleared value: nothing in the way

# GL cube faces +X -X +Y -Y +Z -Z: looking direction and up vector of each face's camera
_CUBE_FACES = (
    ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    ((0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),
    ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
    ((0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
)
# a cube face's frustum: all directions within this angle of its centre (corner = 54.7 deg)
_FACE_HALF_DIAGONAL = math.acos(1.0 / math.sqrt(3.0))


def look_at(eye: npt.ArrayLike, forward: npt.ArrayLike, up: npt.ArrayLike) -> Matrix:
    """World -> eye matrix of a camera at ``eye`` looking along ``forward``."""
    f = np.asarray(forward, dtype=np.float64)
    f = f / np.linalg.norm(f)
    s = np.cross(f, np.asarray(up, dtype=np.float64))
    s = s / np.linalg.norm(s)
    u = np.cross(s, f)
    v = np.eye(4)
    v[0, :3], v[1, :3], v[2, :3] = s, u, -f
    v[:3, 3] = -v[:3, :3] @ np.asarray(eye, dtype=np.float64)
    return v


def orthographic(half: float, near: float, far: float) -> Matrix:
    p = np.eye(4)
    p[0, 0] = p[1, 1] = 1.0 / half
    p[2, 2] = -2.0 / (far - near)
    p[2, 3] = -(far + near) / (far - near)
    return p


def face_needed(emitter: Emitter, forward: npt.ArrayLike, corners: npt.ArrayLike) -> bool:
    """False when this cube face can be left empty: the scene box (``corners`` relative to
    the light) is all behind it, or no direction in it is lit (behind a one-sided emitter,
    outside the cone)."""
    f = np.asarray(forward, dtype=np.float64)
    if float(np.max(np.asarray(corners, dtype=np.float64) @ f)) <= 0.0:
        return False
    axis = emitter.axis
    limit = min(emitter.cone_cutoff, math.pi)
    if emitter.kind in ("rect", "disk"):
        # one-sided: skip a face whose four corner rays all point behind the emitter
        k = [i for i in range(3) if f[i] == 0.0]
        corners = [f + a * np.eye(3)[k[0]] + b * np.eye(3)[k[1]] for a in (-1, 1) for b in (-1, 1)]
        if all(float(np.dot(c, axis)) <= 0.0 for c in corners):
            return False
    angle = math.acos(min(max(float(np.dot(f, axis)), -1.0), 1.0))
    return angle - _FACE_HALF_DIAGONAL < limit


@dataclass(frozen=True)
class CubeShadow:
    texture: int
    texel: float  # 2 / face size: a texel's size over its distance at a face centre


@dataclass(frozen=True)
class OrthoShadow:
    texture: int
    origin: npt.NDArray[np.float64]
    half_extent: float
    texel: float  # metres


class ShadowMaps:
    """The shared shadow textures and the framebuffer that renders them."""

    def __init__(self) -> None:
        self._fbo = int(GL.glGenFramebuffers(1))
        self._cube = 0
        self._cube_size = 0
        self._cube_depth = 0
        self._flat = 0
        self._flat_size = 0
        self._flat_depth = 0

    def delete(self) -> None:
        if self._cube:
            GL.glDeleteTextures([self._cube])
        if self._flat:
            GL.glDeleteTextures([self._flat])
        rbs = [rb for rb in (self._cube_depth, self._flat_depth) if rb]
        if rbs:
            GL.glDeleteRenderbuffers(len(rbs), rbs)
        GL.glDeleteFramebuffers(1, [self._fbo])
        self._cube = self._flat = self._cube_depth = self._flat_depth = 0

    def render_cube(
        self,
        passes: SurfacePasses,
        draws: Sequence[SurfaceDraw],
        emitter: Emitter,
        size: int,
        bounds: npt.NDArray[np.float64],
    ) -> CubeShadow:
        """Distances from ``emitter``'s centre to the casters, over the faces it can light."""
        self._ensure_cube(size)
        pos = emitter.position
        corners = np.array(
            [[x, y, z] for x in bounds[:, 0] for y in bounds[:, 1] for z in bounds[:, 2]]
        )
        far = max(float(np.max(np.linalg.norm(corners - pos, axis=1))) * 1.01, 1e-2)
        near = min(max(far * 1e-5, 1e-3), 0.01)
        proj = perspective(math.pi / 2.0, 1.0, near, far)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo)
        GL.glFramebufferRenderbuffer(
            GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, self._cube_depth
        )
        self._begin(size)
        for i, (forward, up) in enumerate(_CUBE_FACES):
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER,
                GL.GL_COLOR_ATTACHMENT0,
                GL.GL_TEXTURE_CUBE_MAP_POSITIVE_X + i,
                self._cube,
                0,
            )
            GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
            if not face_needed(emitter, forward, corners - pos):
                continue
            passes.draw_casters(
                draws,
                {"SHADOW_CUBE": 1},
                {"V": look_at(pos, forward, up), "P": proj, "light_position": pos},
            )
        return CubeShadow(texture=self._cube, texel=2.0 / size)

    def render_ortho(
        self,
        passes: SurfacePasses,
        draws: Sequence[SurfaceDraw],
        emitter: Emitter,
        size: int,
        bounds: npt.NDArray[np.float64],
    ) -> OrthoShadow:
        """Depths along a distant light's direction, over a box around the whole scene."""
        self._ensure_flat(size)
        centre = bounds.mean(axis=0)
        half = max(float(np.linalg.norm(bounds[1] - bounds[0])) / 2.0 * 1.01, 1e-2)
        axis = emitter.axis
        origin = centre - axis * half
        x, y = emitter.x_axis, emitter.y_axis
        view = np.eye(4)
        view[0, :3], view[1, :3], view[2, :3] = x, y, -axis
        view[:3, 3] = -view[:3, :3] @ origin
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo)
        GL.glFramebufferRenderbuffer(
            GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, self._flat_depth
        )
        GL.glFramebufferTexture2D(
            GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, self._flat, 0
        )
        self._begin(size)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        passes.draw_casters(
            draws,
            {"SHADOW_ORTHO": 1},
            {
                "V": view,
                "P": orthographic(half, 0.0, 2.0 * half),
                "shadow_origin": origin,
                "light_axis": axis,
            },
        )
        return OrthoShadow(
            texture=self._flat, origin=origin, half_extent=half, texel=2.0 * half / size
        )

    def _begin(self, size: int) -> None:
        GL.glViewport(0, 0, size, size)
        GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
        GL.glClearColor(FAR_AWAY, FAR_AWAY, FAR_AWAY, FAR_AWAY)
        GL.glClearDepth(1.0)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glDisable(GL.GL_BLEND)
        GL.glColorMask(GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE, GL.GL_TRUE)

    def _ensure_cube(self, size: int) -> None:
        if self._cube and self._cube_size == size:
            return
        if self._cube:
            GL.glDeleteTextures([self._cube])
            GL.glDeleteRenderbuffers(1, [self._cube_depth])
        self._cube = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_CUBE_MAP, self._cube)
        for i in range(6):
            GL.glTexImage2D(
                GL.GL_TEXTURE_CUBE_MAP_POSITIVE_X + i,
                0,
                GL.GL_R32F,
                size,
                size,
                0,
                GL.GL_RED,
                GL.GL_FLOAT,
                None,
            )
        for pname, value in (
            (GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST),
            (GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST),
            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_WRAP_R, GL.GL_CLAMP_TO_EDGE),
        ):
            GL.glTexParameteri(GL.GL_TEXTURE_CUBE_MAP, pname, value)
        GL.glBindTexture(GL.GL_TEXTURE_CUBE_MAP, 0)
        self._cube_depth = self._depth_buffer(size)
        self._cube_size = size

    def _ensure_flat(self, size: int) -> None:
        if self._flat and self._flat_size == size:
            return
        if self._flat:
            GL.glDeleteTextures([self._flat])
            GL.glDeleteRenderbuffers(1, [self._flat_depth])
        self._flat = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._flat)
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D, 0, GL.GL_R32F, size, size, 0, GL.GL_RED, GL.GL_FLOAT, None
        )
        for pname, value in (
            (GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST),
            (GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST),
            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_BORDER),
            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_BORDER),
        ):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, pname, value)
        GL.glTexParameterfv(
            GL.GL_TEXTURE_2D, GL.GL_TEXTURE_BORDER_COLOR, np.full(4, FAR_AWAY, np.float32)
        )
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        self._flat_depth = self._depth_buffer(size)
        self._flat_size = size

    @staticmethod
    def _depth_buffer(size: int) -> int:
        rb = int(GL.glGenRenderbuffers(1))
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rb)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, size, size)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, 0)
        return rb
