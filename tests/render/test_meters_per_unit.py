"""A centimetre stage renders like the same set authored in metres (``metersPerUnit``).

One small set is authored three times: in metres, in centimetres (``metersPerUnit`` 0.01,
every length x100), and in centimetres mislabelled as metres (what the renderer made of a
centimetre stage before it read ``metersPerUnit``). Perspective alone can't tell the
scales apart, so the set has what can: a ``normalize``d rect light (its radiance is
intensity / area in m²) and depth of field (a 35 mm lens against a focus distance in m).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyrender
import pytest
from pxr import Gf, Usd, UsdGeom, UsdLux

from twinstudio.render.baseline import render_baseline
from twinstudio.render.lighting import RenderResult, RenderSettings, StudioRenderer
from twinstudio.render.scene import StudioScene

CAMERA, BALL, KEY, FILL = "/Set/Camera", "/Set/Ball", "/Set/Key", "/Set/Fill"
SETTINGS = RenderSettings(192, 108, depth_of_field=True)


def studio_set(length: float, meters_per_unit: float) -> Usd.Stage:
    """The set with every length (in metres) multiplied by ``length``, authored with
    ``meters_per_unit``: a floor, a ball on it, a box behind, a soft key, a small fill."""
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageMetersPerUnit(stage, meters_per_unit)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)

    def place(prim: Usd.Prim, at: tuple[float, float, float], tilt: float = 0.0) -> None:
        api = UsdGeom.XformCommonAPI(prim)
        api.SetTranslate(Gf.Vec3d(*at) * length)
        api.SetRotate(Gf.Vec3f(tilt, 0.0, 0.0))

    floor = UsdGeom.Mesh.Define(stage, "/Set/Floor")
    floor.CreatePointsAttr(
        [(x * length, 0, z * length) for x, z in ((-3, 3), (3, 3), (3, -6), (-3, -6))]
    )
    floor.CreateFaceVertexCountsAttr([4])
    floor.CreateFaceVertexIndicesAttr([0, 1, 2, 3])
    ball = UsdGeom.Sphere.Define(stage, BALL)
    ball.CreateRadiusAttr(0.3 * length)
    ball.CreateDisplayColorAttr([(0.8, 0.2, 0.1)])
    place(ball.GetPrim(), (0.0, 0.3, 0.0))
    box = UsdGeom.Cube.Define(stage, "/Set/Box")
    box.CreateSizeAttr(0.6 * length)
    place(box.GetPrim(), (0.9, 0.3, -2.5))

    key = UsdLux.RectLight.Define(stage, KEY)
    key.CreateWidthAttr(1.0 * length)
    key.CreateHeightAttr(0.5 * length)
    key.CreateNormalizeAttr(True)  # radiance = intensity / area: the area must be in m²
    key.CreateIntensityAttr(8.0)
    place(key.GetPrim(), (-0.5, 2.0, 1.5), tilt=-50.0)
    fill = UsdLux.SphereLight.Define(stage, FILL)
    fill.CreateRadiusAttr(0.1 * length)
    fill.CreateIntensityAttr(30.0)
    place(fill.GetPrim(), (1.5, 1.2, 1.5))

    camera = UsdGeom.Camera.Define(stage, CAMERA)
    camera.CreateFocalLengthAttr(35.0)  # millimetres on either stage
    camera.CreateHorizontalApertureAttr(36.0)
    camera.CreateVerticalApertureAttr(24.0)
    camera.CreateClippingRangeAttr(Gf.Vec2f(0.1, 100.0) * length)
    camera.CreateFocusDistanceAttr(3.0 * length)  # on the ball
    camera.CreateFStopAttr(1.4)
    place(camera.GetPrim(), (0.0, 1.2, 3.0), tilt=-15.0)
    return stage


@pytest.fixture
def render(
    renderer: pyrender.OffscreenRenderer,
) -> Iterator[Callable[[StudioScene], RenderResult]]:
    studio = StudioRenderer(renderer)

    def frame(scene: StudioScene) -> RenderResult:
        return studio.render(scene.scene, scene.lights.values(), scene.camera(CAMERA), SETTINGS)

    yield frame
    studio.delete()


def test_a_centimetre_stage_renders_like_the_same_set_in_metres(
    render: Callable[[StudioScene], RenderResult],
    silhouette: Callable[..., np.ndarray],
    renderer: pyrender.OffscreenRenderer,
) -> None:
    metres = StudioScene(studio_set(1.0, 1.0))
    centimetres = StudioScene(studio_set(100.0, 0.01))
    mislabelled = StudioScene(studio_set(100.0, 1.0))  # how cm read before metersPerUnit
    size = (SETTINGS.width, SETTINGS.height)

    # The records the renderers start from are in metres either way.
    for path in (KEY, FILL):
        m, cm = metres.lights[path], centimetres.lights[path]
        assert cm.world == pytest.approx(m.world)
        assert (cm.width, cm.height, cm.radius) == pytest.approx((m.width, m.height, m.radius))
    m_cam, cm_cam = metres.camera(CAMERA), centimetres.camera(CAMERA)
    assert cm_cam.world == pytest.approx(m_cam.world)
    assert (cm_cam.near, cm_cam.far, cm_cam.focus_distance) == pytest.approx(
        (m_cam.near, m_cam.far, m_cam.focus_distance)
    )
    ball_m = silhouette(metres, BALL, CAMERA, size)
    ball_cm = silhouette(centimetres, BALL, CAMERA, size)
    assert 0.03 < ball_m.mean() < 0.5  # the ball is in the picture
    assert (ball_m != ball_cm).mean() < 0.002

    reference = render(metres)
    same = render(centimetres)
    before = render(mislabelled)
    mean = float(reference.linear.mean())
    assert mean > 0.02  # lit
    # Tight enough to see a focus distance left in centimetres (0.4% here, through the blur).
    assert float(np.abs(same.linear - reference.linear).mean()) < 0.001 * mean
    assert np.abs(same.rgb.astype(int) - reference.rgb.astype(int)).mean() < 0.1
    # Read as metres, the centimetre set's key is 10^4 times too dim (its area is 10^4 times
    # too large) and the 35 mm lens is 100 times too short for its distances (less blur).
    assert float(np.abs(before.linear - reference.linear).mean()) > 0.3 * mean
    assert np.abs(before.rgb.astype(int) - reference.rgb.astype(int)).mean() > 10

    # pyrender's own lights (the baseline renderer) agree too.
    baseline = [
        render_baseline(s, CAMERA, *size, renderer).astype(int) for s in (metres, centimetres)
    ]
    assert np.abs(baseline[1] - baseline[0]).mean() < 0.1


def test_a_new_meters_per_unit_rebuilds_the_scene_in_the_new_unit() -> None:
    stage = studio_set(1.0, 1.0)
    studio = StudioScene(stage)
    key = studio.lights[KEY]
    UsdGeom.SetStageMetersPerUnit(stage, 0.01)
    stats = studio.sync()
    assert stats.full
    assert studio.lights[KEY].position == pytest.approx(key.position * 0.01)
    assert studio.lights[KEY].width == pytest.approx(key.width * 0.01)
    assert studio.camera(CAMERA).near == pytest.approx(0.001)
    pose = studio.scene.get_pose(studio.mesh_nodes[BALL])
    assert pose[:3, :3] == pytest.approx(np.eye(3) * 0.01)
    studio.close()
