"""The twin in each look, as the render node sees the default shot (real EGL rendering).

Each look is rendered from the hero camera and saved to artifacts/twin/<look>.png (and a
portrait from the detail camera); the checks are what a photographer would glance at: a
full-length figure fills a sensible part of the frame, the look's garments cover the
torso, and they come out in their fabric's colour.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyrender
import pytest
from PIL import Image
from pxr import Usd, UsdShade

from twinstudio.assets.wardrobe.looks import LOOKS
from twinstudio.render.gl import open_renderer
from twinstudio.render.lighting import RenderSettings, StudioRenderer
from twinstudio.render.scene import StudioScene

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "twin"
TWIN = "/Studio/Twin"
W, H = 720, 480


@pytest.fixture(scope="module")
def gl() -> Iterator[pyrender.OffscreenRenderer]:
    offscreen = open_renderer(W, H)
    yield offscreen
    offscreen.delete()


@pytest.fixture(scope="module")
def renderer(gl: pyrender.OffscreenRenderer) -> Iterator[StudioRenderer]:
    studio = StudioRenderer(gl)
    yield studio
    studio.delete()


def _shot(look: str) -> Usd.Stage:
    stage = Usd.Stage.Open(str(REPO / "stages" / "default_shot.usda"))
    stage.SetEditTarget(stage.GetSessionLayer())
    stage.GetPrimAtPath(TWIN).GetVariantSet("wardrobe").SetVariantSelection(look)
    return stage


def _segments(
    gl: pyrender.OffscreenRenderer, scene: StudioScene, camera: str
) -> tuple[np.ndarray, list[str]]:
    """((H, W) index per pixel: 0 background, i + 1 the i-th mesh under the twin; paths)."""
    paths = sorted(p for p in scene.mesh_nodes if p.startswith(TWIN + "/"))
    colours = {scene.mesh_nodes[p]: ((i + 1) % 256, (i + 1) // 256, 0) for i, p in enumerate(paths)}
    cam = scene.camera(camera)
    lens = pyrender.PerspectiveCamera(
        cam.yfov(W / H), znear=cam.near, zfar=cam.far, aspectRatio=W / H
    )
    node = scene.scene.add(lens, pose=cam.world)
    scene.scene.main_camera_node = node
    seg_map = {n: colours.get(n, (0, 0, 0)) for n in scene.mesh_nodes.values()}
    try:
        gl.viewport_width, gl.viewport_height = W, H
        colour, _ = gl.render(scene.scene, flags=pyrender.RenderFlags.SEG, seg_node_map=seg_map)
    finally:
        scene.scene.remove_node(node)
    seg = colour[:, :, 0].astype(np.int64) + 256 * colour[:, :, 1].astype(np.int64)
    return np.where(seg > len(paths), 0, seg), paths


@pytest.mark.parametrize("look", [look.variant for look in LOOKS])
def test_the_twin_wears_the_look_in_the_default_shot(
    gl: pyrender.OffscreenRenderer, renderer: StudioRenderer, look: str
) -> None:
    stage = _shot(look)
    scene = StudioScene(stage)
    try:
        scene.sync()
        # The segmentation pass first: it uploads the meshes the way both renderers share.
        segments, paths = _segments(gl, scene, "/Studio/Cameras/Hero")
        frame = renderer.render(
            scene.scene, scene.lights.values(), scene.camera("/Studio/Cameras/Hero"),
            RenderSettings(W, H, supersample=2),
        )  # fmt: skip
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame.rgb).save(ARTIFACTS / f"{look}.png")
        portrait = renderer.render(
            scene.scene, scene.lights.values(), scene.camera("/Studio/Cameras/Detail"),
            RenderSettings(W, H, supersample=2),
        )  # fmt: skip
        Image.fromarray(portrait.rgb).save(ARTIFACTS / f"{look}_portrait.png")
    finally:
        scene.close()

    twin = segments > 0
    rows = np.nonzero(twin.any(axis=1))[0]
    assert 0.02 < twin.mean() < 0.3, "the twin should be a full figure, not a speck or a wall"
    assert 0.6 < (rows.max() - rows.min()) / H < 0.98  # full length, head to toe in frame
    # The torso band: from a fifth to two fifths of the way down the figure.
    top, height = rows.min(), rows.max() - rows.min()
    band = np.zeros_like(twin)
    band[top + int(0.2 * height) : top + int(0.4 * height)] = True
    garment_ids = [i + 1 for i, p in enumerate(paths) if p.startswith(f"{TWIN}/Wardrobe/")]
    on_torso = np.isin(segments, garment_ids) & band
    assert on_torso.sum() > 0.6 * (twin & band).sum(), "garments should cover the torso"
    # The garment most seen on the torso is rendered in its fabric's colour.
    main = np.bincount(segments[on_torso]).argmax()
    prim = stage.GetPrimAtPath(paths[main - 1])
    material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
    surface = UsdShade.Shader(stage.GetPrimAtPath(f"{material.GetPath()}/Surface"))
    fabric = np.asarray(surface.GetInput("diffuseColor").Get(), dtype=np.float64)
    seen = frame.linear[segments == main].mean(axis=0)
    # Same direction in colour space (lighting scales it; highlights desaturate a little).
    cosine = float(seen @ fabric) / float(np.linalg.norm(seen) * np.linalg.norm(fabric))
    assert cosine > 0.97, (prim.GetPath(), seen, fabric)
    if fabric.max() > 2.0 * fabric.min():  # a real colour keeps its dominant channel
        assert np.argmax(seen) == np.argmax(fabric), (prim.GetPath(), seen, fabric)
