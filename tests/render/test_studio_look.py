"""The studio renderer on the real default shot: the checks a photographer would make."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyrender
import pytest
from pxr import UsdGeom

from twinstudio.render.lighting import RenderSettings, StudioRenderer

KEY = "/Studio/Lights/Key"
HERO = "/Studio/Cameras/Hero"
W, H = 320, 180


@pytest.fixture
def studio_renderer(renderer: pyrender.OffscreenRenderer) -> Iterator[StudioRenderer]:
    r = StudioRenderer(renderer)
    yield r
    r.delete()


def twin_halves(
    shot: Any, studio_renderer: StudioRenderer, mask: np.ndarray
) -> tuple[float, float]:
    """Mean linear luminance of the twin's left and right halves in the picture."""
    shot.studio.sync()
    scene = shot.studio
    result = studio_renderer.render(
        scene.scene, scene.lights.values(), scene.camera(HERO), RenderSettings(W, H)
    )
    lum = result.linear.mean(axis=2)
    cols = np.nonzero(mask.any(axis=0))[0]
    mid = (int(cols.min()) + int(cols.max())) // 2
    left, right = mask.copy(), mask.copy()
    left[:, mid:] = False
    right[:, :mid] = False
    return float(lum[left].mean()), float(lum[right].mean())


def test_moving_the_key_from_camera_left_to_right_lights_the_other_half(
    shot: Any, studio_renderer: StudioRenderer, silhouette: Callable[..., np.ndarray]
) -> None:
    mask = silhouette(shot.studio)
    for light in ("/Studio/Lights/Fill", "/Studio/Lights/Rim"):  # the key alone
        shot.edit(op="set", path=light, attr="inputs:intensity", value=0.0)
    left, right = twin_halves(shot, studio_renderer, mask)
    assert left > 1.2 * right  # the key starts camera-left (-X)
    t, r, _, _, _ = UsdGeom.XformCommonAPI(shot.stage.GetPrimAtPath(KEY)).GetXformVectors(0)
    shot.edit(op="xform", path=KEY, translate=[-t[0], t[1], t[2]], rotate=[r[0], -r[1], -r[2]])
    left, right = twin_halves(shot, studio_renderer, mask)
    assert right > 1.2 * left
