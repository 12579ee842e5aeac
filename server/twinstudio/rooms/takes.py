"""Takes: named snapshots of a room's edit layer, and the differences between two of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pxr import Sdf

from twinstudio.stage.values import to_wire

MAX_TAKES = 500


@dataclass(frozen=True)
class Take:
    name: str
    seq: int
    author: str
    created_at: float
    layer: str  # the edit layer as usda

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seq": self.seq,
            "author": self.author,
            "created_at": self.created_at,
        }


def layer_opinions(text: str) -> dict[str, Any]:
    """Every opinion an edit layer holds: ``/prim.attr``, ``/prim{set}``, ``/prim(active)``.

    Prims the layer defines are listed as ``/prim(def)`` with their type.
    """
    layer = Sdf.Layer.CreateAnonymous(".usda")
    layer.ImportFromString(text)
    out: dict[str, Any] = {}

    def visit(path: Sdf.Path) -> None:
        if not path.IsPrimPath():
            return
        spec = layer.GetPrimAtPath(path)
        if spec.specifier == Sdf.SpecifierDef:
            refs = [r.assetPath for r in spec.referenceList.GetAddedOrExplicitItems()]
            out[f"{path}(def)"] = spec.typeName + (f" -> {refs[0]}" if refs else "")
        if spec.HasInfo("active"):
            out[f"{path}(active)"] = bool(spec.active)
        for vset, selection in spec.variantSelections.items():
            out[f"{path}{{{vset}}}"] = selection
        for prop in spec.attributes:
            if prop.HasDefaultValue():
                out[str(prop.path)] = to_wire(prop.default)

    layer.Traverse(Sdf.Path.absoluteRootPath, visit)
    return out


def diff_layers(a: str, b: str) -> list[dict[str, Any]]:
    """What differs between two edit layers: one entry per property, variant, activation or prim."""
    oa, ob = layer_opinions(a), layer_opinions(b)
    out = []
    for key in sorted(oa.keys() | ob.keys()):
        va, vb = oa.get(key), ob.get(key)
        if va != vb:
            out.append({"key": key, "a": va, "b": vb})
    return out
