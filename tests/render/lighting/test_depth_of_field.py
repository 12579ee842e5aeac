"""Thin-lens depth of field: off-focus objects blur at f/1.4, the focused one stays sharp."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyrender
import pytest

from twinstudio.render.lighting.lens import camera_view

Studio = Any  # the conftest fixture: a StudioRenderer plus scene builders

WIDTH, HEIGHT = 512, 288


def two_spheres(studio: Studio) -> pyrender.Scene:
    """In focus: r 0.3 m at 3 m (right of centre). Off focus: r 0.1 m at 1.2 m (left)."""
    scene = pyrender.Scene()
    for centre, radius in (((0.4, 0.5, 0.0), 0.3), ((-0.25, 0.5, 1.8), 0.1)):
        pose = np.eye(4)
        pose[:3, 3] = centre
        scene.add(studio.sphere_mesh(radius), pose=pose)
    return scene


def gradient_energy(image: np.ndarray) -> float:
    gy, gx = np.gradient(image)
    return float((gx**2 + gy**2).sum())


def test_off_focus_plane_blurs_and_the_focus_plane_stays_sharp(studio: Studio) -> None:
    lens = studio.camera(
        eye=(0.0, 0.5, 3.0),
        target=(0.0, 0.5, 0.0),
        focal_length_mm=50.0,
        f_stop=1.4,
        focus_distance=3.0,
    )
    front = studio.light("rect", (0.0, 1.5, 5.0), luminance=30.0, width=2.0, height=2.0)
    size = {"width": WIDTH, "height": HEIGHT}
    sharp = studio.render(two_spheres(studio), [front], lens, **size).linear.mean(axis=-1)
    dof = studio.render(two_spheres(studio), [front], lens, depth_of_field=True, **size)
    studio.save_png("depth_of_field", dof.rgb)
    blurred = dof.linear.mean(axis=-1)

    # the near sphere's blur disc from the thin-lens formula: ~13 px across
    view = camera_view(lens, WIDTH, HEIGHT)
    assert float(view.coc_px(1.2)) == pytest.approx(-13.0, abs=1.0)
    assert float(view.coc_px(3.0)) == 0.0

    focused = (slice(60, 228), slice(290, 430))
    near = (slice(70, 218), slice(40, 180))
    assert gradient_energy(blurred[focused]) > 0.9 * gradient_energy(sharp[focused])
    assert gradient_energy(blurred[near]) < 0.5 * gradient_energy(sharp[near])
    # blur moves light around but keeps it
    assert blurred[near].sum() == pytest.approx(sharp[near].sum(), rel=0.05)


def test_no_depth_of_field_without_an_aperture(studio: Studio) -> None:
    pinhole = studio.camera(
        eye=(0.0, 0.5, 3.0), target=(0.0, 0.5, 0.0), f_stop=0.0, focus_distance=3.0
    )
    dome = studio.light("dome", (0, 0, 0), (0, -1, 0), luminance=1.0)
    off = studio.render(two_spheres(studio), [dome], pinhole).linear
    on = studio.render(two_spheres(studio), [dome], pinhole, depth_of_field=True).linear
    np.testing.assert_array_equal(on, off)
