"""What a room may change, and the ranges values must keep.

Rules, in the order they are checked:

1. A prim whose ``customData["twinstudio:identity"]`` is ``"locked"`` (the twin)
   is read-only, with its whole subtree, except for:
   - its own placement (``xform`` on the locked prim itself) and variant selections
     (the ``wardrobe``);
   - its pose: ``pose`` ops, or ``rotations`` of the SkelAnimation bound as a skeleton's
     ``skel:animationSource``; the pose presets of its library are read-only;
   - garment look overrides: material inputs and ``primvars:displayColor`` on prims
     under its ``Wardrobe`` child.
2. ``xformOpOrder`` is set through ``xform`` ops only, so the stack stays standard.
3. Values keep the physical ranges in ``RANGES`` (intensity >= 0, fStop > 0, ...).
4. Only the prim types in ``CREATABLE_TYPES`` may be created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pxr import Gf, Sdf, Usd, UsdSkel

from twinstudio.stage import posing
from twinstudio.stage.ops import OpRejected

IDENTITY_KEY = "twinstudio:identity"
WARDROBE_CHILD = "Wardrobe"
EDITABLE_VARIANT_SETS = ("wardrobe",)
CREATABLE_TYPES = (
    "Xform",
    "Scope",
    "Camera",
    "RectLight",
    "SphereLight",
    "DiskLight",
    "DistantLight",
    "CylinderLight",
    "DomeLight",
)
MAX_TRANSLATE = 10_000.0  # metres
MAX_CREATED_NAME = 128


def identity_root(prim: Usd.Prim) -> Usd.Prim | None:
    """The nearest ancestor-or-self whose identity is locked, if any."""
    p = prim
    while p and not p.IsPseudoRoot():
        if p.GetCustomData().get(IDENTITY_KEY) == "locked":  # (ByKey treats ":" as a key path)
            return p
        p = p.GetParent()
    return None


def _locked(root: Usd.Prim, what: str) -> OpRejected:
    return OpRejected(
        "identity_locked",
        f"{root.GetPath()} is the twin's locked identity: {what}. "
        "Only its pose, wardrobe and placement can change.",
    )


def check_property_edit(prim: Usd.Prim, attr: str) -> None:
    if attr == "xformOpOrder":
        raise OpRejected("op_not_allowed", "set transforms with an 'xform' op, not xformOpOrder")
    root = identity_root(prim)
    if root is None:
        return
    if attr == "rotations" and prim.IsA(UsdSkel.Animation):
        if posing.is_bound(prim):
            return
        raise _locked(
            root,
            f"{prim.GetPath()} is not the animation that poses the twin (a pose preset is "
            "library data); pose the twin itself, e.g. with a 'pose' op and a 'preset'",
        )
    wardrobe = root.GetPath().AppendChild(WARDROBE_CHILD)
    if prim.GetPath().HasPrefix(wardrobe) and (
        attr.startswith("inputs:") or attr == "primvars:displayColor"
    ):
        return
    raise _locked(root, f"{attr} of {prim.GetPath()} can't be edited")


def check_transform_edit(prim: Usd.Prim) -> None:
    root = identity_root(prim)
    if root is not None and root != prim:
        raise _locked(root, f"{prim.GetPath()} can't be moved on its own")


def check_structure_edit(prim: Usd.Prim, verb: str) -> None:
    """Create (under ``prim``), delete, rename, reparent."""
    root = identity_root(prim)
    if root is not None and not (verb == "delete" and root == prim):
        raise _locked(root, f"prims inside it can't be {verb}d")


def check_variant_edit(prim: Usd.Prim, variant_set: str) -> None:
    root = identity_root(prim)
    if root is not None and (root != prim or variant_set not in EDITABLE_VARIANT_SETS):
        raise _locked(root, f"variant set {variant_set!r} of {prim.GetPath()} can't change")


def check_name(name: str) -> None:
    if not Sdf.Path.IsValidIdentifier(name) or len(name) > MAX_CREATED_NAME:
        raise OpRejected(
            "bad_name",
            f"{name!r} is not a valid prim name: use letters, digits and '_', "
            "not starting with a digit",
        )


# -- value ranges ------------------------------------------------------------------------


def _components(value: Any) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, Gf.Vec2f | Gf.Vec3f | Gf.Vec4f | Gf.Vec2d | Gf.Vec3d | Gf.Vec4d):
        return [float(v) for v in value]
    return []


def _at_least(lo: float, *, strict: bool = False) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        for v in _components(value):
            if v < lo or (strict and v == lo):
                return f"must be {'>' if strict else '>='} {lo:g}"
        return None

    return check


def _between(lo: float, hi: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        for v in _components(value):
            if not lo <= v <= hi:
                return f"must be between {lo:g} and {hi:g}"
        return None

    return check


def _clipping(value: Any) -> str | None:
    near, far = float(value[0]), float(value[1])
    if not 0 < near < far:
        return "must be (near, far) with 0 < near < far"
    return None


def _scale(value: Any) -> str | None:
    if any(abs(v) < 1e-6 or abs(v) > 1e4 for v in _components(value)):
        return "components must be non-zero and at most 10000"
    return None


RANGES: dict[str, Callable[[Any], str | None]] = {
    "inputs:intensity": _at_least(0.0),
    "inputs:exposure": _between(-50.0, 50.0),
    "inputs:colorTemperature": _between(1000.0, 40000.0),
    "inputs:color": _between(0.0, 1000.0),
    "inputs:width": _at_least(0.0, strict=True),
    "inputs:height": _at_least(0.0, strict=True),
    "inputs:radius": _at_least(0.0, strict=True),
    "inputs:length": _at_least(0.0, strict=True),
    "inputs:angle": _between(0.0, 360.0),
    "inputs:diffuse": _at_least(0.0),
    "inputs:specular": _at_least(0.0),
    "inputs:shaping:cone:angle": _between(0.0, 180.0),
    "inputs:shaping:cone:softness": _between(0.0, 1.0),
    "inputs:shaping:focus": _at_least(0.0),
    "inputs:roughness": _between(0.0, 1.0),
    "inputs:metallic": _between(0.0, 1.0),
    "inputs:opacity": _between(0.0, 1.0),
    "inputs:diffuseColor": _at_least(0.0),
    "inputs:emissiveColor": _at_least(0.0),
    "primvars:displayColor": _at_least(0.0),
    "focalLength": _at_least(0.0, strict=True),
    "fStop": _at_least(0.0, strict=True),
    "focusDistance": _at_least(0.0),
    "horizontalAperture": _at_least(0.0, strict=True),
    "verticalAperture": _at_least(0.0, strict=True),
    "clippingRange": _clipping,
    "exposure": _between(-50.0, 50.0),
    "xformOp:translate": _between(-MAX_TRANSLATE, MAX_TRANSLATE),
    "xformOp:scale": _scale,
}


def check_range(path: str, attr: str, value: Any) -> None:
    """Raise OpRejected(out_of_range) when ``value`` is outside the physical range of ``attr``."""
    rule = RANGES.get(attr)
    if rule is None:
        return
    problem = rule(value)
    if problem:
        raise OpRejected("out_of_range", f"{attr} of {path} {problem}")
