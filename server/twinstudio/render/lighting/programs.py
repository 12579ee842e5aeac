"""The lighting shaders, compiled through pyrender's program cache with real ``#define``s.

pyrender's :class:`ShaderProgram` substitutes defines by plain text replacement, which breaks
as soon as one name is a prefix of another, and its ``set_uniform`` silently drops values it
does not recognise (numpy scalars, ints for floats). :class:`StudioProgram` keeps pyrender's
compile/bind/delete and only changes how the source is assembled (a ``#define`` block after
``#version``); :func:`set_uniforms` sets typed values and fails loudly on a wrong shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from twinstudio.render.gl import select_platform

select_platform()  # before the first OpenGL import fixes the platform

import OpenGL.contextdata  # noqa: E402
from OpenGL import GL  # noqa: E402
from OpenGL.GL.shaders import compileShader  # noqa: E402
from pyrender.constants import BufFlags, TexFlags  # noqa: E402
from pyrender.primitive import Primitive  # noqa: E402
from pyrender.shader_program import ShaderProgram, ShaderProgramCache  # noqa: E402

SHADER_DIR = Path(__file__).resolve().parent / "shaders"

Defines = Mapping[str, int]


class StudioProgram(ShaderProgram):  # type: ignore[misc]  # pyrender is untyped
    """A pyrender program whose defines become ``#define NAME VALUE`` lines."""

    _program_id: int | None
    _vao_id: Any

    def _add_to_context(self) -> None:
        # pyrender links through PyOpenGL's compileProgram, which also runs glValidateProgram:
        # that judges the sampler units bound at link time (all 0), so a program with both a
        # sampler2D and a samplerCube never validates. Link and check, without validating.
        if self._program_id is not None:
            raise ValueError("Shader program already in context")
        stages = (
            (self.vertex_shader, GL.GL_VERTEX_SHADER),
            (self.fragment_shader, GL.GL_FRAGMENT_SHADER),
            (self.geometry_shader, GL.GL_GEOMETRY_SHADER),
        )
        shaders = [compileShader(self._load(path), kind) for path, kind in stages if path]
        if self._vao_id is None:
            self._vao_id = GL.glGenVertexArrays(1)
        GL.glBindVertexArray(self._vao_id)  # PyOpenGL wants a VAO bound while linking
        program = GL.glCreateProgram()
        for shader in shaders:
            GL.glAttachShader(program, shader)
        GL.glLinkProgram(program)
        linked = GL.glGetProgramiv(program, GL.GL_LINK_STATUS)
        for shader in shaders:
            GL.glDeleteShader(shader)
        GL.glBindVertexArray(0)
        if not linked:
            log = GL.glGetProgramInfoLog(program)
            GL.glDeleteProgram(program)
            raise RuntimeError(f"linking {Path(self.fragment_shader).name} failed: {log!r}")
        self._program_id = program

    def _load(self, shader_filename: str) -> str:
        path = Path(shader_filename)
        version, _, body = path.read_text().partition("\n")
        header = "".join(f"#define {k} {v}\n" for k, v in sorted(self.defines.items()))
        return f"{version}\n{header}#line 2 0\n{_expand_includes(body, path.parent, 2)}"

    @property
    def program_id(self) -> int:
        if self._program_id is None:
            raise ValueError("the program is not in a GL context yet")
        return int(self._program_id)


def _expand_includes(body: str, folder: Path, first_line: int) -> str:
    """Replace each ``#include "name"`` line by that file of ``folder`` (one level deep).

    GLSL 3.30 has no includes. ``#line`` directives keep compiler messages pointing at the
    right line: source string 1 is the included file, 0 the including one.
    """
    out: list[str] = []
    for number, line in enumerate(body.split("\n"), start=first_line):
        stripped = line.strip()
        if stripped.startswith("#include"):
            name = stripped.removeprefix("#include").strip().strip('"')
            out += ["#line 1 1", (folder / name).read_text().rstrip("\n"), f"#line {number + 1} 0"]
        else:
            out.append(line)
    return "\n".join(out)


class StudioProgramCache(ShaderProgramCache):  # type: ignore[misc]
    """pyrender's per-context program cache, over this package's shader directory."""

    def __init__(self) -> None:
        super().__init__(shader_dir=str(SHADER_DIR))

    def get_program(
        self,
        vertex_shader: str,
        fragment_shader: str,
        geometry_shader: str | None = None,
        defines: Defines | None = None,
    ) -> StudioProgram:
        defs = dict(defines or {})
        names = [n for n in (vertex_shader, fragment_shader, geometry_shader) if n]
        key = (OpenGL.contextdata.getContext(), tuple(names), tuple(sorted(defs.items())))
        program = self._program_cache.get(key)
        if program is None:
            paths = [str(SHADER_DIR / n) if n else None for n in (*names[:2], geometry_shader)]
            program = StudioProgram(paths[0], paths[1], paths[2], defines=defs)
            program._add_to_context()
            self._program_cache[key] = program
        assert isinstance(program, StudioProgram)
        return program


def primitive_defines(primitive: Primitive, *, material: bool) -> dict[str, int]:
    """Vertex-attribute locations and material-texture switches, as pyrender lays them out.

    Attribute locations follow ``Primitive._add_to_context``: position at 0, then normals,
    tangents, two UV sets and colors when present, then the 4 instance-matrix columns.
    """
    defines: dict[str, int] = {}
    bf = primitive.buf_flags
    loc = 1
    for flag, name in (
        (BufFlags.NORMAL, "NORMAL_LOC"),
        (BufFlags.TANGENT, "TANGENT_LOC"),
        (BufFlags.TEXCOORD_0, "TEXCOORD_0_LOC"),
        (BufFlags.TEXCOORD_1, "TEXCOORD_1_LOC"),
        (BufFlags.COLOR_0, "COLOR_0_LOC"),
    ):
        if bf & flag:
            defines[name] = loc
            loc += 1
    defines["INST_M_LOC"] = loc
    mat = primitive.material
    if not material:
        # shadow passes only need the base color alpha, for alpha-masked cut-outs
        if mat.alphaMode == "MASK" and "TEXCOORD_0_LOC" in defines:
            defines["ALPHA_MASK"] = 1
            if mat.tex_flags & TexFlags.BASE_COLOR:
                defines["HAS_BASE_COLOR_TEX"] = 1
        return defines
    tf = mat.tex_flags
    uv = "TEXCOORD_0_LOC" in defines
    for flag, name in (
        (TexFlags.NORMAL, "HAS_NORMAL_TEX"),
        (TexFlags.OCCLUSION, "HAS_OCCLUSION_TEX"),
        (TexFlags.EMISSIVE, "HAS_EMISSIVE_TEX"),
        (TexFlags.BASE_COLOR, "HAS_BASE_COLOR_TEX"),
        (TexFlags.METALLIC_ROUGHNESS, "HAS_METALLIC_ROUGHNESS_TEX"),
    ):
        if tf & flag and uv:
            defines[name] = 1
    if mat.alphaMode == "MASK":
        defines["ALPHA_MASK"] = 1
    if getattr(mat, "doubleSided", False):
        defines["DOUBLE_SIDED"] = 1
    return defines


def set_uniforms(program: StudioProgram, values: Mapping[str, Any]) -> None:
    """Set uniforms by name; names the compiler optimised away are skipped.

    Python/numpy ints set ``int``/``bool``/sampler uniforms, floats set ``float``; 2/3/4-vectors
    and 4x4 matrices (row-major numpy, transposed on upload) set ``vecN``/``mat4``; an (n, 3)
    array sets a ``vec3[n]``.
    """
    pid = program.program_id
    for name, value in values.items():
        loc = GL.glGetUniformLocation(pid, name)
        if loc == -1:
            continue
        if isinstance(value, bool | np.bool_ | int | np.integer):
            GL.glUniform1i(loc, int(value))
        elif isinstance(value, float | np.floating):
            GL.glUniform1f(loc, float(value))
        else:
            a = np.ascontiguousarray(value, dtype=np.float32)
            if a.shape == (4, 4):
                GL.glUniformMatrix4fv(loc, 1, GL.GL_TRUE, a)
            elif a.ndim == 1 and a.shape[0] in (2, 3, 4):
                fn = {2: GL.glUniform2fv, 3: GL.glUniform3fv, 4: GL.glUniform4fv}[a.shape[0]]
                fn(loc, 1, a)
            elif a.ndim == 2 and a.shape[1] in (2, 3):
                fn = {2: GL.glUniform2fv, 3: GL.glUniform3fv}[a.shape[1]]
                fn(loc, a.shape[0], a)
            else:
                raise ValueError(f"uniform {name!r}: unsupported value of shape {a.shape}")
