"""Offscreen OpenGL for the render node: pick the platform, open a context, describe it.

PyOpenGL binds to one platform (EGL, OSMesa, GLX) when ``OpenGL`` is first imported and
reads it from ``PYOPENGL_PLATFORM``, so :func:`select_platform` must run before anything
imports OpenGL or pyrender. :func:`open_renderer` does that itself; call
``select_platform("osmesa")`` first to choose OSMesa (``--gl osmesa``).

A host without a working GL gets :class:`GLUnavailable` with a message that says what to
install, never a bare traceback from deep inside PyOpenGL.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from twinstudio.render.compat import apply_pyrender_compat

if TYPE_CHECKING:
    import pyrender

PLATFORMS = ("egl", "osmesa")
DEFAULT_PLATFORM = "egl"
ENV = "PYOPENGL_PLATFORM"

_HOW_TO_FIX = (
    "On Debian/Ubuntu install Mesa's EGL: `apt-get install libegl1 libgl1-mesa-dri libegl-mesa0` "
    "(on a GPU host, the NVIDIA driver provides EGL instead); "
    "or use OSMesa: `apt-get install libosmesa6` and run with `--gl osmesa` "
    "(PYOPENGL_PLATFORM=osmesa)."
)


class GLUnavailable(Exception):
    """No offscreen OpenGL context could be made. The message says what to install."""


def select_platform(preferred: str | None = None) -> str:
    """Set ``PYOPENGL_PLATFORM`` and return it: ``preferred``, else the env var, else "egl".

    Must run before OpenGL is imported; afterwards the platform is fixed, and asking for a
    different one raises :class:`GLUnavailable`. An unknown name raises it too.
    """
    current = os.environ.get(ENV)
    chosen = preferred or current or DEFAULT_PLATFORM
    if chosen not in PLATFORMS:
        raise GLUnavailable(
            f"unsupported OpenGL platform {chosen!r} (from "
            f"{'the caller' if preferred else ENV}); use one of {', '.join(PLATFORMS)}. "
            + _HOW_TO_FIX
        )
    if "OpenGL" in sys.modules and current != chosen:
        raise GLUnavailable(
            f"OpenGL was already imported with {ENV}={current!r}, so {chosen!r} can't be used; "
            "call twinstudio.render.gl.select_platform() before anything imports OpenGL/pyrender"
        )
    os.environ[ENV] = chosen
    return chosen


def open_renderer(width: int, height: int) -> pyrender.OffscreenRenderer:
    """An offscreen renderer of ``width`` x ``height`` on the selected platform.

    Contexts are expensive (hundreds of ms on llvmpipe): open one per process and change
    ``viewport_width``/``viewport_height`` to render other sizes. Raise
    :class:`GLUnavailable` if no context can be created.
    """
    platform = select_platform()
    apply_pyrender_compat()
    try:
        import pyrender

        return pyrender.OffscreenRenderer(width, height)
    except Exception as exc:  # PyOpenGL and pyrender fail with anything from ImportError up
        detail = " ".join(str(a) for a in exc.args) or type(exc).__name__
        raise GLUnavailable(
            f"could not create an offscreen OpenGL context with {ENV}={platform} "
            f"({type(exc).__name__}: {detail}). " + _HOW_TO_FIX
        ) from exc


def gl_info(renderer: pyrender.OffscreenRenderer | None = None) -> dict[str, str]:
    """Platform, vendor, renderer, version and GLSL version strings, for logs and the bench.

    Uses ``renderer``'s context, or opens (and closes) a tiny one when none is given.
    """
    own = renderer is None
    target = open_renderer(8, 8) if renderer is None else renderer
    from OpenGL import GL

    # pyrender keeps its context current only while rendering: borrow it for the queries.
    platform = target._platform
    platform.make_current()
    try:
        info = {"platform": os.environ.get(ENV, "")}
        for key, enum in (
            ("vendor", GL.GL_VENDOR),
            ("renderer", GL.GL_RENDERER),
            ("version", GL.GL_VERSION),
            ("glsl", GL.GL_SHADING_LANGUAGE_VERSION),
        ):
            raw = GL.glGetString(enum)
            info[key] = raw.decode("utf-8", "replace") if raw else ""
    finally:
        platform.make_uncurrent()
    if own:
        target.delete()
    return info
