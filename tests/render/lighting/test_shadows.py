"""Shadows: occluders darken the floor, switch off cleanly, and soften with the softbox size."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyrender
import trimesh

from twinstudio.render.lighting import RenderResult
from twinstudio.render.lighting.lens import camera_view

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)

Studio = Any  # the conftest fixture: a StudioRenderer plus scene builders


def key_light(studio: Studio) -> Any:
    """From camera-left: throws the sphere's shadow to the right, onto the floor."""
    return studio.light(
        "rect", (-2.0, 2.0, 1.0), (0.0, 0.5, 0.0), luminance=30.0, width=0.5, height=0.5
    )


def shadow_window(studio: Studio, source: tuple[float, float, float]) -> tuple[slice, slice]:
    """Pixels around where the sphere's centre, seen from ``source``, lands on the floor."""
    centre = np.array([0.0, 0.5, 0.0])
    ray = centre - np.asarray(source)
    spot = centre + ray * (centre[1] / -ray[1])
    view = camera_view(studio.camera(), 256, 144)
    clip = view.projection @ view.view @ np.append(spot, 1.0)
    x = int((clip[0] / clip[3] + 1) / 2 * 256)
    y = int((1 - clip[1] / clip[3]) / 2 * 144)
    return slice(y - 4, y + 5), slice(x - 8, x + 9)


def test_an_occluder_casts_a_shadow_that_can_be_switched_off(studio: Studio) -> None:
    key = key_light(studio)
    lit = studio.render(studio.studio_scene(), [key], shadows=False).linear @ LUMA
    shadowed = studio.render(studio.studio_scene(), [key]).linear @ LUMA
    studio.save_png("shadow_on", studio.render(studio.studio_scene(), [key]).rgb)
    behind = shadow_window(studio, (-2.0, 2.0, 1.0))
    assert shadowed[behind].mean() < 0.3 * lit[behind].mean()
    # the lit floor in front of the sphere is untouched
    front = (slice(130, 144), slice(20, 60))
    np.testing.assert_allclose(shadowed[front], lit[front], rtol=1e-3, atol=1e-5)
    # per light: UsdLux shadow:enable = false
    unshadowed = studio.render(studio.studio_scene(), [replace(key, shadow=False)]).linear @ LUMA
    np.testing.assert_allclose(unshadowed, lit, rtol=1e-5, atol=1e-6)


def test_a_distant_light_casts_shadows_too(studio: Studio) -> None:
    sun = studio.light(
        "distant", (-2.0, 2.0, 1.0), (0.0, 0.5, 0.0), luminance=5.0, normalize=True, angle_deg=1.0
    )
    lit = studio.render(studio.studio_scene(), [sun], shadows=False).linear @ LUMA
    shadowed = studio.render(studio.studio_scene(), [sun]).linear @ LUMA
    behind = shadow_window(studio, (-2.0, 2.0, 1.0))
    assert shadowed[behind].mean() < 0.2 * lit[behind].mean()
    front = (slice(130, 144), slice(20, 60))
    np.testing.assert_allclose(shadowed[front], lit[front], rtol=1e-3, atol=1e-5)


def wall_scene(studio: Studio) -> pyrender.Scene:
    """A 1 m high wall along z at x = 0, on a floor: a straight shadow edge to measure."""
    scene = pyrender.Scene()
    scene.add(studio.floor_mesh(size=16.0))
    wall = trimesh.creation.box(extents=(0.1, 1.0, 4.0))
    wall.apply_translation((0.0, 0.5, 0.0))
    scene.add(pyrender.Mesh.from_trimesh(wall, material=studio.matte(), smooth=False))
    return scene


def penumbra_width(studio: Studio, size: float) -> tuple[float, RenderResult]:
    """Width in pixels of the 10-90% shadow transition on the floor behind the wall."""
    # same power whatever the size (normalize), light to the left, looking down-right
    box = studio.light(
        "rect",
        (-2.0, 2.0, 0.0),
        (0.5, 0.0, 0.0),
        luminance=20.0,
        normalize=True,
        width=size,
        height=size,
    )
    top = studio.camera(eye=(1.75, 5.0, 0.0), target=(1.75, 0.0, 0.0))
    shadowed = studio.render(wall_scene(studio), [box], top, supersample=2)
    lit = studio.render(wall_scene(studio), [box], top, supersample=2, shadows=False)
    rows = slice(60, 84)  # around z = 0, far from the wall's ends
    ratio = (shadowed.linear[rows] @ LUMA).mean(axis=0) / np.maximum(
        (lit.linear[rows] @ LUMA).mean(axis=0), 1e-6
    )
    wall_col = 60  # x = 0 is at column ~47; start searching behind it
    behind = ratio[wall_col:]
    x10 = int(np.argmax(behind > 0.1))
    x90 = int(np.argmax(behind > 0.9))
    assert 0 < x10 <= x90, f"no shadow edge found: {np.round(behind, 2)}"
    return float(x90 - x10), shadowed


def test_a_bigger_softbox_gives_a_wider_penumbra(studio: Studio) -> None:
    small, small_frame = penumbra_width(studio, 0.2)
    big, big_frame = penumbra_width(studio, 1.2)
    studio.save_png("penumbra_small_softbox", small_frame.rgb)
    studio.save_png("penumbra_big_softbox", big_frame.rgb)
    assert small >= 1.0
    assert big > 2.5 * small, (small, big)
