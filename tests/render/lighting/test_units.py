"""UsdLux photometry: the numbers the schema text promises, and pyrender's scale."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinstudio.render.lighting import units
from twinstudio.render.lighting.units import ShapeSize


def test_size_factors_are_the_schema_surface_areas() -> None:
    assert units.surface_area("rect", ShapeSize(width=1.2, height=0.9)) == pytest.approx(1.08)
    assert units.surface_area("disk", ShapeSize(radius=0.5)) == pytest.approx(math.pi * 0.25)
    assert units.surface_area("sphere", ShapeSize(radius=0.5)) == pytest.approx(math.pi)
    assert units.surface_area("cylinder", ShapeSize(radius=0.1, length=2)) == pytest.approx(
        2 * math.pi * 0.1 * 2
    )
    # normalize off, and domes, never divide
    assert units.size_factor("rect", False, ShapeSize(width=4, height=4)) == 1.0
    assert units.size_factor("dome", True, ShapeSize()) == 1.0


def test_world_scale_enters_the_area() -> None:
    world = np.diag([2.0, 3.0, 1.0, 1.0])
    shape = units.world_shape("rect", world, width=1.0, height=1.0)
    assert (shape.width, shape.height) == (2.0, 3.0)
    assert units.world_shape("sphere", np.diag([2.0, 2.0, 2.0, 1.0]), radius=0.5).radius == 1.0


def test_normalize_keeps_power_constant_as_a_softbox_grows() -> None:
    small = ShapeSize(width=0.5, height=0.5)
    big = ShapeSize(width=2.0, height=2.0)
    axis = (0.0, 0.0, -1.0)  # straight out of the emitting face
    i_small = units.intensity_toward(100.0, "rect", True, small, axis)
    i_big = units.intensity_toward(100.0, "rect", True, big, axis)
    assert i_small == pytest.approx(i_big) == pytest.approx(100.0)
    # unnormalized, intensity is luminance times the projected area
    assert units.intensity_toward(100.0, "rect", False, big, axis) == pytest.approx(400.0)
    # a Lambertian face: cos falloff off axis, nothing behind
    off = (math.sin(math.radians(60)), 0.0, -math.cos(math.radians(60)))
    assert units.intensity_toward(100.0, "rect", False, big, off) == pytest.approx(200.0)
    assert units.intensity_toward(100.0, "rect", False, big, (0.0, 0.0, 1.0)) == 0.0


def test_sphere_light_is_a_pyrender_point_light_of_l_pi_r_squared_candela() -> None:
    r = 0.1
    assert units.intensity_toward(150.0, "sphere", False, ShapeSize(radius=r), (1, 0, 0)) == (
        pytest.approx(150.0 * math.pi * r * r)
    )
    # normalized: pi r^2 / (4 pi r^2) for every radius, even the zero-size limit
    for radius in (0.0, 0.01, 1.0):
        shape = ShapeSize(radius=radius)
        assert units.intensity_toward(8.0, "sphere", True, shape, (0, 1, 0)) == pytest.approx(2.0)


def test_cylinder_emits_from_its_side_only() -> None:
    shape = ShapeSize(radius=0.05, length=1.0)
    assert units.intensity_toward(10.0, "cylinder", False, shape, (0, 1, 0)) == pytest.approx(1.0)
    assert units.intensity_toward(10.0, "cylinder", False, shape, (1, 0, 0)) == pytest.approx(0.0)


def test_distant_light_illuminance() -> None:
    sun = 0.53
    theta = math.radians(sun) / 2
    # normalized: intensity is lux, whatever the angle
    for angle in (0.0, sun, 10.0, 90.0, 180.0):
        assert units.distant_illuminance(50_000.0, angle, True) == pytest.approx(50_000.0)
    # unnormalized: luminance times the projected solid angle of the disc ...
    e = units.distant_illuminance(1.0, sun, False)
    assert e == pytest.approx(math.pi * math.sin(theta) ** 2)
    # ... which is the solid angle itself to 1e-5 for a sun-sized disc
    assert e == pytest.approx(2 * math.pi * (1 - math.cos(theta)), rel=1e-4)
    assert units.distant_size_factor(sun) == pytest.approx(math.pi * math.sin(theta) ** 2)
    assert units.distant_size_factor(270.0) == pytest.approx(
        (2 - math.sin(math.radians(135)) ** 2) * math.pi
    )


def test_shaping_cone_and_focus_follow_the_schema() -> None:
    cos = lambda deg: math.cos(math.radians(deg))  # noqa: E731
    # no cone: only focus
    assert units.shaping_factor(cos(80), None) == 1.0
    assert units.shaping_factor(cos(60), None, focus=2.0) == pytest.approx(0.25)
    # hard cone
    assert units.shaping_factor(cos(29), 30.0) == 1.0
    assert units.shaping_factor(cos(31), 30.0) == 0.0
    # softness 0.2 of 30 deg: smoothstep from 24 to 30 deg
    assert units.shaping_factor(cos(23.9), 30.0, 0.2) == 1.0
    assert units.shaping_factor(cos(27.0), 30.0, 0.2) == pytest.approx(0.5, abs=1e-6)
    assert units.shaping_factor(cos(30.0), 30.0, 0.2) == 0.0


def test_camera_exposure_is_a_power_of_two() -> None:
    assert units.exposure_scale(0.0) == 1.0
    assert units.exposure_scale(1.0) == 2.0
    assert units.exposure_scale(-2.0) == 0.25
