"""Shadow maps: a distance cube per local light, an orthographic depth map per distant light.

Lights are drawn one pass at a time, so one cube and one 2D map serve every light in turn.
Maps store metres (over a range), not window depth: the cube holds the distance from the
light's centre to the nearest caster, the 2D map the depth along the light's direction past
the shadow box's near face. The light pass filters them (PCSS sized by the emitter, see
``shaders/soft_shadows.glsl``).
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
    range: float  # metres per unit of stored depth


@dataclass(frozen=True)
class OrthoShadow:
    texture: int
    origin: npt.NDArray[np.float64]
    half_extent: float
    texel: float  # metres
    range: float  # metres per unit of stored depth


class ShadowMaps:
    """The shared shadow depth textures, the framebuffer that renders them, and the two
    samplers the light pass reads them through.

    Maps are ``DEPTH_COMPONENT32F`` textures holding metres / ``range``. The light pass reads
    each through two texture units (:meth:`bind`): raw depths for the blocker search, and
    hardware comparison with bilinear filtering (4 texels per tap) for the filter.
    """

    def __init__(self) -> None:
        self._fbo = int(GL.glGenFramebuffers(1))
        self._cube = 0
        self._cube_size = 0
        self._flat = 0
        self._flat_size = 0
        self._depth_sampler, self._test_sampler = (int(s) for s in GL.glGenSamplers(2))
        for sampler, compare in ((self._depth_sampler, False), (self._test_sampler, True)):
            filtering = GL.GL_LINEAR if compare else GL.GL_NEAREST
            for pname, value in (
                (GL.GL_TEXTURE_MIN_FILTER, filtering),
                (GL.GL_TEXTURE_MAG_FILTER, filtering),
                (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_BORDER),
                (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_BORDER),
                (GL.GL_TEXTURE_WRAP_R, GL.GL_CLAMP_TO_BORDER),
                (
                    GL.GL_TEXTURE_COMPARE_MODE,
                    GL.GL_COMPARE_REF_TO_TEXTURE if compare else GL.GL_NONE,
                ),
                (GL.GL_TEXTURE_COMPARE_FUNC, GL.GL_LEQUAL),
            ):
                GL.glSamplerParameteri(sampler, pname, value)
            # outside an orthographic map: nothing in the way
            GL.glSamplerParameterfv(sampler, GL.GL_TEXTURE_BORDER_COLOR, np.ones(4, np.float32))

    def delete(self) -> None:
        textures = [t for t in (self._cube, self._flat) if t]
        if textures:
            GL.glDeleteTextures(textures)
        GL.glDeleteSamplers(2, [self._depth_sampler, self._test_sampler])
        GL.glDeleteFramebuffers(1, [self._fbo])
        self._cube = self._flat = 0

    def bind(self, target: int, texture: int, unit: int) -> None:
        """Bind ``texture`` for the light pass: raw depths on ``unit``, compared on ``unit + 1``.

        Call :meth:`unbind` with the same unit when the light passes are done.
        """
        for i, sampler in enumerate((self._depth_sampler, self._test_sampler)):
            GL.glActiveTexture(GL.GL_TEXTURE0 + unit + i)
            GL.glBindTexture(target, texture)
            GL.glBindSampler(unit + i, sampler)
        # bilinear taps near a cube face's edge read across it
        GL.glEnable(GL.GL_TEXTURE_CUBE_MAP_SEAMLESS)

    @staticmethod
    def unbind(unit: int) -> None:
        """Give ``unit`` and ``unit + 1`` back their textures' own sampling state."""
        for i in range(2):
            GL.glBindSampler(unit + i, 0)
        GL.glDisable(GL.GL_TEXTURE_CUBE_MAP_SEAMLESS)

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
        self._begin(size)
        for i, (forward, up) in enumerate(_CUBE_FACES):
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER,
                GL.GL_DEPTH_ATTACHMENT,
                GL.GL_TEXTURE_CUBE_MAP_POSITIVE_X + i,
                self._cube,
                0,
            )
            GL.glClear(GL.GL_DEPTH_BUFFER_BIT)
            if not face_needed(emitter, forward, corners - pos):
                continue
            passes.draw_casters(
                draws,
                {"SHADOW_CUBE": 1},
                {
                    "V": look_at(pos, forward, up),
                    "P": proj,
                    "light_position": pos,
                    "shadow_range": far,
                },
            )
        return CubeShadow(texture=self._cube, texel=2.0 / size, range=far)

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
        GL.glFramebufferTexture2D(
            GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_TEXTURE_2D, self._flat, 0
        )
        self._begin(size)
        GL.glClear(GL.GL_DEPTH_BUFFER_BIT)
        passes.draw_casters(
            draws,
            {"SHADOW_ORTHO": 1},
            {
                "V": view,
                "P": orthographic(half, 0.0, 2.0 * half),
                "shadow_origin": origin,
                "light_axis": axis,
                "shadow_range": 2.0 * half,
            },
        )
        return OrthoShadow(
            texture=self._flat,
            origin=origin,
            half_extent=half,
            texel=2.0 * half / size,
            range=2.0 * half,
        )

    def _begin(self, size: int) -> None:
        GL.glViewport(0, 0, size, size)
        GL.glDrawBuffer(GL.GL_NONE)  # depth only
        GL.glReadBuffer(GL.GL_NONE)
        GL.glClearDepth(1.0)  # = shadow_range: nothing in the way
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glDisable(GL.GL_BLEND)

    def _ensure_cube(self, size: int) -> None:
        if self._cube and self._cube_size == size:
            return
        if self._cube:
            GL.glDeleteTextures([self._cube])
        self._cube = _depth_texture(GL.GL_TEXTURE_CUBE_MAP, size)
        self._cube_size = size

    def _ensure_flat(self, size: int) -> None:
        if self._flat and self._flat_size == size:
            return
        if self._flat:
            GL.glDeleteTextures([self._flat])
        self._flat = _depth_texture(GL.GL_TEXTURE_2D, size)
        self._flat_size = size


def _depth_texture(target: int, size: int) -> int:
    """A square float depth texture (every face of a cube map); sampling state comes from
    the samplers bound with it."""
    tex = int(GL.glGenTextures(1))
    GL.glBindTexture(target, tex)
    faces = (
        [GL.GL_TEXTURE_CUBE_MAP_POSITIVE_X + i for i in range(6)]
        if target == GL.GL_TEXTURE_CUBE_MAP
        else [target]
    )
    for face in faces:
        GL.glTexImage2D(
            face,
            0,
            GL.GL_DEPTH_COMPONENT32F,
            size,
            size,
            0,
            GL.GL_DEPTH_COMPONENT,
            GL.GL_FLOAT,
            None,
        )
    GL.glTexParameteri(target, GL.GL_TEXTURE_MAX_LEVEL, 0)  # complete without mipmaps
    GL.glBindTexture(target, 0)
    return tex
