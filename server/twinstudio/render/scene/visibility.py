"""Which prims the studio draws: visibility, activation and purpose.

No pyrender. Drawn are active, visible prims of ``default`` or ``render`` purpose, and
``proxy`` prims of models that have no ``render`` geometry; ``guide`` prims never are.
"""

from __future__ import annotations

from pxr import Usd, UsdGeom

TIME = Usd.TimeCode.Default()
PREDICATE = Usd.TraverseInstanceProxies(Usd.PrimDefaultPredicate)


def invisible(prim: Usd.Prim) -> bool:
    """True if ``prim``'s own visibility is ``invisible`` (not counting its ancestors')."""
    imageable = UsdGeom.Imageable(prim)
    return bool(imageable) and imageable.GetVisibilityAttr().Get(TIME) == UsdGeom.Tokens.invisible


def ancestors_shown(prim: Usd.Prim) -> bool:
    """True unless an ancestor of ``prim`` is inactive or invisible."""
    p = prim.GetParent()
    while p and not p.IsPseudoRoot():
        if not p.IsActive() or invisible(p):
            return False
        p = p.GetParent()
    return True


def shown_purpose(prim: Usd.Prim, render_models: dict[str, bool]) -> bool:
    """Default and render purpose; proxy only where its model has no render geometry.

    ``render_models`` caches, per model path, whether the model has render geometry:
    pass the same dict for one walk of the stage and a new one after it changes.
    """
    purpose = UsdGeom.Imageable(prim).ComputePurpose()
    if purpose in (UsdGeom.Tokens.default_, UsdGeom.Tokens.render):
        return True
    if purpose != UsdGeom.Tokens.proxy:
        return False  # guide
    model = prim
    while model.GetParent() and not model.IsModel():
        model = model.GetParent()
    key = str(model.GetPath())
    if key not in render_models:
        render_models[key] = any(
            UsdGeom.Imageable(p).ComputePurpose() == UsdGeom.Tokens.render
            for p in Usd.PrimRange(model, PREDICATE)
            if p.IsA(UsdGeom.Gprim)
        )
    return not render_models[key]
