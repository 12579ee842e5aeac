"""Filmic tone map and sRGB: monotonic, encoded, and invertible for mid-tones."""

from __future__ import annotations

import numpy as np
import pytest

from twinstudio.render.lighting import tonemap


def test_srgb_oetf_reference_values() -> None:
    values = tonemap.srgb_oetf([0.0, 0.0031308, 0.18, 0.5, 1.0])
    np.testing.assert_allclose(values, [0.0, 0.04045, 0.46135, 0.73536, 1.0], atol=1e-4)
    np.testing.assert_allclose(
        tonemap.srgb_eotf(values), [0.0, 0.0031308, 0.18, 0.5, 1.0], atol=1e-5
    )


def test_filmic_curve_anchor_points() -> None:
    assert tonemap.aces_filmic(0.0) == 0.0
    assert float(tonemap.aces_filmic(0.18)) == pytest.approx(0.2669, abs=1e-3)
    assert float(tonemap.aces_filmic(1.0)) == pytest.approx(0.8038, abs=1e-3)
    assert float(tonemap.aces_filmic(tonemap.FILMIC_WHITE)) == pytest.approx(1.0, abs=1e-6)
    assert float(tonemap.aces_filmic(1e6)) == 1.0


def test_output_is_monotonic() -> None:
    linear = np.geomspace(1e-4, 50.0, 2000, dtype=np.float32)
    for mode in tonemap.TONE_MAPS:
        codes = tonemap.to_srgb8(linear, mode).astype(int)
        assert np.all(np.diff(codes) >= 0), mode
    assert tonemap.to_srgb8(linear, "filmic")[-1] == 255


def test_roundtrip_recovers_mid_tones() -> None:
    linear = np.linspace(0.05, 1.0, 200, dtype=np.float32)  # mid-tones: -2.3 to +2.5 EV of 0.18
    back = tonemap.from_srgb8(tonemap.to_srgb8(linear))
    np.testing.assert_allclose(back, linear, rtol=0.025)
    # exact without the 8-bit rounding
    np.testing.assert_allclose(
        tonemap.aces_filmic_inverse(tonemap.aces_filmic(linear)), linear, rtol=1e-4
    )
    plain = np.linspace(0.05, 0.95, 50, dtype=np.float32)
    np.testing.assert_allclose(
        tonemap.from_srgb8(tonemap.to_srgb8(plain, "none"), "none"), plain, rtol=0.03
    )


def test_unknown_tone_map_says_what_exists() -> None:
    with pytest.raises(ValueError, match="filmic"):
        tonemap.tone_map([0.5], "reinhard")
