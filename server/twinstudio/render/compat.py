"""Make pyrender 0.1.45 run on numpy 2, without touching installed files.

pyrender 0.1.45 (the last release) still spells infinity ``np.infty``, which numpy 2
removed: ``Mesh.bounds`` (used by every render, for the scene's extent) raises
``AttributeError`` without it. A grep of pyrender and the PyOpenGL 3.1.0 paths we use
(``glReadPixels``, texture upload) found no other numpy-2 removal: PyOpenGL's
``ndarray.tostring`` calls are guarded by ``hasattr`` and fall back to the array.

Its EGL platform also calls ``eglTerminate`` when one renderer is deleted. The EGL display
is one per device per process, shared by every context, so that invalidates all the other
renderers (``EGL_BAD_DISPLAY`` on their next ``make_current``). Under EGL the shim makes
``delete_context`` destroy only its own context; the display lives as long as the process.

Call :func:`apply_pyrender_compat` after choosing the GL platform and before importing
pyrender anywhere (``gl.open_renderer`` does). It is idempotent and only adds what is
missing, so it is a no-op on numpy 1.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

# numpy-2 removals that pyrender 0.1.45 uses, and the value numpy 1 gave them.
_ALIASES: dict[str, object] = {"infty": np.inf}


def apply_pyrender_compat() -> None:
    """Add the numpy aliases pyrender needs (and fix EGL teardown); safe to call repeatedly."""
    for name, value in _ALIASES.items():
        if not hasattr(np, name):
            setattr(np, name, value)
    if os.environ.get("PYOPENGL_PLATFORM") == "egl":
        _keep_shared_egl_display()


def _keep_shared_egl_display() -> None:
    from pyrender.platforms import egl

    platform: Any = egl.EGLPlatform
    if getattr(platform.delete_context, "_twinstudio", False):
        return

    def delete_context(self: Any) -> None:
        from OpenGL.EGL import eglDestroyContext

        if self._egl_display is not None and self._egl_context is not None:
            eglDestroyContext(self._egl_display, self._egl_context)
        self._egl_context = None
        self._egl_display = None  # shared: never eglTerminate it under other renderers

    delete_context._twinstudio = True  # type: ignore[attr-defined]
    platform.delete_context = delete_context
