"""The default looks: which garments, cut how, in which fabric.

Edges are written in the twin's own landmarks (joint positions of the rest pose), so the
garments follow the body they are built for. Heights are metres above the floor, gaps
metres off the skin; layered garments keep their gaps apart (a jacket stands off the
shirt beneath it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twinstudio.assets.authoring import Surface, dielectric
from twinstudio.assets.wardrobe.regions import ARM, Figure, smoothstep
from twinstudio.assets.wardrobe.shell import Garment, combine, fitted_shell
from twinstudio.assets.wardrobe.skirt import SkirtCut, skirt


@dataclass(frozen=True)
class GarmentSpec:
    """One garment of a look: its prim name, its fabric and how to make it."""

    name: str
    fabric: Surface
    make: Callable[[Figure], Garment]


@dataclass(frozen=True)
class Look:
    """A wardrobe look: ``prim`` under /Wardrobe, ``variant`` its snake_case name."""

    prim: str
    variant: str
    garments: tuple[GarmentSpec, ...]


# -- landmarks -------------------------------------------------------------------------


def _hip(f: Figure) -> float:
    return float(f.head("thigh_l")[1])


def _waist(f: Figure) -> float:
    """The natural waist: the narrowest part of the torso, at the top of the lumbar spine."""
    return float(f.head("spine_02")[1]) + 0.03


def _knee(f: Figure) -> float:
    return float(f.head("calf_l")[1])


def _ankle(f: Figure) -> float:
    return float(f.head("foot_l")[1])


# -- garments --------------------------------------------------------------------------


def tee(f: Figure) -> Garment:
    """A fitted crew-neck tee: short sleeves, hem on the upper hip."""
    return fitted_shell(
        f,
        [
            f.above(_hip(f) + 0.02),
            f.limb_cut("upperarm", 0.42, ARM),
            f.neckline(front=0.035, back=0.008, half_width=0.085),
        ],
        gap=0.008,
        smoothing=10,
    )


def shirt(f: Figure) -> Garment:
    """A long-sleeved shirt with an open V collar, worn under a jacket."""
    return fitted_shell(
        f,
        [
            f.above(_hip(f) - 0.01),
            f.limb_cut("lowerarm", 0.9, ARM),
            f.neckline(front=0.075, back=0.0, half_width=0.075, v=True),
        ],
        gap=0.006,
        smoothing=10,
    )


def jacket(f: Figure) -> Garment:
    """A tailored jacket: long sleeves, open lapels to a button at the waist, and below
    the waist a straight skirt of cloth that hangs over the hips to hip length."""
    neck = f.head("neck_01")
    waist = _waist(f)
    body = fitted_shell(
        f,
        [
            f.above(waist - 0.04),
            f.limb_cut("lowerarm", 0.86, ARM),
            f.neckline(front=0.0, back=-0.012, half_width=0.075),
            f.front_opening(0.1, float(neck[1]), waist + 0.02),
        ],
        gap=0.018,
        smoothing=16,
        hem=0.005,
    )
    cut = SkirtCut(top=waist, hem=_hip(f) - 0.1, flare=0.06, ease=0.024, rings=14)
    return combine(body, skirt(f, cut))


def tank_top(f: Figure) -> Garment:
    """A sleeveless scoop-neck top, to the waistband."""
    return fitted_shell(
        f,
        [
            f.above(_waist(f) - 0.1),
            f.sleeveless(0.25),
            f.neckline(front=0.08, back=0.03, half_width=0.085),
        ],
        gap=0.008,
        smoothing=10,
    )


def trousers(f: Figure) -> Garment:
    """Straight trousers from a mid-rise waist to the ankle, fuller below the knee."""
    y = f.points[:, 1]
    shin = smoothstep((_knee(f) + 0.1 - y) / 0.35)
    return fitted_shell(
        f,
        [f.below(_waist(f) - 0.06), f.without(*ARM), f.above(_ankle(f) + 0.015)],
        gap=0.006 + 0.03 * shin,
        smoothing=10,
    )


def summer_skirt(f: Figure) -> Garment:
    """An A-line skirt from the waist to just above the knee."""
    return skirt(f, SkirtCut(top=_waist(f) - 0.05, hem=_knee(f) + 0.08, flare=0.3, ease=0.009))


def evening_dress(f: Figure) -> Garment:
    """A sleeveless V-neck dress: fitted bodice, midi skirt flaring from the waist."""
    waist = _waist(f)
    bodice = fitted_shell(
        f,
        [
            f.above(waist - 0.035),
            f.sleeveless(0.25),
            f.neckline(front=0.12, back=0.05, half_width=0.07, v=True),
        ],
        gap=0.008,
        smoothing=10,
    )
    flare = skirt(f, SkirtCut(top=waist, hem=_ankle(f) + 0.2, flare=0.2, ease=0.01, rings=32))
    return combine(bodice, flare)


def shoes(f: Figure) -> Garment:
    """Closed flats: the foot below the ankle bone, roomier towards the ankle."""
    top = smoothstep((f.points[:, 1] - 0.03) / 0.035)
    return fitted_shell(
        f, [f.below(_ankle(f) - 0.005)], gap=0.004 + 0.005 * top, smoothing=4, hem=0.003
    )


# -- fabrics (linear RGB) --------------------------------------------------------------

COTTON_WHITE = dielectric((0.80, 0.78, 0.74), 0.85)
POPLIN_WHITE = dielectric((0.85, 0.85, 0.84), 0.7)
DENIM_NAVY = dielectric((0.045, 0.06, 0.11), 0.8)
WOOL_CHARCOAL = dielectric((0.05, 0.05, 0.055), 0.85)
WOOL_CAMEL = dielectric((0.42, 0.27, 0.14), 0.85)
SATIN_WINE = dielectric((0.22, 0.015, 0.035), 0.6, clearcoat=0.15, clearcoat_roughness=0.4)
LINEN_SKY = dielectric((0.42, 0.55, 0.68), 0.9)
COTTON_OCHRE = dielectric((0.55, 0.36, 0.08), 0.85)
LEATHER_BLACK = dielectric((0.02, 0.02, 0.02), 0.45, clearcoat=0.3)
LEATHER_TAN = dielectric((0.3, 0.16, 0.08), 0.5, clearcoat=0.2)
CANVAS_WHITE = dielectric((0.75, 0.75, 0.73), 0.8)


LOOKS: tuple[Look, ...] = (
    Look(
        "StudioBasics",
        "studio_basics",
        (
            GarmentSpec("Trousers", DENIM_NAVY, trousers),
            GarmentSpec("Tee", COTTON_WHITE, tee),
            GarmentSpec("Shoes", CANVAS_WHITE, shoes),
        ),
    ),
    Look(
        "Evening",
        "evening",
        (
            GarmentSpec("Dress", SATIN_WINE, evening_dress),
            GarmentSpec("Shoes", LEATHER_BLACK, shoes),
        ),
    ),
    Look(
        "Tailored",
        "tailored",
        (
            GarmentSpec("Trousers", WOOL_CHARCOAL, trousers),
            GarmentSpec("Shirt", POPLIN_WHITE, shirt),
            GarmentSpec("Jacket", WOOL_CAMEL, jacket),
            GarmentSpec("Shoes", LEATHER_BLACK, shoes),
        ),
    ),
    Look(
        "Summer",
        "summer",
        (
            GarmentSpec("Top", LINEN_SKY, tank_top),
            GarmentSpec("Skirt", COTTON_OCHRE, summer_skirt),
            GarmentSpec("Shoes", LEATHER_TAN, shoes),
        ),
    ),
)
