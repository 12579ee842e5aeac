"""The studio's units: metres and Y up. Turning a source's units and up axis into them.

A source says (or the caller tells, with ``--units``/``--up``) how long one unit is and
which axis is up; :class:`Normalisation` is the similarity ``C = S R`` (uniform scale,
then a Z-up to Y-up rotation) that brings its points into studio space.

Skinned data is *baked*, not wrapped, by the glTF and OBJ importers, so that every prim
of a twin is in studio units and garments fitted to it need no extra transform:

- points: ``p' = C p``; normals: ``n' = R n``;
- skeleton-space joint frames (root joints' rest transforms, bind transforms):
  ``M' = S R M S^-1``, so joint axes turn with the body and keep unit scale;
- joint-local transforms below a root: ``M' = S M S^-1`` (only translations scale).

Then ``sum w M'_j bind'_j^-1 p' = C (sum w M_j bind_j^-1 p)``: a pose skins exactly as
in the source, seen in studio space. (All matrices here act on column vectors; USD's
``Gf.Matrix4d`` stores their transposes.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twinstudio.assets.importers.report import OPTION_INVALID, ImportRefused

F64 = NDArray[np.float64]

METERS_PER_UNIT = {"m": 1.0, "dm": 0.1, "cm": 0.01, "mm": 0.001}
UP_AXES = ("Y", "Z")
# Z up to Y up: (x, y, z) -> (x, z, -y); the body's front (-Y in Blender) faces +Z.
_Z_TO_Y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def parse_units(units: str | None) -> float | None:
    """``"cm"`` -> 0.01; None stays None (the source decides). Refuses unknown names."""
    if units is None:
        return None
    try:
        return METERS_PER_UNIT[units.lower()]
    except KeyError:
        raise ImportRefused(
            OPTION_INVALID, f"unknown units {units!r}: use one of {', '.join(METERS_PER_UNIT)}"
        ) from None


def parse_up(up: str | None) -> str | None:
    """``"z"`` -> ``"Z"``; None stays None. Refuses anything but y/z."""
    if up is None:
        return None
    if up.upper() not in UP_AXES:
        raise ImportRefused(OPTION_INVALID, f"unknown up axis {up!r}: use y or z")
    return up.upper()


@dataclass(frozen=True)
class Normalisation:
    """From a source's ``meters_per_unit`` and ``up_axis`` ("Y"/"Z") to metres, Y up."""

    meters_per_unit: float = 1.0
    up_axis: str = "Y"

    @property
    def identity(self) -> bool:
        return self.meters_per_unit == 1.0 and self.up_axis == "Y"

    @property
    def rotation(self) -> F64:
        return _Z_TO_Y.copy() if self.up_axis == "Z" else np.eye(3)

    @property
    def matrix(self) -> F64:
        """``C = S R`` as a 4x4 (column vectors)."""
        m = np.eye(4)
        m[:3, :3] = self.meters_per_unit * self.rotation
        return m

    def points(self, p: F64) -> F64:
        """(N, 3) source points -> studio points."""
        return np.asarray(p, dtype=np.float64) @ (self.meters_per_unit * self.rotation).T

    def normals(self, n: F64) -> F64:
        return np.asarray(n, dtype=np.float64) @ self.rotation.T

    def frames(self, m: F64) -> F64:
        """(..., 4, 4) skeleton-space frames: ``S R M S^-1``."""
        out = np.array(m, dtype=np.float64)
        out[..., :3, :3] = self.rotation @ out[..., :3, :3]
        out[..., :3, 3] = self.meters_per_unit * (out[..., :3, 3] @ self.rotation.T)
        return out

    def locals(self, m: F64) -> F64:
        """(..., 4, 4) joint-local transforms below a root: ``S M S^-1``."""
        out = np.array(m, dtype=np.float64)
        out[..., :3, 3] *= self.meters_per_unit
        return out

    def notes(self) -> list[str]:
        notes = []
        if self.meters_per_unit != 1.0:
            notes.append(f"scaled by {self.meters_per_unit:g} (source units -> metres)")
        if self.up_axis == "Z":
            notes.append("rotated from Z up to Y up")
        return notes
