"""The raw pyrender renderer: the benchmark's baseline and the fallback look, not the final one.

It maps each :class:`~twinstudio.render.scene.StudioLight` onto pyrender's three native
lights and lets pyrender's own metallic-roughness shader do the rest:

========================  ==============================================================
StudioLight               pyrender light
========================  ==============================================================
distant                   DirectionalLight, in lux: ``luminance`` if ``normalize`` (or a
                          zero angle), else ``luminance x`` the solid angle of its disc
                          ``2 pi (1 - cos(angle / 2))`` (the UsdLux definition)
sphere, disk, rect,       PointLight, or SpotLight when shaped (outer cone = cone angle,
cylinder                  capped at 90 deg; inner = outer x (1 - softness)), in candela:
                          ``luminance x`` the emitter's area seen face-on (sphere pi r^2,
                          disk pi r^2, rect w h, cylinder 2 r length, world scale applied),
                          divided by its whole emitting area when ``normalize`` is on (so
                          a normalised sphere gives luminance / 4)
dome                      the scene's ambient term: colour x luminance (a uniform dome's
                          diffuse response)
========================  ==============================================================

Everything is scaled by the camera's ``2**exposure``. Invisible lights are skipped.
pyrender shades at most 4 lights of each type: the brightest 4 (by candela or lux) are kept
and the rest are dropped with a warning. Shadows are on for directional and spot lights when
any such light asks for them (pyrender switches them per type, not per light; point lights
can't cast them).
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Iterable

import numpy as np

from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import select_platform
from twinstudio.render.scene import StudioLight, StudioScene

select_platform()
apply_pyrender_compat()
import pyrender  # noqa: E402  (after the platform is chosen and numpy is patched)

log = logging.getLogger(__name__)

MAX_LIGHTS_PER_TYPE = 4  # pyrender.constants.MAX_N_LIGHTS
_warned: set[str] = set()
_native_lights: weakref.WeakKeyDictionary[
    StudioScene, dict[str, tuple[StudioLight, float, pyrender.Light]]
] = weakref.WeakKeyDictionary()


def render_baseline(
    studio_scene: StudioScene,
    camera_path: str,
    width: int,
    height: int,
    renderer: pyrender.OffscreenRenderer,
    *,
    shadows: bool = True,
) -> np.ndarray:
    """Render ``camera_path``'s view as (height, width, 3) uint8 sRGB.

    Call ``studio_scene.sync()`` first if the stage changed. The camera and lights are added
    to ``studio_scene.scene`` for this render only and removed before returning.
    ``shadows=False`` skips pyrender's 2048^2 shadow maps (about half the time on llvmpipe).
    """
    camera = studio_scene.camera(camera_path)
    aspect = width / height
    scene = studio_scene.scene
    scale = 2.0**camera.exposure
    lights, ambient = baseline_lights(studio_scene.lights.values(), scale)
    lights = _reuse(studio_scene, lights, scale)
    nodes = [
        scene.add(
            pyrender.PerspectiveCamera(
                yfov=camera.yfov(aspect), znear=camera.near, zfar=camera.far, aspectRatio=aspect
            ),
            pose=camera.world,
            name=camera.path,
        )
    ]
    flags = pyrender.RenderFlags.NONE
    for studio, light in lights:
        nodes.append(scene.add(light, pose=studio.world, name=studio.path))
        if not (shadows and studio.shadow):
            continue
        if isinstance(light, pyrender.DirectionalLight):
            flags |= pyrender.RenderFlags.SHADOWS_DIRECTIONAL
        elif isinstance(light, pyrender.SpotLight):
            flags |= pyrender.RenderFlags.SHADOWS_SPOT
    previous_ambient = scene.ambient_light
    scene.ambient_light = ambient
    scene.main_camera_node = nodes[0]
    try:
        renderer.viewport_width, renderer.viewport_height = width, height
        color, _ = renderer.render(scene, flags=flags)
    finally:
        for node in nodes:
            scene.remove_node(node)
        scene.ambient_light = previous_ambient
    return np.ascontiguousarray(color[:, :, :3])


def _reuse(
    studio_scene: StudioScene, lights: list[tuple[StudioLight, pyrender.Light]], scale: float
) -> list[tuple[StudioLight, pyrender.Light]]:
    """The pyrender lights of the previous render where their StudioLight is unchanged.

    A new pyrender light gets a new 2048^2 shadow map, allocated on the next render: reusing
    the objects keeps the maps (StudioLights are replaced, never mutated, on change).
    """
    cache = _native_lights.setdefault(studio_scene, {})
    out = []
    for studio, light in lights:
        cached = cache.get(studio.path)
        if cached is not None and cached[0] is studio and cached[1] == scale:
            light = cached[2]
        cache[studio.path] = (studio, scale, light)
        out.append((studio, light))
    for path in set(cache) - {studio.path for studio, _ in lights}:
        del cache[path]
    return out


def baseline_lights(
    studio_lights: Iterable[StudioLight], scale: float = 1.0
) -> tuple[list[tuple[StudioLight, pyrender.Light]], np.ndarray]:
    """The pyrender lights (at most 4 per type) and ambient term for ``studio_lights``."""
    ambient = np.zeros(3)
    by_type: dict[type, list[tuple[float, StudioLight, pyrender.Light]]] = {}
    for studio in studio_lights:
        if not studio.visible or studio.luminance <= 0:
            continue
        color = np.asarray(studio.color, dtype=np.float64)
        if studio.kind == "dome":
            ambient += color * studio.luminance * scale
            continue
        light = _native(studio, color, scale)
        by_type.setdefault(type(light), []).append((light.intensity, studio, light))
    kept: list[tuple[StudioLight, pyrender.Light]] = []
    for candidates in by_type.values():
        candidates.sort(key=lambda c: -c[0])
        kept.extend((s, light) for _, s, light in candidates[:MAX_LIGHTS_PER_TYPE])
        for _, s, light in candidates[MAX_LIGHTS_PER_TYPE:]:
            if s.path not in _warned:
                _warned.add(s.path)
                log.warning(
                    "baseline renderer: %s dropped, pyrender shades at most %d %ss",
                    s.path,
                    MAX_LIGHTS_PER_TYPE,
                    type(light).__name__,
                )
    return kept, ambient


def _native(studio: StudioLight, color: np.ndarray, scale: float) -> pyrender.Light:
    if studio.kind == "distant":
        lux = studio.luminance
        if not studio.normalize and studio.angle_deg > 0:
            lux *= 2.0 * math.pi * (1.0 - math.cos(math.radians(studio.angle_deg) / 2.0))
        return pyrender.DirectionalLight(color=color, intensity=lux * scale)
    face_on, total = _areas(studio)
    candela = studio.luminance * face_on / (total if studio.normalize and total > 0 else 1.0)
    if studio.cone_angle_deg is None:
        return pyrender.PointLight(color=color, intensity=candela * scale)
    outer = min(math.radians(max(studio.cone_angle_deg, 0.1)), math.pi / 2)
    inner = min(outer * (1.0 - min(max(studio.cone_softness, 0.0), 1.0)), outer * 0.999)
    return pyrender.SpotLight(
        color=color, intensity=candela * scale, innerConeAngle=inner, outerConeAngle=outer
    )


def _areas(studio: StudioLight) -> tuple[float, float]:
    """(area seen face-on, whole emitting area), in world units, for an area light."""
    sx, sy, sz = (float(np.linalg.norm(studio.world[:3, i])) for i in range(3))
    r = studio.radius
    if studio.kind == "sphere":
        s2 = ((sx + sy + sz) / 3.0) ** 2
        return math.pi * r * r * s2, 4.0 * math.pi * r * r * s2
    if studio.kind == "disk":
        area = math.pi * r * r * sx * sy
        return area, area
    if studio.kind == "rect":
        area = studio.width * studio.height * sx * sy
        return area, area
    if studio.kind == "cylinder":  # UsdLux cylinders lie along local X
        radius = r * (sy + sz) / 2.0
        length = studio.length * sx
        return 2.0 * radius * length, 2.0 * math.pi * radius * length
    return 1.0, 1.0
