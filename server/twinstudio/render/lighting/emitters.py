"""UsdLux light records as the shader's emitters: world geometry plus radiance in nits.

An :class:`Emitter` is what one light pass needs: the emitting shape in world metres, its
radiance ``L_e * color`` (nits; lux for a distant light, whose size is an angle) and the
ShapingAPI cone. Domes have no shape: :func:`studio_emitters` sums them into one uniform
environment radiance. Invisible, black and zero-size unnormalized lights emit nothing and
are dropped here, and kinds the renderer does not know are skipped with a warning.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from twinstudio.render.lighting import units
from twinstudio.render.lighting.inputs import StudioLightFields

log = logging.getLogger(__name__)

Vec3 = npt.NDArray[np.float64]

# A zero-size normalized light keeps its (finite) intensity on this tiny shape.
POINT_SIZE_M = 1e-4
NO_CONE = 4.0  # radians, beyond any off-axis angle


@dataclass(frozen=True)
class Emitter:
    """One light, ready for a light pass."""

    path: str
    kind: str  # "distant" | "sphere" | "rect" | "disk" | "cylinder"
    position: Vec3
    x_axis: Vec3  # unit world directions of the light's local X and Y
    y_axis: Vec3
    axis: Vec3  # unit emission direction, the light's local -Z
    shape: units.ShapeSize
    radiance: Vec3  # nits (L_e * color); lux for "distant"
    tan_half_angle: float  # distant: tan(theta_max); else 0
    cone_cutoff: float  # radians off the axis where emission ends
    cone_start: float  # radians where the smooth falloff starts
    focus: float
    casts_shadow: bool

    @property
    def is_local(self) -> bool:
        return self.kind != "distant"


@dataclass(frozen=True)
class Lighting:
    """All the light a render gets: shaped emitters and a uniform dome."""

    emitters: tuple[Emitter, ...]
    dome_radiance: Vec3  # nits, summed over visible dome lights


def _unit(v: npt.ArrayLike) -> Vec3:
    a = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(a))
    return a / n if n > 0.0 else a


def _color(light: StudioLightFields) -> Vec3:
    return np.maximum(np.asarray(light.color, dtype=np.float64), 0.0)


def emitter_from_light(light: StudioLightFields) -> Emitter | None:
    """The emitter for a non-dome ``light``, or None if it gives no light."""
    if light.kind not in units.KINDS or light.kind == "dome":
        raise ValueError(
            f"{light.path}: light kind {light.kind!r} is not an emitter; "
            f"use one of distant, {', '.join(units.LOCAL_KINDS)} (domes go to studio_emitters)"
        )
    color = _color(light)
    if not light.visible or light.luminance <= 0.0 or not np.any(color > 0.0):
        return None
    world = np.asarray(light.world, dtype=np.float64)
    shape = units.world_shape(
        light.kind,
        world,
        width=light.width,
        height=light.height,
        radius=light.radius,
        length=light.length,
    )
    tan_half = 0.0
    if light.kind == "distant":
        scalar = units.distant_illuminance(light.luminance, light.angle_deg, light.normalize)
        tan_half = math.tan(min(units.distant_half_angle(light.angle_deg), math.radians(80.0)))
    else:
        area = units.surface_area(light.kind, shape)
        if area <= 0.0:
            if not light.normalize:
                return None
            # keep the limit intensity (e.g. luminance / 4 for a point sphere) on a tiny shape
            shape = units.ShapeSize(
                width=max(shape.width, POINT_SIZE_M),
                height=max(shape.height, POINT_SIZE_M),
                radius=max(shape.radius, POINT_SIZE_M),
                length=max(shape.length, POINT_SIZE_M),
            )
            area = units.surface_area(light.kind, shape)
        scalar = light.luminance / area if light.normalize else light.luminance
    cutoff = NO_CONE
    start = NO_CONE
    if light.cone_angle_deg is not None:
        cutoff = math.radians(min(max(light.cone_angle_deg, 0.0), 180.0))
        start = cutoff * (1.0 - min(max(light.cone_softness, 0.0), 1.0))
    # an orthonormal frame even if the transform shears: -Z first, then X, then Y = Z x X
    axis = _unit(-world[:3, 2])
    x_axis = _unit(world[:3, 0] - axis * float(np.dot(world[:3, 0], axis)))
    if not np.any(x_axis):
        x_axis = _unit(np.cross(axis, [0.0, 1.0, 0.0] if abs(axis[1]) < 0.9 else [1.0, 0.0, 0.0]))
    return Emitter(
        path=light.path,
        kind=light.kind,
        position=world[:3, 3].copy(),
        x_axis=x_axis,
        y_axis=np.cross(-axis, x_axis),
        axis=axis,
        shape=shape,
        radiance=scalar * color,
        tan_half_angle=tan_half,
        cone_cutoff=cutoff,
        cone_start=start,
        focus=max(float(light.focus), 0.0),
        casts_shadow=bool(light.shadow),
    )


def studio_emitters(lights: Iterable[StudioLightFields]) -> Lighting:
    """Split ``lights`` into emitters (in the given order) and the summed dome radiance."""
    emitters: list[Emitter] = []
    dome = np.zeros(3)
    for light in lights:
        if light.kind not in units.KINDS:
            log.warning("%s: %r lights are not rendered; skipping it", light.path, light.kind)
            continue
        if light.kind == "dome":
            if light.visible and light.luminance > 0.0:
                dome += light.luminance * _color(light)  # normalize is ignored for domes
            continue
        emitter = emitter_from_light(light)
        if emitter is not None:
            emitters.append(emitter)
    return Lighting(emitters=tuple(emitters), dome_radiance=dome)
