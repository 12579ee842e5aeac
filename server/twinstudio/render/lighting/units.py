"""UsdLux photometry in the lighting renderer's units: nits in, nits out.

The renderer's working quantity is the one UsdLux defines: a light of ``intensity`` 1,
``exposure`` 0 and ``color`` white, seen directly by a camera at EV 0, gives pixel value 1.
So one unit of :attr:`RenderResult.linear` is one nit (cd/m²) of scene radiance times the
camera's ``2**exposure``, and distances are metres (``twinstudio.render.scene`` applies
``metersPerUnit``).

pyrender uses the same scale: its point and spot ``intensity`` is candela (its shader adds
``intensity / d**2 * BRDF * cos``, i.e. illuminance in lux times the BRDF = radiance in
nits) and directional ``intensity`` is lux. The functions below turn a UsdLux light into
those quantities; ``docs/lighting.md`` derives each one.

- emitted luminance ``L_e = luminance / sizeFactor`` with the UsdLux ``normalize`` rules
  (:func:`size_factor`): the world-space surface area of area lights, ``pi sin^2(theta)``
  for distant lights, 1 for domes or with ``normalize`` off;
- a local light's intensity toward a direction is ``L_e`` times its projected area that way
  (:func:`intensity_toward`, candela): a sphere light of radius ``r`` is a pyrender
  ``PointLight`` of ``L_e * pi * r**2`` candela, seen from outside;
- a distant light's illuminance on a surface facing it is ``L_e`` times the projected solid
  angle of its disc (:func:`distant_illuminance`, lux); with ``normalize`` it is
  ``luminance`` itself, as the schema promises;
- :func:`shaping_factor` is the ShapingAPI cone and focus, exactly as the schema writes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

LOCAL_KINDS: Final = ("sphere", "rect", "disk", "cylinder")
KINDS: Final = ("distant", "dome", *LOCAL_KINDS)


@dataclass(frozen=True)
class ShapeSize:
    """A light's emitting shape in world units (metres), transform scale included."""

    width: float = 0.0  # rect, local X
    height: float = 0.0  # rect, local Y
    radius: float = 0.0  # sphere, disk, cylinder
    length: float = 0.0  # cylinder, local X


def world_shape(
    kind: str,
    world: npt.ArrayLike,
    *,
    width: float = 0.0,
    height: float = 0.0,
    radius: float = 0.0,
    length: float = 0.0,
) -> ShapeSize:
    """Scale the schema's dimensions by the light's world transform, per local axis.

    A non-uniform scale turns a disk into an ellipse and a sphere into an ellipsoid; those are
    replaced by the circle/sphere of the same area (geometric mean of the scales).
    """
    m = np.asarray(world, dtype=np.float64)
    sx, sy, sz = (float(np.linalg.norm(m[:3, i])) for i in range(3))
    if kind == "rect":
        return ShapeSize(width=width * sx, height=height * sy)
    if kind == "disk":
        return ShapeSize(radius=radius * math.sqrt(sx * sy))
    if kind == "sphere":
        return ShapeSize(radius=radius * (sx * sy * sz) ** (1.0 / 3.0))
    if kind == "cylinder":
        return ShapeSize(radius=radius * math.sqrt(sy * sz), length=length * sx)
    return ShapeSize()


def surface_area(kind: str, shape: ShapeSize) -> float:
    """World-space emitting surface area (m²): the UsdLux ``sizeFactor`` of an area light.

    rect ``w*h``, disk ``pi r^2``, sphere ``4 pi r^2``, cylinder ``2 pi r l`` (no end caps).
    """
    if kind == "rect":
        return shape.width * shape.height
    if kind == "disk":
        return math.pi * shape.radius**2
    if kind == "sphere":
        return 4.0 * math.pi * shape.radius**2
    if kind == "cylinder":
        return 2.0 * math.pi * shape.radius * shape.length
    raise ValueError(f"{kind!r} has no surface area; use one of {', '.join(LOCAL_KINDS)}")


def distant_half_angle(angle_deg: float) -> float:
    """``theta_max`` of the schema: half the angular diameter, in radians, clamped to [0, pi]."""
    return min(max(math.radians(angle_deg) / 2.0, 0.0), math.pi)


def distant_size_factor(angle_deg: float) -> float:
    """The schema's ``sizeFactor`` of a DistantLight: ``pi sin^2`` up to a hemisphere."""
    theta = distant_half_angle(angle_deg)
    if theta == 0.0:
        return 1.0
    s2 = math.sin(theta) ** 2
    return math.pi * s2 if theta <= math.pi / 2 else (2.0 - s2) * math.pi


def size_factor(kind: str, normalize: bool, shape: ShapeSize, angle_deg: float = 0.0) -> float:
    """What ``normalize`` divides the luminance by: 1 when off and for domes."""
    if not normalize or kind == "dome":
        return 1.0
    if kind == "distant":
        return distant_size_factor(angle_deg)
    return surface_area(kind, shape)


def emitted_luminance(
    luminance: float, kind: str, normalize: bool, shape: ShapeSize, angle_deg: float = 0.0
) -> float:
    """The emitter's radiance ``L_e`` in nits (``inf`` for a normalized zero-area light)."""
    factor = size_factor(kind, normalize, shape, angle_deg)
    if factor <= 0.0:
        return math.inf if luminance > 0.0 else 0.0
    return luminance / factor


def projected_area(kind: str, shape: ShapeSize, local_dir: npt.ArrayLike) -> float:
    """Area (m²) of the emitter as seen along unit ``local_dir`` (light-local, away from it).

    Rect and disk emit from their -Z face only; sphere and cylinder all around.
    """
    d = np.asarray(local_dir, dtype=np.float64)
    d = d / np.linalg.norm(d)
    front = max(-float(d[2]), 0.0)  # cosine to the emission axis, local -Z
    if kind == "rect":
        return shape.width * shape.height * front
    if kind == "disk":
        return math.pi * shape.radius**2 * front
    if kind == "sphere":
        return math.pi * shape.radius**2
    if kind == "cylinder":
        sin_axis = math.sqrt(max(0.0, 1.0 - float(d[0]) ** 2))  # axis is local X
        return 2.0 * shape.radius * shape.length * sin_axis
    raise ValueError(f"{kind!r} is not a local light; use one of {', '.join(LOCAL_KINDS)}")


def intensity_toward(
    luminance: float,
    kind: str,
    normalize: bool,
    shape: ShapeSize,
    local_dir: npt.ArrayLike,
) -> float:
    """Luminous intensity in candela toward ``local_dir``: ``L_e`` times the projected area.

    This is what a pyrender ``PointLight``'s ``intensity`` must be to light a far surface the
    same way. Normalized lights use the area ratio, so a zero-radius normalized sphere has the
    finite limit ``luminance / 4``.
    """
    area = projected_area(kind, shape, local_dir)
    if not normalize:
        return luminance * area
    total = surface_area(kind, shape)
    if total > 0.0:
        return luminance * area / total
    if kind == "sphere":
        return luminance / 4.0  # pi r^2 / (4 pi r^2) for any r
    return 0.0


def distant_illuminance(luminance: float, angle_deg: float, normalize: bool) -> float:
    """Illuminance in lux on a surface facing a DistantLight.

    ``L_e`` times the projected solid angle of the sun disc, ``pi sin^2(theta_max)`` (``pi``,
    the whole hemisphere, past 90 degrees). With ``normalize`` that is exactly ``luminance``
    up to a hemisphere. An angle of 0 is a delta light with no solid angle: its luminance is
    read as lux, on or off.
    """
    theta = distant_half_angle(angle_deg)
    if theta == 0.0:
        return luminance
    le = emitted_luminance(luminance, "distant", normalize, ShapeSize(), angle_deg)
    solid = math.pi * math.sin(theta) ** 2 if theta <= math.pi / 2 else math.pi
    return le * solid


def shaping_factor(
    cos_off_axis: float,
    cone_angle_deg: float | None,
    cone_softness: float = 0.0,
    focus: float = 0.0,
) -> float:
    """ShapingAPI attenuation of emission at ``acos(cos_off_axis)`` off the light's axis.

    ``(1 - smoothstep(theta_smoothStart, theta_cutoff, theta_offAxis)) * |cos|^focus`` with
    ``theta_smoothStart = theta_cutoff * (1 - softness)``; no cone (``None``) means no cutoff.
    """
    c = min(max(cos_off_axis, -1.0), 1.0)
    factor = abs(c) ** focus if focus > 0.0 else 1.0
    if cone_angle_deg is None:
        return factor
    theta = math.acos(c)
    cutoff = math.radians(cone_angle_deg)
    start = cutoff * (1.0 - min(max(cone_softness, 0.0), 1.0))
    if theta >= cutoff:
        return 0.0
    if theta <= start:
        return factor
    t = (theta - start) / (cutoff - start)
    return factor * (1.0 - t * t * (3.0 - 2.0 * t))


def exposure_scale(exposure_ev: float) -> float:
    """The camera's linear gain: ``2**exposure`` (USD ``exposure``, 0 = identity)."""
    return float(2.0**exposure_ev)
