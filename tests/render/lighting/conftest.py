"""Real EGL on llvmpipe: synthetic studio scenes (a sphere or figure on a floor) and the
``StudioLight``/``StudioCamera`` records of ``twinstudio.render.scene``, built directly so
each test states its lights in a line."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import open_renderer, select_platform

select_platform()  # EGL unless PYOPENGL_PLATFORM says otherwise; before OpenGL is imported
apply_pyrender_compat()

import pyrender  # noqa: E402
import trimesh  # noqa: E402

from twinstudio.render.lighting import RenderResult, RenderSettings, StudioRenderer  # noqa: E402
from twinstudio.render.scene import StudioCamera, StudioLight  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "render" / "lighting"


def look_at(
    eye: Sequence[float], target: Sequence[float], up: Sequence[float] = (0, 1, 0)
) -> np.ndarray:
    """A pose (column-vector 4x4) at ``eye`` whose -Z looks at ``target``."""
    e = np.asarray(eye, dtype=float)
    f = np.asarray(target, dtype=float) - e
    f /= np.linalg.norm(f)
    s = np.cross(f, up)
    if np.linalg.norm(s) < 1e-6:  # looking along up: any perpendicular will do
        s = np.cross(f, (0.0, 0.0, -1.0))
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = s, u, -f, e
    return m


def light(
    kind: str, eye: Sequence[float], target: Sequence[float] = (0, 0.5, 0), **kw: Any
) -> StudioLight:
    fields: dict[str, Any] = dict(
        path=f"/Lights/{kind}",
        kind=kind,
        world=look_at(eye, target),
        color=(1.0, 1.0, 1.0),
        luminance=10.0,
        normalize=False,
        width=1.0,
        height=1.0,
        radius=0.5,
        length=1.0,
        angle_deg=0.53,
        cone_angle_deg=None,
        cone_softness=0.0,
        focus=0.0,
        shadow=True,
        visible=True,
    )
    fields.update(kw)
    return StudioLight(**fields)


def camera(
    eye: Sequence[float] = (0, 1.0, 4.0), target: Sequence[float] = (0, 0.5, 0), **kw: Any
) -> StudioCamera:
    fields: dict[str, Any] = dict(
        path="/Cameras/Hero",
        world=look_at(eye, target),
        focal_length_mm=35.0,
        h_aperture_mm=36.0,
        v_aperture_mm=24.0,
        near=0.1,
        far=100.0,
        f_stop=0.0,
        focus_distance=4.0,
        exposure=0.0,
    )
    fields.update(kw)
    return StudioCamera(**fields)


def matte(
    color: Sequence[float] = (0.8, 0.8, 0.8), roughness: float = 1.0
) -> pyrender.MetallicRoughnessMaterial:
    return pyrender.MetallicRoughnessMaterial(
        baseColorFactor=[*color, 1.0], metallicFactor=0.0, roughnessFactor=roughness
    )


def floor_mesh(size: float = 12.0, color: Sequence[float] = (0.8, 0.8, 0.8)) -> pyrender.Mesh:
    box = trimesh.creation.box(extents=(size, 0.02, size))
    box.apply_translation((0, -0.01, 0))
    return pyrender.Mesh.from_trimesh(box, material=matte(color), smooth=False)


def sphere_mesh(radius: float = 0.5, color: Sequence[float] = (0.8, 0.8, 0.8)) -> pyrender.Mesh:
    return pyrender.Mesh.from_trimesh(
        trimesh.creation.icosphere(subdivisions=4, radius=radius), material=matte(color)
    )


def studio_scene(
    *, sphere_at: Sequence[float] = (0, 0.5, 0), radius: float = 0.5
) -> pyrender.Scene:
    """A grey sphere standing on a large grey floor (y = 0)."""
    scene = pyrender.Scene()
    scene.add(floor_mesh())
    pose = np.eye(4)
    pose[:3, 3] = sphere_at
    scene.add(sphere_mesh(radius), pose=pose)
    return scene


def save_png(name: str, rgb: np.ndarray) -> Path:
    """Keep a frame for eyeballing under artifacts/render/lighting/ (gitignored)."""
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    Image.fromarray(rgb).save(path)
    return path


SMALL = RenderSettings(width=256, height=144)


@dataclass
class Studio:
    """A StudioRenderer plus the scene builders the tests share.

    ``offscreen`` is the pyrender context it renders in, also used for native pyrender
    references (a context costs ~0.2 s on llvmpipe: one per session).
    """

    renderer: StudioRenderer
    offscreen: pyrender.OffscreenRenderer

    look_at = staticmethod(look_at)
    light = staticmethod(light)
    camera = staticmethod(camera)
    matte = staticmethod(matte)
    floor_mesh = staticmethod(floor_mesh)
    sphere_mesh = staticmethod(sphere_mesh)
    studio_scene = staticmethod(studio_scene)
    save_png = staticmethod(save_png)

    def render(
        self,
        scene: pyrender.Scene,
        lights: Sequence[StudioLight],
        cam: StudioCamera | None = None,
        settings: RenderSettings = SMALL,
        **kw: Any,
    ) -> RenderResult:
        if kw:
            settings = replace(settings, **kw)
        return self.renderer.render(scene, lights, cam or camera(), settings)

    def render_native(self, scene: pyrender.Scene) -> np.ndarray:
        """pyrender's own forward pass (scene with camera and lights), as uint8 RGB."""
        self.offscreen.viewport_width, self.offscreen.viewport_height = 256, 144
        color, _ = self.offscreen.render(scene)
        return np.asarray(color)


@pytest.fixture(scope="session")
def studio() -> Iterator[Studio]:
    offscreen = open_renderer(256, 144)
    renderer = StudioRenderer(offscreen)
    try:
        yield Studio(renderer, offscreen)
    finally:
        renderer.delete()
        offscreen.delete()
