"""Every pose preset and every set, rendered through the Hero camera (saved to artifacts/poses).

The checks are the ones a photographer makes on the contact sheet: each pose reads as a
different silhouette, the whole figure stays in frame, every set shows behind the twin,
and recolouring the backdrop's marked shader recolours the picture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyrender
import pytest
from PIL import Image

from twinstudio.render.lighting import RenderSettings, StudioRenderer
from twinstudio.stage import posing

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "poses"
HERO = "/Studio/Cameras/Hero"
Shot = Any  # tests/render/conftest.py: the default shot with an editor and a render scene
W, H = 480, 320
SETS = {"infinity_cove": "Cyclorama", "paper": "Paper", "loft": "Loft"}


@pytest.fixture
def studio_renderer(renderer: pyrender.OffscreenRenderer) -> Iterator[StudioRenderer]:
    r = StudioRenderer(renderer)
    yield r
    r.delete()


def shoot(shot: Shot, studio_renderer: StudioRenderer, name: str) -> np.ndarray:
    shot.studio.sync()
    scene = shot.studio
    result = studio_renderer.render(
        scene.scene, scene.lights.values(), scene.camera(HERO), RenderSettings(W, H)
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(result.rgb).save(ARTIFACTS / f"{name}.png")
    return result.rgb


def test_each_pose_is_its_own_silhouette_in_frame(
    shot: Shot, studio_renderer: StudioRenderer, silhouette: Callable[..., np.ndarray]
) -> None:
    presets = [p.name for p in posing.presets(shot.stage.GetPrimAtPath("/Studio/Twin"))]
    assert len(presets) >= 6
    masks: dict[str, np.ndarray] = {}
    for name in presets:
        shot.edit(op="pose", path="/Studio/Twin", preset=name)
        shot.studio.sync()
        masks[name] = silhouette(shot.studio, size=(W, H))  # (before the beauty render: GL)
        shoot(shot, studio_renderer, f"pose_{name}")
    for name, mask in masks.items():
        rows, cols = np.nonzero(mask)
        assert 0.04 < mask.mean() < 0.3, name
        # The whole figure is in frame, head to toe, with room around it.
        assert rows.min() > 2 and rows.max() < H - 3 and cols.min() > 2 and cols.max() < W - 3
        assert (rows.max() - rows.min()) > 0.6 * H, name
    names = sorted(masks)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            overlap = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
            assert overlap < 0.93, f"{a} and {b} read as the same silhouette ({overlap:.2f})"


def test_each_set_shows_behind_the_twin(
    shot: Shot, studio_renderer: StudioRenderer, silhouette: Callable[..., np.ndarray]
) -> None:
    backgrounds: dict[str, np.ndarray] = {}
    for variant, prim in SETS.items():
        shot.edit(op="variant", path="/Studio/Set", set="set", selection=variant)
        assert shot.stage.GetPrimAtPath(f"/Studio/Set/{prim}").IsValid()
        shot.studio.sync()
        twin = silhouette(shot.studio, size=(W, H))
        set_pixels = silhouette(shot.studio, prefix=f"/Studio/Set/{prim}", size=(W, H))
        picture = shoot(shot, studio_renderer, f"set_{variant}").astype(float)
        assert 0.04 < twin.mean() < 0.3, variant
        assert set_pixels.mean() > 0.5, f"{variant} should fill the frame behind the twin"
        backgrounds[variant] = picture[~twin].mean(axis=0)
        assert 25 < backgrounds[variant].mean() < 240, f"{variant} is lit sensibly"
    for a, b in (("infinity_cove", "paper"), ("infinity_cove", "loft"), ("paper", "loft")):
        assert np.abs(backgrounds[a] - backgrounds[b]).max() > 4, (a, b)


def test_recolouring_the_marked_backdrop_recolours_the_picture(
    shot: Shot, studio_renderer: StudioRenderer, silhouette: Callable[..., np.ndarray]
) -> None:
    shot.edit(op="variant", path="/Studio/Set", set="set", selection="paper")
    root: Any = shot.stage.GetPrimAtPath("/Studio/Set/Paper")
    shader = f"{root.GetPath()}/{root.GetCustomData()['twinstudio:backdrop']}"
    shot.studio.sync()
    backdrop = silhouette(shot.studio, prefix=f"{root.GetPath()}/Sweep", size=(W, H))
    grey = shoot(shot, studio_renderer, "paper_fashion_grey").astype(float)
    shot.edit(op="set", path=shader, attr="inputs:diffuseColor", value=[0.6, 0.04, 0.03])
    red = shoot(shot, studio_renderer, "paper_recoloured_red").astype(float)
    assert backdrop.mean() > 0.3
    r, g = red[backdrop][:, 0].mean(), red[backdrop][:, 1].mean()
    assert grey[backdrop][:, 0].mean() < 1.15 * grey[backdrop][:, 1].mean()  # (5600 K light)
    assert r > 2 * g
