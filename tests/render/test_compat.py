"""The numpy-2 shim for pyrender, and the GL platform selection with its clear failures."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import GLUnavailable, gl_info, select_platform

BOUNDS = """
import numpy as np
{shim}
import pyrender
mesh = pyrender.Mesh([pyrender.Primitive(positions=np.eye(3, dtype=np.float32), mode=4)])
print("bounds", mesh.bounds.tolist())
"""

OPEN = """
from twinstudio.render.gl import GLUnavailable, open_renderer
try:
    open_renderer(16, 16).delete()
except GLUnavailable as exc:
    print(exc)
    raise SystemExit(3)
print("context ok")
"""


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYOPENGL_PLATFORM": "egl", **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=60
    )


def test_pyrender_fails_on_numpy2_without_the_shim() -> None:
    assert int(np.__version__.split(".")[0]) >= 2, "this checks the numpy-2 breakage"
    result = run(BOUNDS.format(shim=""))
    assert result.returncode != 0
    assert "infty" in result.stderr


def test_the_shim_is_enough_for_pyrender() -> None:
    shim = "from twinstudio.render.compat import apply_pyrender_compat; apply_pyrender_compat()"
    result = run(BOUNDS.format(shim=shim))
    assert result.returncode == 0, result.stderr
    assert "bounds [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]" in result.stdout


def test_the_shim_is_idempotent_and_only_adds() -> None:
    apply_pyrender_compat()
    apply_pyrender_compat()
    assert np.infty == np.inf  # type: ignore[attr-defined]
    assert np.pi == pytest.approx(3.14159265)


def test_an_unknown_platform_says_what_to_use_and_install() -> None:
    result = run(OPEN, PYOPENGL_PLATFORM="bogus")
    assert result.returncode == 3, result.stderr
    message = result.stdout
    assert "unsupported OpenGL platform 'bogus'" in message
    assert "egl, osmesa" in message
    assert "apt-get install libegl1 libgl1-mesa-dri libegl-mesa0" in message
    assert "Traceback" not in result.stderr


def test_osmesa_renders_or_says_what_to_install() -> None:
    result = run(OPEN, PYOPENGL_PLATFORM="osmesa")
    if result.returncode == 3:  # no libOSMesa on this host: the message must say so
        assert "PYOPENGL_PLATFORM=osmesa" in result.stdout
        assert "apt-get install libosmesa6" in result.stdout
    else:
        assert result.returncode == 0, result.stderr
        assert "context ok" in result.stdout


def test_the_platform_cannot_change_once_opengl_is_imported(renderer: Any) -> None:
    assert select_platform() == os.environ["PYOPENGL_PLATFORM"]
    other = "osmesa" if os.environ["PYOPENGL_PLATFORM"] == "egl" else "egl"
    with pytest.raises(GLUnavailable, match="already imported"):
        select_platform(other)


def test_gl_info_describes_the_context(renderer: Any) -> None:
    info = gl_info(renderer)
    assert info["platform"] == os.environ["PYOPENGL_PLATFORM"]
    assert info["renderer"] and info["version"] and info["vendor"]


TWO_RENDERERS = """
import numpy as np
from twinstudio.render.gl import select_platform
select_platform("egl")
{shim}
import pyrender, trimesh
def make():
    scene = pyrender.Scene()
    scene.add(pyrender.Mesh.from_trimesh(trimesh.creation.box()))
    scene.add(pyrender.PerspectiveCamera(yfov=1.0), pose=np.array(
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 3], [0, 0, 0, 1]], dtype=float))
    return scene
a = pyrender.OffscreenRenderer(32, 32)
b = pyrender.OffscreenRenderer(32, 32)
a.delete()
color, _ = b.render(make())
b.delete()
print("ok", color.shape)
"""


@pytest.mark.parametrize("shim", [False, True], ids=["pyrender-as-is", "with-shim"])
def test_deleting_one_egl_renderer_leaves_the_others_working(shim: bool) -> None:
    code = TWO_RENDERERS.format(
        shim="from twinstudio.render.compat import apply_pyrender_compat; apply_pyrender_compat()"
        if shim
        else "np.infty = np.inf"
    )
    env = {**os.environ, "PYOPENGL_PLATFORM": "egl"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    if shim:
        assert done.returncode == 0 and "ok (32, 32, 3)" in done.stdout, done.stderr
    else:  # the bug the shim exists for
        assert done.returncode != 0 and "eglMakeCurrent" in done.stderr
