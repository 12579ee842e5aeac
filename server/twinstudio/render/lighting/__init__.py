"""Photographic lighting for the render node: UsdLux lights, exposure, filmic sRGB, DoF.

``StudioRenderer`` renders the pyrender scene that ``twinstudio.render.scene`` builds from
the stage, under that module's ``StudioLight`` records, through a ``StudioCamera``::

    renderer = StudioRenderer(offscreen)
    result = renderer.render(scene, lights, camera, RenderSettings(1280, 720))
    result.rgb      # uint8 sRGB, filmic tone mapped
    result.linear   # float32 nits x 2**camera exposure

:mod:`.units` (UsdLux photometry) and :mod:`.tonemap` need no GL; importing this package
does not import OpenGL until ``StudioRenderer``, ``RenderSettings`` or ``RenderResult`` is
first used, so ``twinstudio.render.gl.select_platform`` can still choose the platform.
See ``docs/lighting.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twinstudio.render.lighting.renderer import RenderResult, RenderSettings, StudioRenderer

__all__ = ["RenderResult", "RenderSettings", "StudioRenderer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from twinstudio.render.lighting import renderer

        return getattr(renderer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
