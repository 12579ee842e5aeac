"""StudioRenderer on real EGL: lights, exposure, units against pyrender, output encoding."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pyrender
import pytest

from twinstudio.render.lighting import RenderSettings
from twinstudio.render.lighting.tonemap import to_srgb8

Studio = Any  # the conftest fixture: a StudioRenderer plus scene builders

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def sphere_only(studio: Studio) -> pyrender.Scene:
    scene = pyrender.Scene()
    pose = np.eye(4)
    pose[:3, 3] = (0, 0.5, 0)
    scene.add(studio.sphere_mesh(0.5), pose=pose)
    return scene


def subject_mask(studio: Studio) -> np.ndarray:
    """Pixels of the sphere in the default camera (its coverage in a floorless render)."""
    dome = studio.light("dome", (0, 0, 0), (0, -1, 0), luminance=1.0)
    rgba = studio.render(sphere_only(studio), [dome], transparent_background=True).rgb
    return rgba[..., 3] == 255


def test_moving_the_softbox_from_camera_left_to_right_moves_the_light(studio: Studio) -> None:
    mask = subject_mask(studio)
    cols = np.nonzero(mask.any(axis=0))[0]
    centre = (cols[0] + cols[-1]) // 2
    left = mask.copy()
    left[:, centre:] = False
    right = mask.copy()
    right[:, : centre + 1] = False
    halves = {}
    for side, x in (("left", -2.5), ("right", 2.5)):
        lights = [studio.light("rect", (x, 1.5, 2.0), luminance=20.0, width=1.0, height=1.0)]
        lum = studio.render(studio.studio_scene(), lights).linear @ LUMA
        halves[side] = (float(lum[left].mean()), float(lum[right].mean()))
    assert halves["left"][0] > 2.0 * halves["left"][1]  # key on camera-left: left half lit
    assert halves["right"][1] > 2.0 * halves["right"][0]


def test_one_stop_of_light_exposure_doubles_linear_radiance(studio: Studio) -> None:
    key = studio.light("rect", (-2.0, 2.5, 2.0), luminance=20.0)
    base = studio.render(studio.studio_scene(), [key]).linear
    # render.scene folds inputs:exposure into luminance: intensity * 2**exposure
    brighter = studio.render(studio.studio_scene(), [replace(key, luminance=20.0 * 2**1)]).linear
    assert brighter.mean() / base.mean() == pytest.approx(2.0, rel=0.01)
    lit = base > 0.01
    np.testing.assert_allclose(brighter[lit] / base[lit], 2.0, rtol=0.02)


def test_camera_exposure_plus_one_doubles_linear(studio: Studio) -> None:
    key = studio.light("rect", (-2.0, 2.5, 2.0), luminance=20.0)
    base = studio.render(studio.studio_scene(), [key], studio.camera(exposure=0.0))
    plus = studio.render(studio.studio_scene(), [key], studio.camera(exposure=1.0))
    assert plus.linear.mean() / base.linear.mean() == pytest.approx(2.0, rel=0.01)
    assert plus.rgb.astype(int).sum() > base.rgb.astype(int).sum()  # and the frame brightens


def eight_lights(studio: Studio) -> list[Any]:
    """Key, fill, rim spot, top disk, tube, sun, kicker and overhead: one of every kind."""
    return [
        studio.light("rect", (-2.0, 2.5, 2.0), luminance=20.0, width=1.2, height=0.9),
        studio.light("rect", (2.3, 1.4, 2.0), luminance=6.0, width=1.8, height=1.4),
        studio.light(
            "sphere",
            (0.9, 3.0, -1.9),
            luminance=150.0,
            radius=0.1,
            cone_angle_deg=30.0,
            cone_softness=0.2,
        ),
        studio.light("disk", (0.0, 3.0, 2.0), luminance=10.0, radius=0.4),
        studio.light("cylinder", (-3.0, 1.0, -1.0), luminance=20.0, radius=0.05, length=1.2),
        studio.light(
            "distant", (1.0, 3.0, 1.0), (0, 0, 0), luminance=0.5, normalize=True, angle_deg=2.0
        ),
        studio.light("sphere", (3.0, 0.5, 0.5), luminance=200.0, radius=0.05),
        studio.light("rect", (0.0, 4.0, 0.0), (0, 0, 0), luminance=3.0, width=2.0, height=2.0),
    ]


def test_eight_lights_all_contribute_and_add_up(studio: Studio) -> None:
    lights = [replace(lt, path=f"/Lights/L{i}") for i, lt in enumerate(eight_lights(studio))]
    everything = studio.render(studio.studio_scene(), lights)
    studio.save_png("eight_lights", everything.rgb)
    alone = [studio.render(studio.studio_scene(), [lt]).linear for lt in lights]
    for i, image in enumerate(alone):
        assert image.max() > 0.01, f"light {i} ({lights[i].kind}) lit nothing"
    # light is additive: the frame is exactly the sum of its lights (nothing dropped)
    np.testing.assert_allclose(everything.linear, np.sum(alone, axis=0), rtol=1e-4, atol=1e-5)
    for i in range(len(lights)):
        without = studio.render(studio.studio_scene(), lights[:i] + lights[i + 1 :]).linear
        assert np.abs(everything.linear - without).max() > 0.01, (
            f"removing light {i} changed nothing"
        )


def test_pyrender_alone_drops_the_fifth_point_light(studio: Studio) -> None:
    """Why the studio renders one pass per light: pyrender keeps 4 lights of a kind."""
    cam = studio.camera(eye=(0, 3.0, 0.01), target=(0, 0, 0))

    def native(n: int) -> float:
        scene = pyrender.Scene(ambient_light=np.zeros(3))
        scene.add(studio.floor_mesh(color=(1, 1, 1)))
        scene.add(
            pyrender.PerspectiveCamera(yfov=cam.yfov(256 / 144), aspectRatio=256 / 144),
            pose=cam.world,
        )
        for _ in range(n):
            pose = np.eye(4)
            pose[:3, 3] = (0, 2, 0)
            scene.add(pyrender.PointLight(intensity=0.1), pose=pose)
        return float(studio.render_native(scene).astype(float).mean())

    assert native(5) == native(4)  # the fifth light is silently dropped
    bulb = studio.light(
        "sphere", (0, 2, 0), (0, 0, 0), luminance=0.1 / (math.pi * 0.01**2), radius=0.01
    )
    floor = pyrender.Scene()
    floor.add(studio.floor_mesh(color=(1, 1, 1)))
    four = studio.render(floor, [bulb] * 4, cam).linear.mean()
    five = studio.render(floor, [bulb] * 5, cam).linear.mean()
    assert five / four == pytest.approx(5 / 4, rel=1e-4)


def test_a_small_sphere_light_matches_pyrenders_point_light_in_candela(studio: Studio) -> None:
    """UsdLux sphere of luminance L, radius r == pyrender PointLight of L*pi*r^2 candela."""
    candela, distance, radius = 4.0, 2.0, 0.01
    cam = studio.camera(eye=(0.0, 3.0, 0.01), target=(0, 0, 0), focal_length_mm=50.0)

    def white_floor() -> pyrender.Scene:
        scene = pyrender.Scene(ambient_light=np.zeros(3))
        scene.add(studio.floor_mesh(color=(1, 1, 1)))
        return scene

    bulb = studio.light(
        "sphere",
        (0, distance, 0),
        (0, 0, 0),
        luminance=candela / (math.pi * radius**2),
        radius=radius,
        shadow=False,
    )
    ours = studio.render(white_floor(), [bulb], cam, tone_map="none").linear

    scene = white_floor()
    scene.add(
        pyrender.PerspectiveCamera(
            yfov=cam.yfov(256 / 144), aspectRatio=256 / 144, znear=cam.near, zfar=cam.far
        ),
        pose=cam.world,
    )
    pose = np.eye(4)
    pose[:3, 3] = (0, distance, 0)
    scene.add(pyrender.PointLight(color=np.ones(3), intensity=candela), pose=pose)
    color = studio.render_native(scene)
    native = (color.astype(np.float64) / 255.0) ** 2.2  # pyrender writes pow(linear, 1/2.2)

    # below the bulb: E = I / d^2 lux on pyrender's white dielectric (c_diff = 0.96, F0 = 0.04)
    centre = (slice(62, 82), slice(118, 138))
    lambert = candela / distance**2 * (1 - 0.04) * 0.96 / math.pi  # (1 - F0) c_diff / pi
    assert float(ours[centre].mean()) == pytest.approx(lambert, rel=0.02)
    assert float(ours[centre].mean()) == pytest.approx(float(native[centre].mean()), rel=0.01)
    # and across the frame, where cosines and distances change
    band = (slice(40, 104), slice(40, 216))
    np.testing.assert_allclose(ours[band], native[band], rtol=0.03, atol=0.002)


def test_transparent_background_has_zero_alpha_where_nothing_is_hit(studio: Studio) -> None:
    key = studio.light("rect", (-2.0, 2.5, 2.0), luminance=20.0)
    result = studio.render(sphere_only(studio), [key], transparent_background=True)
    rgba = result.rgb
    assert rgba.shape == (144, 256, 4)
    assert rgba[0, 0, 3] == 0 and rgba[-1, -1, 3] == 0
    assert not rgba[rgba[..., 3] == 0][:, :3].any()
    assert rgba[72, 128, 3] == 255
    assert (rgba[..., 3] == 0).mean() > 0.5
    opaque = studio.render(sphere_only(studio), [key])
    assert opaque.rgb.shape == (144, 256, 3)


def test_rgb_is_the_tone_mapped_srgb_encoding_of_linear(studio: Studio) -> None:
    key = studio.light("rect", (-2.0, 2.5, 2.0), luminance=40.0)
    for mode in ("filmic", "none"):
        result = studio.render(studio.studio_scene(), [key], tone_map=mode)
        np.testing.assert_array_equal(result.rgb, to_srgb8(result.linear, mode))
    assert result.linear.dtype == np.float32 and result.linear.shape == (144, 256, 3)


def test_dome_lights_the_subject_and_fills_the_background(studio: Studio) -> None:
    dome = studio.light("dome", (0, 0, 0), (0, -1, 0), luminance=0.5, color=(1.0, 0.5, 0.25))
    result = studio.render(studio.studio_scene(), [dome])
    np.testing.assert_allclose(result.linear[0, 0], [0.5, 0.25, 0.125], rtol=1e-5)
    # a grey Lambertian surface under a uniform dome reflects albedo * L (c_diff = 0.8 * 0.96)
    assert result.linear[130, 128, 0] == pytest.approx(0.5 * 0.8 * 0.96, rel=0.05)


def test_spot_cone_limits_the_lit_area(studio: Studio) -> None:
    spot = studio.light(
        "sphere",
        (0, 3.0, 0.0),
        (0, 0, 0),
        luminance=2000.0,
        radius=0.05,
        cone_angle_deg=10.0,
        shadow=False,
    )
    floor = pyrender.Scene()
    floor.add(studio.floor_mesh())
    top = studio.camera(eye=(0, 4.0, 0.01), target=(0, 0, 0))
    lum = studio.render(floor, [spot], top).linear @ LUMA
    assert lum[72, 128] > 0.1
    # the cone reaches the floor 3 m below at r = 3 tan(10 deg) = 0.53 m; corners are 2+ m out
    assert lum[0, 0] == 0.0 and lum[-1, -1] == 0.0


def test_blended_surface_shows_what_is_behind(studio: Studio) -> None:
    key = studio.light("rect", (0.0, 2.0, 3.0), luminance=20.0, shadow=False)
    scene = studio.studio_scene()
    veil = pyrender.MetallicRoughnessMaterial(
        baseColorFactor=[1.0, 0.0, 0.0, 0.5], alphaMode="BLEND", roughnessFactor=1.0
    )
    import trimesh

    sheet = trimesh.creation.box(extents=(0.6, 0.6, 0.01))
    pose = np.eye(4)
    pose[:3, 3] = (0.0, 0.5, 1.0)
    scene.add(pyrender.Mesh.from_trimesh(sheet, material=veil), pose=pose)
    behind = studio.render(studio.studio_scene(), [key]).linear[72, 128]
    through = studio.render(scene, [key]).linear[72, 128]
    # half of the grey sphere stays visible through a half-opaque red veil
    assert through[1] == pytest.approx(0.5 * behind[1], rel=0.1)
    assert through[0] > through[1]


def test_supersampling_keeps_exposure_and_smooths_edges(studio: Studio) -> None:
    key = studio.light("rect", (-2.0, 2.5, 2.0), luminance=20.0, shadow=False)
    one = studio.render(studio.studio_scene(), [key]).linear
    four = studio.render(studio.studio_scene(), [key], supersample=2).linear
    assert four.mean() == pytest.approx(one.mean(), rel=0.02)
    # the silhouette gains partial coverage
    edges = [
        studio.render(sphere_only(studio), [key], supersample=k, transparent_background=True).rgb
        for k in (1, 2)
    ]
    partial = [int(((e[..., 3] > 0) & (e[..., 3] < 255)).sum()) for e in edges]
    assert partial[0] == 0
    assert partial[1] > 50


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="supersample"):
        RenderSettings(64, 64, supersample=0)
    with pytest.raises(ValueError, match="filmic"):
        RenderSettings(64, 64, tone_map="reinhard")


def usd_xform(
    translate: tuple[float, float, float], rotate_xyz: tuple[float, float, float]
) -> np.ndarray:
    """World matrix of xformOp:translate then xformOp:rotateXYZ (degrees), column vectors."""
    rx, ry, rz = (math.radians(a) for a in rotate_xyz)
    cx, sx, cy, sy, cz, sz = (
        math.cos(rx),
        math.sin(rx),
        math.cos(ry),
        math.sin(ry),
        math.cos(rz),
        math.sin(rz),
    )
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = z @ y @ x  # X first, then Y, then Z
    m[:3, 3] = translate
    return m


def test_three_point_portrait_of_the_default_shot(studio: Studio) -> None:
    """The default shot's key, fill and rim on a stand-in figure and cove, for eyeballing."""
    import trimesh

    scene = pyrender.Scene()
    cove = studio.matte((0.75, 0.75, 0.75))
    floor = trimesh.creation.box(extents=(10.0, 0.02, 10.0))
    floor.apply_translation((0.0, -0.01, 0.0))
    wall = trimesh.creation.box(extents=(10.0, 6.0, 0.02))
    wall.apply_translation((0.0, 3.0, -3.0))
    for part in (floor, wall):
        scene.add(pyrender.Mesh.from_trimesh(part, material=cove, smooth=False))
    skin = studio.matte((0.8, 0.62, 0.5), roughness=0.6)
    cloth = studio.matte((0.2, 0.3, 0.55), roughness=0.9)
    figure = [
        (trimesh.creation.capsule(height=0.55, radius=0.17), (0.0, 1.22, 0.0), cloth),  # torso
        (trimesh.creation.icosphere(subdivisions=3, radius=0.11), (0.0, 1.67, 0.0), skin),  # head
        (trimesh.creation.capsule(height=0.75, radius=0.075), (-0.1, 0.45, 0.0), cloth),  # legs
        (trimesh.creation.capsule(height=0.75, radius=0.075), (0.1, 0.45, 0.0), cloth),
        (trimesh.creation.capsule(height=0.55, radius=0.05), (-0.27, 1.15, 0.0), skin),  # arms
        (trimesh.creation.capsule(height=0.55, radius=0.05), (0.27, 1.15, 0.0), skin),
    ]
    upright = np.eye(4)
    upright[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]  # trimesh capsules run along z
    for mesh, at, material in figure:
        pose = upright.copy()
        pose[:3, 3] = at
        scene.add(pyrender.Mesh.from_trimesh(mesh, material=material), pose=pose)

    warm = (1.0, 0.94, 0.88)  # ~5600 K
    lights = [
        studio.light("rect", (0, 0, 0), world=usd_xform((-1.7, 2.2, 1.7), (-20.63, -45.34, 0)),
                     luminance=20.0, width=1.2, height=0.9, color=warm, path="/Studio/Lights/Key"),
        studio.light("rect", (0, 0, 0), world=usd_xform((2.3, 1.35, 2.0), (-2.82, 48.99, 0)),
                     luminance=6.0, width=1.8, height=1.4, color=warm, path="/Studio/Lights/Fill"),
        studio.light("sphere", (0, 0, 0), world=usd_xform((0.9, 3.0, -1.9), (-35.51, 154.65, 0)),
                     luminance=150.0, radius=0.1, cone_angle_deg=30.0, cone_softness=0.2,
                     color=warm, path="/Studio/Lights/Rim"),
    ]  # fmt: skip
    hero = studio.camera(world=usd_xform((0.0, 1.0, 5.0), (-1.43, 0.0, 0.0)), focal_length_mm=50.0,
                         f_stop=4.0, focus_distance=5.021)  # fmt: skip
    result = studio.render(scene, lights, hero, width=640, height=360, supersample=2,
                           depth_of_field=True)  # fmt: skip
    studio.save_png("three_point_default_shot", result.rgb)
    lum = result.linear @ LUMA
    torso = lum[150:210]  # chest rows; the figure spans about columns 290-350
    left, right = torso[:, 295:320].mean(), torso[:, 320:345].mean()
    assert left > 1.1 * right  # key (21.6 cd) camera-left, fill (15 cd) camera-right


def textured_card(studio: Studio, *, tangents: bool) -> pyrender.Mesh:
    """A 1 m card with every material map pyrender supports, alpha-masked and two-sided."""
    h = 0.5
    positions = np.array([[-h, 0, -h], [h, 0, -h], [h, 0, h], [-h, 0, h]], dtype=np.float32)
    ramp = np.linspace(0, 255, 16, dtype=np.uint8)
    u, v = np.meshgrid(ramp, ramp)
    rgba = np.stack([u, v, np.full_like(u, 128), np.full_like(u, 255)], axis=-1)
    rgba[:4, :4, 3] = 0  # a masked-out corner
    flat_normal = np.zeros((16, 16, 3), np.uint8) + np.array([128, 128, 255], np.uint8)
    material = pyrender.MetallicRoughnessMaterial(
        baseColorTexture=rgba,
        metallicRoughnessTexture=np.full((16, 16, 3), 200, np.uint8),
        normalTexture=flat_normal,
        occlusionTexture=np.full((16, 16, 3), 255, np.uint8),
        emissiveTexture=np.full((16, 16, 3), 10, np.uint8),
        emissiveFactor=[0.1, 0.1, 0.1],
        alphaMode="MASK",
        alphaCutoff=0.5,
        doubleSided=True,
    )
    primitive = pyrender.Primitive(
        positions=positions,
        normals=np.tile([0.0, 1.0, 0.0], (4, 1)),
        tangents=np.tile([1.0, 0.0, 0.0, 1.0], (4, 1)) if tangents else None,
        texcoord_0=np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32),
        color_0=np.tile([1.0, 1.0, 1.0, 1.0], (4, 1)),
        indices=np.array([[0, 2, 1], [0, 3, 2]], dtype=np.uint32),
        material=material,
    )
    return pyrender.Mesh([primitive])


def test_every_material_map_and_light_kind_renders(studio: Studio) -> None:
    scene = studio.studio_scene()
    for x, tangents in ((-0.8, True), (0.8, False)):
        pose = np.eye(4)
        pose[:3, :3] = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]  # face the camera (+z)
        pose[:3, 3] = (x, 1.2, 0.5)
        scene.add(textured_card(studio, tangents=tangents), pose=pose)
    result = studio.render(scene, eight_lights(studio), supersample=2, depth_of_field=True)
    studio.save_png("textured_cards", result.rgb)
    assert np.isfinite(result.linear).all()
    assert result.linear.min() >= 0.0
    # the cards (above the sphere, left and right) are lit and their masked corners let
    # the background through
    assert result.linear[20:40, 40:90].max() > 0.05


def test_softbox_irradiance_is_exact_across_the_horizon(studio: Studio) -> None:
    """A 1 m panel 0.6 m away, half below the floor's horizon: its irradiance on the floor
    is the integral over the part above, as a dense numeric sum says."""
    luminance = 10.0
    centre = np.array([0.0, 0.2, -0.6])  # spans y in [-0.3, 0.7], facing +z
    facing = centre + np.array([0.0, 0.0, 1.0])
    panel = studio.light("rect", centre, facing, luminance=luminance, shadow=False)
    floor = pyrender.Scene()
    floor.add(studio.floor_mesh(color=(1, 1, 1)))
    down = studio.camera(eye=(0.0, 3.0, 0.001), target=(0.0, 0.0, 0.0))
    ours = studio.render(floor, [panel], down, tone_map="none").linear[72, 128]

    # E = sum L cos(at floor) cos(at panel) / r^2 dA over the panel above y = 0
    n = 2000
    s = (np.arange(n) + 0.5) / n - 0.5
    x, y = np.meshgrid(s, s + centre[1])
    z = np.full_like(x, centre[2])
    r2 = x**2 + y**2 + z**2
    cos_floor = np.clip(y, 0.0, None) / np.sqrt(r2)
    cos_panel = -z / np.sqrt(r2)  # the panel emits along +z
    irradiance = float((luminance * cos_floor * cos_panel / r2).sum() / n**2)
    # pyrender's diffuse lobe with Fresnel at the half vector toward the panel's centre
    v = np.array([0.0, 1.0, 0.0])
    h = v + centre / np.linalg.norm(centre)
    vh = float(v @ h / np.linalg.norm(h))
    fresnel = 0.04 + 0.96 * (1 - vh) ** 5
    expected = (1 - fresnel) * 0.96 / math.pi * irradiance
    # within 1.5% (the rough specular); ignoring the horizon would be 33% low
    assert float(ours[0]) == pytest.approx(expected, rel=0.03)
