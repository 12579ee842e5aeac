"""From scene-linear radiance to 8-bit sRGB, and back for mid-tones.

``display = srgb_oetf(aces_filmic(linear))`` where ``linear`` already includes the camera's
``2**exposure`` and ``aces_filmic`` is Narkowicz's fit of the ACES RRT+ODT,
``x (a x + b) / (x (c x + d) + e)`` with ``a=2.51 b=0.03 c=2.43 d=0.59 e=0.14``, applied per
channel and clamped to [0, 1] (no pre-scale: linear 0.18 lands on 0.267 before the OETF,
1.0 on 0.80, and the curve reaches white at linear 7.24). ``tone_map="none"`` only clamps.

:func:`from_srgb8` inverts both steps: it recovers linear values below the white point to the
8-bit quantisation step (a few % for mid-tones), which the tests check.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

TONE_MAPS: Final = ("filmic", "none")
_A, _B, _C, _D, _E = 2.51, 0.03, 2.43, 0.59, 0.14
# linear input where the curve reaches 1.0 (~7.24): root of (a-c) x^2 + (b-d) x - e
FILMIC_WHITE: Final = float(
    ((_D - _B) + np.sqrt((_D - _B) ** 2 + 4.0 * (_A - _C) * _E)) / (2.0 * (_A - _C))
)


def aces_filmic(linear: npt.ArrayLike) -> FloatArray:
    """Narkowicz's ACES fit, clamped to [0, 1]; negative input maps to 0."""
    x = np.maximum(np.asarray(linear, dtype=np.float32), 0.0)
    y = (x * (_A * x + _B)) / (x * (_C * x + _D) + _E)
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def aces_filmic_inverse(display: npt.ArrayLike) -> FloatArray:
    """Inverse of :func:`aces_filmic` on [0, 1): the smaller root of its quadratic."""
    y = np.clip(np.asarray(display, dtype=np.float64), 0.0, 1.0 - 1e-6)
    qa = y * _C - _A
    qb = y * _D - _B
    qc = y * _E
    disc = np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0))
    return ((-qb - disc) / (2.0 * qa)).astype(np.float32)


def srgb_oetf(display: npt.ArrayLike) -> FloatArray:
    """IEC 61966-2-1 encoding of [0, 1] display-linear values."""
    v = np.clip(np.asarray(display, dtype=np.float32), 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1.0 / 2.4) - 0.055).astype(
        np.float32
    )


def srgb_eotf(encoded: npt.ArrayLike) -> FloatArray:
    """Decode sRGB [0, 1] back to display-linear."""
    v = np.clip(np.asarray(encoded, dtype=np.float32), 0.0, 1.0)
    return np.where(v <= 0.04045, v / 12.92, np.power((v + 0.055) / 1.055, 2.4)).astype(np.float32)


def tone_map(linear: npt.ArrayLike, mode: str = "filmic") -> FloatArray:
    """Scene-linear to display-linear [0, 1] with ``mode`` ("filmic" or "none")."""
    if mode == "filmic":
        return aces_filmic(linear)
    if mode == "none":
        return np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    raise ValueError(f"unknown tone map {mode!r}; use one of {', '.join(TONE_MAPS)}")


def to_srgb8(linear: npt.ArrayLike, mode: str = "filmic") -> npt.NDArray[np.uint8]:
    """Tone map, encode and round to 8 bits."""
    encoded = srgb_oetf(tone_map(linear, mode))
    codes: npt.NDArray[np.uint8] = np.rint(encoded * 255.0).astype(np.uint8)
    return codes


def from_srgb8(rgb8: npt.ArrayLike, mode: str = "filmic") -> FloatArray:
    """Undo :func:`to_srgb8` (to its quantisation): the scene-linear value it came from."""
    display = srgb_eotf(np.asarray(rgb8, dtype=np.float32) / 255.0)
    if mode == "filmic":
        return aces_filmic_inverse(display)
    if mode == "none":
        return display
    raise ValueError(f"unknown tone map {mode!r}; use one of {', '.join(TONE_MAPS)}")
