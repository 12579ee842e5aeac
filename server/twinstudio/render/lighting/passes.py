"""Drawing a pyrender scene's surfaces with the lighting programs.

:class:`SurfacePasses` is a :class:`pyrender.Renderer`: it keeps pyrender's bookkeeping of
which meshes and textures live in the GL context (and frees them in ``delete``), and swaps in
:class:`StudioProgramCache` for the shaders. It never runs pyrender's own forward pass, so
pyrender's limit of a few lights per kind does not apply: each light is its own pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from twinstudio.render.gl import select_platform

select_platform()  # before the first OpenGL import fixes the platform

import pyrender  # noqa: E402
from OpenGL import GL  # noqa: E402
from pyrender.constants import GLTF, TexFlags  # noqa: E402
from pyrender.primitive import Primitive  # noqa: E402

from twinstudio.render.lighting.programs import (  # noqa: E402
    StudioProgram,
    StudioProgramCache,
    primitive_defines,
    set_uniforms,
)

# Texture units: material maps take 0-4 (in this order); a shadow map takes SHADOW_UNIT (raw
# depths) and the unit after it (hardware comparison).
_MATERIAL_MAPS = (
    (TexFlags.NORMAL, "normalTexture", "material.normal_texture"),
    (TexFlags.OCCLUSION, "occlusionTexture", "material.occlusion_texture"),
    (TexFlags.EMISSIVE, "emissiveTexture", "material.emissive_texture"),
    (TexFlags.BASE_COLOR, "baseColorTexture", "material.base_color_texture"),
    (
        TexFlags.METALLIC_ROUGHNESS,
        "metallicRoughnessTexture",
        "material.metallic_roughness_texture",
    ),
)
SHADOW_UNIT = 7
PENUMBRA_UNIT = SHADOW_UNIT + 2  # a light's blurred visibility (penumbra.py)
# Blended surfaces with at least this opacity cast (full) shadows.
SHADOW_OPACITY = 0.5


@dataclass(frozen=True)
class SurfaceDraw:
    """One primitive of one mesh node, where it is and how it is composited."""

    primitive: Primitive
    pose: npt.NDArray[np.float64]
    blended: bool  # alphaMode BLEND: drawn into the front transparent layer
    casts_shadow: bool


def _opacity(material: Any) -> float:
    factor = getattr(material, "baseColorFactor", None)
    return 1.0 if factor is None else float(np.asarray(factor)[3])


class SurfacePasses(pyrender.Renderer):  # type: ignore[misc]  # pyrender is untyped
    """pyrender's context management, driving the studio's shaders."""

    _meshes: set[Any]
    _mesh_textures: set[Any]

    def __init__(self) -> None:
        super().__init__(1, 1)
        self._program_cache = StudioProgramCache()

    @property
    def programs(self) -> StudioProgramCache:
        cache = self._program_cache
        assert isinstance(cache, StudioProgramCache)
        return cache

    def sync(self, scene: pyrender.Scene) -> list[SurfaceDraw]:
        """Load the scene's new meshes and textures into the context; list what to draw.

        Opaque and masked surfaces come first, then blended ones far to near (by node origin).
        Must run with this renderer's context current.
        """
        self._update_context(scene, 0)
        opaque: list[SurfaceDraw] = []
        blended: list[tuple[float, SurfaceDraw]] = []
        for node in scene.mesh_nodes:
            mesh = node.mesh
            if not mesh.is_visible:
                continue
            pose = np.asarray(scene.get_pose(node), dtype=np.float64)
            for primitive in mesh.primitives:
                material = primitive.material
                is_blend = material.alphaMode == "BLEND"
                draw = SurfaceDraw(
                    primitive=primitive,
                    pose=pose,
                    blended=is_blend,
                    casts_shadow=not is_blend or _opacity(material) >= SHADOW_OPACITY,
                )
                if is_blend:
                    blended.append((float(np.linalg.norm(pose[:3, 3])), draw))
                else:
                    opaque.append(draw)
        blended.sort(key=lambda item: -item[0])
        return opaque + [d for _, d in blended]

    def _update_context(self, scene: pyrender.Scene, flags: int) -> None:
        # Like pyrender's, but tolerant of primitives another renderer in this context loaded.
        meshes = set(scene.meshes)
        for mesh in meshes - self._meshes:
            for p in mesh.primitives:
                if not p._in_context():
                    p._add_to_context()
        for mesh in self._meshes - meshes:
            for p in mesh.primitives:
                p.delete()
        self._meshes = meshes
        textures: set[Any] = set()
        for m in meshes:
            for p in m.primitives:
                textures |= p.material.textures
        for texture in textures - self._mesh_textures:
            if not texture._in_context():
                texture._add_to_context()
        for texture in self._mesh_textures - textures:
            texture.delete()
        self._mesh_textures = textures

    def draw_surfaces(
        self,
        draws: Sequence[SurfaceDraw],
        pass_defines: Mapping[str, int],
        uniforms: Mapping[str, Any],
    ) -> None:
        """Draw ``draws`` with the surface program for this pass, materials bound."""
        for draw in draws:
            primitive = draw.primitive
            defines = {**primitive_defines(primitive, material=True), **pass_defines}
            program = self.programs.get_program("surface.vert", "surface.frag", defines=defines)
            program._bind()
            set_uniforms(program, uniforms)
            self._bind_material(program, primitive.material)
            self._draw(program, primitive, draw.pose, cull=not primitive.material.doubleSided)

    def draw_casters(
        self,
        draws: Sequence[SurfaceDraw],
        pass_defines: Mapping[str, int],
        uniforms: Mapping[str, Any],
    ) -> None:
        """Draw the shadow casters among ``draws`` with the shadow program, both faces."""
        for draw in draws:
            if not draw.casts_shadow:
                continue
            primitive = draw.primitive
            if primitive.mode not in (GLTF.TRIANGLES, GLTF.TRIANGLE_STRIP, GLTF.TRIANGLE_FAN):
                continue
            defines = {**primitive_defines(primitive, material=False), **pass_defines}
            program = self.programs.get_program("shadow.vert", "shadow.frag", defines=defines)
            program._bind()
            set_uniforms(program, uniforms)
            if "ALPHA_MASK" in defines:
                material = primitive.material
                set_uniforms(
                    program,
                    {
                        "base_color_factor": np.asarray(material.baseColorFactor),
                        "alpha_cutoff": float(material.alphaCutoff),
                    },
                )
                if "HAS_BASE_COLOR_TEX" in defines:
                    GL.glActiveTexture(GL.GL_TEXTURE0)
                    material.baseColorTexture._bind()
                    set_uniforms(program, {"base_color_texture": 0})
            self._draw(program, primitive, draw.pose, cull=False)

    def _bind_material(self, program: StudioProgram, material: Any) -> None:
        unit = 0
        tf = material.tex_flags
        for flag, attr, uniform in _MATERIAL_MAPS:
            if tf & flag:
                GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
                getattr(material, attr)._bind()
                set_uniforms(program, {uniform: unit})
                unit += 1
        values: dict[str, Any] = {
            "material.emissive_factor": np.asarray(material.emissiveFactor, dtype=np.float64),
            "alpha_cutoff": 0.5 if material.alphaCutoff is None else float(material.alphaCutoff),
        }
        if isinstance(material, pyrender.MetallicRoughnessMaterial):
            values["material.base_color_factor"] = np.asarray(material.baseColorFactor)
            values["material.metallic_factor"] = float(material.metallicFactor)
            values["material.roughness_factor"] = float(material.roughnessFactor)
        else:  # specular-glossiness: shade its diffuse colour as a rough dielectric
            values["material.base_color_factor"] = np.asarray(material.diffuseFactor)
            values["material.metallic_factor"] = 0.0
            values["material.roughness_factor"] = 1.0 - float(material.glossinessFactor)
        set_uniforms(program, values)

    def _draw(
        self,
        program: StudioProgram,
        primitive: Primitive,
        pose: npt.NDArray[np.float64],
        cull: bool,
    ) -> None:
        set_uniforms(program, {"M": pose})
        if cull:
            GL.glEnable(GL.GL_CULL_FACE)
            GL.glCullFace(GL.GL_BACK)
        else:
            GL.glDisable(GL.GL_CULL_FACE)
        if primitive.mode == GLTF.POINTS:
            GL.glPointSize(self.point_size)
        primitive._bind()
        n_instances = 1 if primitive.poses is None else len(primitive.poses)
        if primitive.indices is not None:
            GL.glDrawElementsInstanced(
                primitive.mode, primitive.indices.size, GL.GL_UNSIGNED_INT, None, n_instances
            )
        else:
            GL.glDrawArraysInstanced(primitive.mode, 0, len(primitive.positions), n_instances)
        primitive._unbind()


def scene_bounds(draws: Sequence[SurfaceDraw]) -> npt.NDArray[np.float64]:
    """(2, 3) world-space box around every drawn primitive (zeros when there is none)."""
    corners = []
    for draw in draws:
        lo, hi = np.asarray(draw.primitive.bounds, dtype=np.float64)
        box = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        corners.append(box @ draw.pose[:3, :3].T + draw.pose[:3, 3])
    if not corners:
        return np.zeros((2, 3))
    allc = np.vstack(corners)
    return np.array([allc.min(axis=0), allc.max(axis=0)])
