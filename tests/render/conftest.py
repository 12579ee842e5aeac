"""Real offscreen GL for the render tests: EGL (Mesa llvmpipe here), one context per module.

The platform is chosen here, before any test module imports OpenGL or pyrender.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import open_renderer, select_platform

select_platform()  # PYOPENGL_PLATFORM if set, else egl
apply_pyrender_compat()

import pyrender  # noqa: E402

from twinstudio.render.scene import StudioScene  # noqa: E402
from twinstudio.stage.composition import RoomStage  # noqa: E402
from twinstudio.stage.editor import StageEditor  # noqa: E402
from twinstudio.stage.ops import op_from_wire  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
STAGES = REPO / "stages"
ARTIFACTS = REPO / "artifacts" / "render"
W, H = 320, 180
HERO = "/Studio/Cameras/Hero"
TWIN = "/Studio/Twin"


@pytest.fixture(scope="module")
def renderer() -> Iterator[pyrender.OffscreenRenderer]:
    """A GL context is ~1 s to make on llvmpipe: share one per module (its size varies)."""
    r = open_renderer(W, H)
    yield r
    r.delete()


class Shot:
    """The default shot as a room holds it, with an editor and the render scene over it."""

    def __init__(self) -> None:
        self.room = RoomStage(STAGES, "default_shot.usda")
        self.stage = self.room.stage
        self.editor = StageEditor(self.room)
        self.studio = StudioScene(self.stage)

    def edit(self, **wire: Any) -> None:
        self.editor.apply(op_from_wire(wire))


@pytest.fixture
def shot() -> Iterator[Shot]:
    s = Shot()
    yield s
    s.studio.close()


@pytest.fixture
def silhouette(renderer: pyrender.OffscreenRenderer) -> Callable[..., np.ndarray]:
    """``silhouette(studio, prefix=TWIN, camera_path=HERO, size=(W, H))``: (H, W) bool mask
    of the pixels covered by the meshes under ``prefix`` (a segmentation render)."""

    def render(
        studio: StudioScene,
        prefix: str = TWIN,
        camera_path: str = HERO,
        size: tuple[int, int] = (W, H),
    ) -> np.ndarray:
        w, h = size
        cam = studio.camera(camera_path)
        camera = pyrender.PerspectiveCamera(
            cam.yfov(w / h), znear=cam.near, zfar=cam.far, aspectRatio=w / h
        )
        node = studio.scene.add(camera, pose=cam.world)
        studio.scene.main_camera_node = node
        seg = {
            n: (255, 255, 255) if (p == prefix or p.startswith(prefix + "/")) else (0, 0, 0)
            for p, n in studio.mesh_nodes.items()
        }
        try:
            renderer.viewport_width, renderer.viewport_height = w, h
            flags = pyrender.RenderFlags.SEG
            color, _ = renderer.render(studio.scene, flags=flags, seg_node_map=seg)
        finally:
            studio.scene.remove_node(node)
        return np.asarray(color[:, :, 0] > 127)

    return render
