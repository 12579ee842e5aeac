"""The stage's UsdLux lights and UsdGeom cameras as plain records, in metres.

No pyrender: :class:`StudioLight` and :class:`StudioCamera` are what every renderer of the
studio starts from (``twinstudio.render.lighting`` maps them onto its own light model),
built by :func:`studio_light` and :func:`studio_camera` from a prim and its local-to-world
matrix. Both convert scene units to metres with the stage's ``metersPerUnit``:

- positions (the matrix's translation), light sizes (``width``, ``height``, ``radius``,
  ``length``), a camera's ``clippingRange`` and ``focusDistance`` are scene units: they are
  multiplied by ``metersPerUnit``;
- a prim's own rotation and scale stay in the matrix (scale is a ratio, not a length);
- ``focalLength`` and the apertures are read as millimetres whatever the stage's unit. The
  UsdGeomCamera schema measures them in tenths of a scene unit, which is millimetres on a
  centimetre stage; the studio's metre stages author photographic millimetres too (a
  "50 mm" lens is ``focalLength = 50``), as most DCCs write them. Only depth of field reads
  their absolute size; the field of view is their ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pxr import Gf, Usd, UsdGeom, UsdLux

TIME = Usd.TimeCode.Default()

LIGHT_KINDS: tuple[tuple[Any, str], ...] = tuple(
    (getattr(UsdLux, name), kind)
    for name, kind in (
        ("DistantLight", "distant"),
        ("SphereLight", "sphere"),
        ("RectLight", "rect"),
        ("DiskLight", "disk"),
        ("CylinderLight", "cylinder"),
        ("DomeLight", "dome"),
        ("DomeLight_1", "dome"),
    )
    if hasattr(UsdLux, name)
)


@dataclass(frozen=True)
class StudioLight:
    """A UsdLux light, in the units and conventions every renderer of the studio starts from.

    ``world`` is the 4x4 local-to-world matrix (float64, column vectors, as pyrender uses)
    with its translation in metres; the light emits along its local -Z. ``color`` is linear
    Rec.709/sRGB: ``inputs:color`` times, when ``inputs:enableColorTemperature`` is on,
    ``UsdLux.BlackbodyTemperatureAsRgb`` of ``inputs:colorTemperature`` (Pixar's table of
    CIE 1931 Planckian-locus colours in linear Rec.709, Catmull-Rom interpolated and
    normalised to unit luminance, so 6500 K is about (1.04, 0.98, 1.03) and 3200 K about
    (1.68, 0.87, 0.33)). ``luminance`` is ``inputs:intensity * 2**inputs:exposure`` in nits,
    before ``normalize`` divides by area. Shape parameters are the authored (local) values in
    metres (times the stage's metersPerUnit), 0 where a kind has none: the world matrix
    carries any scale. ``angle_deg`` is a DistantLight's angular diameter.
    ``cone_angle_deg`` is None unless the light has ShapingAPI.
    """

    path: str
    kind: str  # "distant" | "sphere" | "rect" | "disk" | "cylinder" | "dome"
    world: np.ndarray
    color: tuple[float, float, float]
    luminance: float
    normalize: bool
    width: float
    height: float
    radius: float
    length: float
    angle_deg: float
    cone_angle_deg: float | None
    cone_softness: float
    focus: float
    shadow: bool
    visible: bool

    @property
    def position(self) -> np.ndarray:
        return np.asarray(self.world[:3, 3])

    @property
    def direction(self) -> np.ndarray:
        """Unit world-space direction the light emits along (its local -Z)."""
        d = -np.asarray(self.world[:3, 2], dtype=np.float64)
        return d / max(float(np.linalg.norm(d)), 1e-12)


@dataclass(frozen=True)
class StudioCamera:
    """A UsdGeom.Camera: lens and filmback in millimetres, distances in metres.

    ``world`` looks down its local -Z with +Y up (USD's and pyrender's convention), its
    translation in metres. ``near``, ``far`` and ``focus_distance`` are metres.
    ``exposure`` is the camera's total exposure in EV: ``log2`` of
    ``UsdGeomCamera.ComputeLinearExposureScale`` (``exposure`` plus the ``exposure:*``
    time/ISO/f-stop/responsivity terms), 0 for a camera that authors none of them.
    """

    path: str
    world: np.ndarray
    focal_length_mm: float
    h_aperture_mm: float
    v_aperture_mm: float
    near: float
    far: float
    f_stop: float
    focus_distance: float
    exposure: float

    def yfov(self, aspect: float) -> float:
        """Vertical field of view (radians) for an image of ``aspect`` = width / height.

        Fit like USD's default (horizontal aperture fit): the horizontal field of view is
        always ``2 atan(h_aperture / 2 focal)``; the vertical one follows the image's aspect,
        so ``v_aperture`` only states the film's own aspect (a 16:9 render of a 36x24 mm back
        crops its top and bottom). Aperture offsets are not applied.
        """
        if aspect <= 0:
            raise ValueError(f"image aspect must be > 0, got {aspect}")
        return 2.0 * math.atan(self.h_aperture_mm / aspect / (2.0 * self.focal_length_mm))


def light_kind(prim: Usd.Prim) -> str | None:
    """The :attr:`StudioLight.kind` of a UsdLux light prim, None for any other prim."""
    for schema, kind in LIGHT_KINDS:
        if prim.IsA(schema):
            return kind
    return None


def in_metres(world: np.ndarray, meters_per_unit: float) -> np.ndarray:
    """A copy of the column-vector matrix ``world`` with its translation in metres."""
    out = np.array(world, dtype=np.float64)
    out[:3, 3] *= meters_per_unit
    return out


def studio_light(
    prim: Usd.Prim, kind: str, world: np.ndarray, meters_per_unit: float = 1.0
) -> StudioLight:
    """The light ``prim`` (of :func:`light_kind` ``kind``) whose local-to-world matrix, in
    scene units, is ``world`` (column vectors)."""
    light = UsdLux.LightAPI(prim)

    def get(attr: Usd.Attribute, default: Any) -> Any:
        v = attr.Get(TIME) if attr else None
        return default if v is None else v

    def authored(name: str) -> float:
        return float(get(prim.GetAttribute(f"inputs:{name}"), 0.0))

    def size(name: str) -> float:  # a length: scene units to metres
        return authored(name) * meters_per_unit

    color = np.array(get(light.GetColorAttr(), (1.0, 1.0, 1.0)), dtype=np.float64)
    if get(light.GetEnableColorTemperatureAttr(), False):
        temperature = float(get(light.GetColorTemperatureAttr(), 6500.0))
        color = color * np.array(UsdLux.BlackbodyTemperatureAsRgb(temperature))
    intensity = float(get(light.GetIntensityAttr(), 1.0))
    exposure = float(get(light.GetExposureAttr(), 0.0))
    cone = prim.GetAttribute("inputs:shaping:cone:angle")
    shaped = prim.HasAPI(UsdLux.ShapingAPI) or (cone and cone.HasAuthoredValue())
    imageable = UsdGeom.Imageable(prim)
    return StudioLight(
        path=str(prim.GetPath()),
        kind=kind,
        world=in_metres(world, meters_per_unit),
        color=(float(color[0]), float(color[1]), float(color[2])),
        luminance=intensity * 2.0**exposure,
        normalize=bool(get(light.GetNormalizeAttr(), False)),
        width=size("width") if kind == "rect" else 0.0,
        height=size("height") if kind == "rect" else 0.0,
        radius=size("radius") if kind in ("sphere", "disk", "cylinder") else 0.0,
        length=size("length") if kind == "cylinder" else 0.0,
        angle_deg=authored("angle") if kind == "distant" else 0.0,
        cone_angle_deg=float(get(cone, 90.0)) if shaped else None,
        cone_softness=float(get(prim.GetAttribute("inputs:shaping:cone:softness"), 0.0)),
        focus=float(get(prim.GetAttribute("inputs:shaping:focus"), 0.0)),
        shadow=bool(get(prim.GetAttribute("inputs:shadow:enable"), True)),
        visible=(not imageable or imageable.ComputeVisibility(TIME) != UsdGeom.Tokens.invisible),
    )


def studio_camera(
    camera: UsdGeom.Camera, world: np.ndarray, meters_per_unit: float = 1.0
) -> StudioCamera:
    """The camera ``camera`` whose local-to-world matrix, in scene units, is ``world``."""

    def get(attr: Usd.Attribute, default: float) -> float:
        v = attr.Get(TIME)
        return default if v is None else float(v)

    clipping = camera.GetClippingRangeAttr().Get(TIME) or Gf.Vec2f(1.0, 1e6)
    scale = float(camera.ComputeLinearExposureScale(TIME))
    return StudioCamera(
        path=str(camera.GetPath()),
        world=in_metres(world, meters_per_unit),
        focal_length_mm=get(camera.GetFocalLengthAttr(), 50.0),
        h_aperture_mm=get(camera.GetHorizontalApertureAttr(), 20.955),
        v_aperture_mm=get(camera.GetVerticalApertureAttr(), 15.2908),
        near=float(clipping[0]) * meters_per_unit,
        far=float(clipping[1]) * meters_per_unit,
        f_stop=get(camera.GetFStopAttr(), 0.0),
        focus_distance=get(camera.GetFocusDistanceAttr(), 0.0) * meters_per_unit,
        exposure=math.log2(scale) if scale > 0 else 0.0,
    )
