"""Light records to emitters: normalize, visibility, domes, frames."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from twinstudio.render.lighting.emitters import emitter_from_light, studio_emitters

Studio = Any  # the conftest fixture: a StudioRenderer plus scene builders


def test_normalized_softbox_radiance_is_luminance_over_area(studio: Studio) -> None:
    box = studio.light("rect", (0, 2, 2), luminance=100.0, width=2.0, height=0.5, normalize=True)
    emitter = emitter_from_light(box)
    assert emitter is not None
    np.testing.assert_allclose(emitter.radiance, [100.0, 100.0, 100.0])  # area is 1 m^2
    bigger = emitter_from_light(replace(box, width=4.0))
    assert bigger is not None
    np.testing.assert_allclose(bigger.radiance, [50.0, 50.0, 50.0])
    plain = emitter_from_light(replace(box, normalize=False, color=(1.0, 0.5, 0.25)))
    assert plain is not None
    np.testing.assert_allclose(plain.radiance, [100.0, 50.0, 25.0])


def test_frame_is_orthonormal_and_emits_along_minus_z(studio: Studio) -> None:
    key = studio.light("rect", (-2, 2, 2), (0, 0.5, 0))
    emitter = emitter_from_light(key)
    assert emitter is not None
    towards = np.array([2.0, -1.5, -2.0]) / math.sqrt(4 + 2.25 + 4)
    np.testing.assert_allclose(emitter.axis, towards, atol=1e-9)
    frame = np.stack([emitter.x_axis, emitter.y_axis, -emitter.axis])
    np.testing.assert_allclose(frame @ frame.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(frame) == pytest.approx(1.0)


def test_distant_light_carries_illuminance(studio: Studio) -> None:
    sun = studio.light("distant", (0, 1, 0), (0, 0, 0), luminance=50_000.0, normalize=True)
    emitter = emitter_from_light(sun)
    assert emitter is not None
    np.testing.assert_allclose(emitter.radiance, [50_000.0] * 3)
    assert emitter.tan_half_angle == pytest.approx(math.tan(math.radians(0.53 / 2)))


def test_invisible_black_and_zero_size_lights_emit_nothing(studio: Studio) -> None:
    key = studio.light("rect", (0, 2, 2))
    assert emitter_from_light(replace(key, visible=False)) is None
    assert emitter_from_light(replace(key, color=(0.0, 0.0, 0.0))) is None
    assert emitter_from_light(replace(key, width=0.0)) is None
    # normalized, a zero-size sphere keeps its limit intensity luminance / 4 candela
    point = emitter_from_light(studio.light("sphere", (0, 2, 0), radius=0.0, normalize=True))
    assert point is not None
    r = point.shape.radius
    assert point.radiance[0] * math.pi * r * r == pytest.approx(10.0 / 4)


def test_domes_add_up_and_unknown_kinds_are_skipped(
    studio: Studio, caplog: pytest.LogCaptureFixture
) -> None:
    sky = studio.light("dome", (0, 0, 0), (0, -1, 0), luminance=0.5, color=(1.0, 0.5, 0.5))
    with caplog.at_level(logging.WARNING):
        lighting = studio_emitters(
            [sky, replace(sky, luminance=0.25), replace(sky, kind="portal", path="/P")]
        )
    np.testing.assert_allclose(lighting.dome_radiance, [0.75, 0.375, 0.375])
    assert lighting.emitters == ()
    assert "/P" in caplog.text
