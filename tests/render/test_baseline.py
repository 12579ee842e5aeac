"""The baseline pyrender renderer: the default shot on real GL, and the light-unit mapping."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pxr import Gf

from twinstudio.render.baseline import baseline_lights, render_baseline
from twinstudio.render.scene import StudioLight

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "render"
W, H = 320, 180
HERO = "/Studio/Cameras/Hero"
KEY = "/Studio/Lights/Key"
Mask = Callable[..., np.ndarray]


def save(name: str, image: np.ndarray) -> None:
    """Screenshots for humans (artifacts/ is git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(ARTIFACTS / name)


def test_the_default_shot_renders_a_lit_twin_on_the_cove(
    shot: Any, renderer: Any, silhouette: Mask
) -> None:
    scene = shot.studio.scene
    nodes_before = set(scene.nodes)
    image = render_baseline(shot.studio, HERO, W, H, renderer)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    assert set(scene.nodes) == nodes_before  # camera and lights were temporary
    assert scene.ambient_light == pytest.approx([0, 0, 0])
    twin = silhouette(shot.studio)
    luma = image.mean(axis=2)
    assert 60 < luma[twin].mean() < 250  # the twin is lit, not black nor blown out
    assert 60 < luma[~twin].mean() < 250  # so is the cyclorama behind it
    assert image[twin].std() > 10  # shaded, not flat
    save("default_shot_hero.png", render_baseline(shot.studio, HERO, 1280, 720, renderer))
    detail = render_baseline(shot.studio, "/Studio/Cameras/Detail", 640, 360, renderer)
    save("default_shot_detail.png", detail)


def test_a_pose_and_a_look_show_in_the_render(shot: Any, renderer: Any) -> None:
    anim = shot.stage.GetPrimAtPath("/Studio/Twin/Pose")
    joints = [str(j).rsplit("/", 1)[-1] for j in anim.GetAttribute("joints").Get()]
    rest = anim.GetAttribute("rotations").Get()[joints.index("upperarm_l")]
    q = rest * Gf.Quatf(Gf.Rotation(Gf.Vec3d(0, 0, 1), 60).GetQuat())
    arm_up = [q.GetReal(), *q.GetImaginary()]
    shot.edit(op="pose", path="/Studio/Twin", rotations={"upperarm_l": arm_up})
    shot.edit(op="variant", path="/Studio/Twin", set="wardrobe", selection="evening")
    shot.studio.sync()
    save("default_shot_evening_arm_up.png", render_baseline(shot.studio, HERO, 640, 360, renderer))


def test_light_and_exposure_edits_brighten_the_frame(shot: Any, renderer: Any) -> None:
    base = render_baseline(shot.studio, HERO, W, H, renderer).mean()
    shot.edit(op="set", path=KEY, attr="inputs:intensity", value=60.0)
    shot.studio.sync()
    keyed = render_baseline(shot.studio, HERO, W, H, renderer).mean()
    assert keyed > base + 3
    shot.stage.GetPrimAtPath(HERO).GetAttribute("exposure").Set(1.0)  # camera EV +1
    assert shot.studio.sync().cameras_changed == 1
    assert shot.studio.camera(HERO).exposure == pytest.approx(1.0)
    assert render_baseline(shot.studio, HERO, W, H, renderer).mean() > keyed + 3


def light(kind: str, **kw: Any) -> StudioLight:
    fields: dict[str, Any] = dict(
        path=f"/L/{kind}",
        kind=kind,
        world=np.eye(4),
        color=(1.0, 1.0, 1.0),
        luminance=10.0,
        normalize=False,
        width=0.0,
        height=0.0,
        radius=0.0,
        length=0.0,
        angle_deg=0.0,
        cone_angle_deg=None,
        cone_softness=0.0,
        focus=0.0,
        shadow=True,
        visible=True,
    )
    fields.update(kw)
    return StudioLight(**fields)


def intensity(studio: StudioLight) -> tuple[str, float]:
    [(_, native)], _ = baseline_lights([studio])
    return type(native).__name__, float(native.intensity)


def test_area_lights_become_candela_and_distant_lights_lux() -> None:
    assert intensity(light("rect", width=1.2, height=0.9)) == ("PointLight", pytest.approx(10.8))
    assert intensity(light("rect", width=1.2, height=0.9, normalize=True)) == (
        "PointLight",
        pytest.approx(10.0),
    )
    scaled = np.diag([2.0, 2.0, 1.0, 1.0])
    assert intensity(light("rect", width=1.0, height=1.0, world=scaled))[1] == pytest.approx(40)
    assert intensity(light("sphere", radius=0.1))[1] == pytest.approx(10 * math.pi * 0.01)
    assert intensity(light("sphere", radius=0.1, normalize=True))[1] == pytest.approx(2.5)
    assert intensity(light("disk", radius=0.5))[1] == pytest.approx(10 * math.pi / 4)
    assert intensity(light("cylinder", radius=0.1, length=2.0))[1] == pytest.approx(4.0)
    assert intensity(light("distant", normalize=True, angle_deg=0.53)) == (
        "DirectionalLight",
        pytest.approx(10.0),
    )
    solid_angle = 2 * math.pi * (1 - math.cos(math.radians(0.53) / 2))
    assert intensity(light("distant", angle_deg=0.53))[1] == pytest.approx(10 * solid_angle)


def test_shaped_lights_become_spots_and_domes_ambient() -> None:
    [(_, spot)], _ = baseline_lights(
        [light("sphere", radius=0.1, cone_angle_deg=30.0, cone_softness=0.2)]
    )
    assert type(spot).__name__ == "SpotLight"
    assert spot.outerConeAngle == pytest.approx(math.radians(30))
    assert spot.innerConeAngle == pytest.approx(math.radians(24))
    kept, ambient = baseline_lights(
        [light("dome", color=(1.0, 0.5, 0.25), luminance=0.4), light("rect", visible=False)],
        scale=2.0,
    )
    assert kept == [] and ambient == pytest.approx([0.8, 0.4, 0.2])


def test_beyond_four_lights_of_a_type_the_dimmest_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lights = [
        light("sphere", path=f"/L/P{i}", radius=0.1, luminance=float(i)) for i in (1, 5, 3, 4, 2)
    ]
    with caplog.at_level(logging.WARNING, logger="twinstudio.render.baseline"):
        kept, _ = baseline_lights(lights)
    assert sorted(s.path for s, _ in kept) == ["/L/P2", "/L/P3", "/L/P4", "/L/P5"]
    assert any("/L/P1 dropped" in r.getMessage() for r in caplog.records)
