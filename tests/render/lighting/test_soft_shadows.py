"""Softbox shadows the way a photographer sees them: smooth penumbrae without grain, dark
where an object meets the floor, and sharper near that contact than far from it.

Visibility is measured as the shadowed frame over the same frame with shadows off (linear
luminance), so shading and the floor's falloff cancel and 1 is full light, 0 full shadow.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyrender
import pytest
import trimesh
from scipy.ndimage import binary_erosion, gaussian_filter

from twinstudio.render.lighting import RenderSettings
from twinstudio.render.lighting.lens import camera_view

Studio = Any  # the conftest fixture: a StudioRenderer plus scene builders

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
W, H = 320, 180
RED = (0.8, 0.1, 0.1)  # subjects are red, the floor grey: tells the floor's pixels apart
# Grain left in a penumbra: RMS of visibility minus its Gaussian blur (sigma 1 px). Bilinear
# taps on an IGN-shifted lattice plus the penumbra blur measured 0.011 at supersample 1 and
# 0.009 at 2; the per-pixel white-noise kernel it replaced measured 0.049 and 0.030.
MAX_GRAIN = 0.02


def softbox(studio: Studio) -> Any:
    """A 1.2 x 0.9 m softbox 2.6 m away at camera-left, like the default shot's key."""
    return studio.light(
        "rect", (-1.6, 2.0, 1.2), (0.0, 0.3, 0.0), luminance=20.0, width=1.2, height=0.9
    )


def camera(studio: Studio) -> Any:
    """From front-right, above: the subject and the floor its shadow falls on."""
    return studio.camera(eye=(1.2, 2.6, 2.6), target=(0.6, 0.0, -0.4))


def on_floor(studio: Studio, subject: trimesh.Trimesh) -> pyrender.Scene:
    scene = pyrender.Scene()
    scene.add(studio.floor_mesh(size=12.0))
    scene.add(pyrender.Mesh.from_trimesh(subject, material=studio.matte(RED), smooth=False))
    return scene


def visibility(
    studio: Studio, name: str, subject: trimesh.Trimesh, supersample: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(visibility, floor mask): shadowed over unshadowed luminance, and the pixels that are
    grey floor (not the red subject), two pixels in from any edge between them. The frame
    is kept as artifacts/render/lighting/soft_shadow_<name>_ss<supersample>.png."""
    light, cam = softbox(studio), camera(studio)
    settings = RenderSettings(W, H, supersample=supersample)
    shadowed = studio.render(on_floor(studio, subject), [light], cam, settings)
    studio.save_png(f"soft_shadow_{name}_ss{supersample}", shadowed.rgb)
    lit = studio.render(on_floor(studio, subject), [light], cam, replace(settings, shadows=False))
    lum = lit.linear @ LUMA
    floor = (lit.linear[..., 1] > 0.5 * lit.linear[..., 0]) & (lum > 0.02 * lum.max())
    ratio = (shadowed.linear @ LUMA) / np.maximum(lum, 1e-9)
    return ratio, binary_erosion(floor, iterations=2)


def pixel(studio: Studio, point: tuple[float, float, float]) -> tuple[int, int]:
    """(row, column) where a world point lands in the test camera's frame."""
    view = camera_view(camera(studio), W, H)
    clip = view.projection @ view.view @ np.append(np.asarray(point), 1.0)
    return int((1 - clip[1] / clip[3]) / 2 * H), int((clip[0] / clip[3] + 1) / 2 * W)


def cube(size: float = 0.5) -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=(size, size, size))
    box.apply_translation((0.0, size / 2.0, 0.0))
    return box


@pytest.mark.parametrize("supersample", [1, 2])
def test_a_softbox_penumbra_is_smooth_not_grainy(studio: Studio, supersample: int) -> None:
    v, floor = visibility(studio, "box", cube(), supersample)
    smooth = gaussian_filter(v, 3.0)
    penumbra = floor & (smooth > 0.1) & (smooth < 0.9)
    # the shadow is there: a real umbra and a wide penumbra (not smoothed away)
    assert v[floor].min() < 0.05
    assert penumbra.sum() > 1500, penumbra.sum()
    grain = float(np.sqrt(np.mean((v - gaussian_filter(v, 1.0))[penumbra] ** 2)))
    assert grain < MAX_GRAIN, f"penumbra grain {grain:.4f} (RMS), want < {MAX_GRAIN}"


def test_the_floor_is_dark_where_the_box_stands_on_it(studio: Studio) -> None:
    """No light leaks in along the contact line on the box's shadow side (its +x face)."""
    v, floor = visibility(studio, "box", cube())
    contact = [pixel(studio, (0.29, 0.0, z)) for z in np.linspace(-0.2, 0.1, 7)]
    seen = [v[r, c] for r, c in contact if floor[r, c]]
    assert len(seen) >= 5
    assert max(seen) < 0.15, np.round(seen, 3)


def test_a_pole_shadow_is_dark_at_its_foot_and_fades_along_the_floor(studio: Studio) -> None:
    """Contact hardening: behind its foot a 6 cm pole hides most of the softbox; 80 cm along
    its shadow it hides a sliver of it. (Ground truth from 108 small lights tiling the
    softbox: darkest 0.05, 0.2, 0.6, 0.8 at 6, 12, 30, 80 cm; one shadow map per light
    centre with a per-pixel kernel gave 0.8, 0.7, 1.0, 1.0: the pole lost its shadow.)"""
    pole = trimesh.creation.cylinder(radius=0.03, height=1.2, sections=24)  # along z
    pole.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0)))
    pole.apply_translation((0.0, 0.6, 0.0))
    v, floor = visibility(studio, "pole", pole)
    away = np.array([0.8, 0.0, -0.6])  # from the softbox, along the floor
    across = np.array([0.6, 0.0, 0.8])
    darkest = {}
    for distance in (0.12, 0.3, 0.8):
        offsets = np.linspace(-0.12, 0.12, 25)
        cut = [pixel(studio, tuple(away * distance + across * t)) for t in offsets]
        values = [v[r, c] for r, c in cut if floor[r, c]]
        assert len(values) >= 15, distance
        darkest[distance] = float(min(values))
    assert darkest[0.12] < 0.6, darkest
    assert darkest[0.3] < 0.9, darkest  # still a visible shadow
    assert darkest[0.8] > 0.7, darkest  # a faint one
    assert darkest[0.12] < darkest[0.3] - 0.15, darkest
    assert darkest[0.3] < darkest[0.8], darkest
