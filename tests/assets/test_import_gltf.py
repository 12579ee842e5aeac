"""A skinned glTF converts to UsdSkel and poses the same as its source.

The source of truth is the arm built in ``gltf_arm.py``; the reference skinning there is
written from the glTF spec, the comparison poses the imported USD with UsdSkel itself.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pxr import Gf, Usd, UsdShade, UsdSkel

from assets.gltf_arm import (
    ARMATURE,
    ELBOW,
    SHOULDER,
    WRIST,
    Arm,
    Node,
    animated_nodes,
    make_arm,
    quat,
    skin_reference,
    to_gltf,
    write,
)
from assets.usd_posing import (
    bind_animation,
    gf_quat,
    open_asset,
    set_rotations,
    skinned_world_points,
)
from twinstudio.assets.importers import ImportReport, import_asset
from twinstudio.assets.importers.checks import check_asset

TOLERANCE_M = 1e-4


@pytest.fixture(scope="module")
def arm() -> Arm:
    return make_arm()


@pytest.fixture(params=["glb", "gltf", "bin.gltf"])
def imported(request: pytest.FixtureRequest, arm: Arm, tmp_path: Path) -> ImportReport:
    doc, blob = to_gltf(arm)
    src = write(doc, blob, tmp_path / f"arm.{request.param}")
    report = import_asset(src, kind="twin", out_dir=tmp_path / "twins", name="Arm")
    return report


def test_the_rest_pose_matches_the_source(arm: Arm, imported: ImportReport) -> None:
    stage = open_asset(imported.asset)
    got = skinned_world_points(stage)
    skin, bracelet = skin_reference(arm)
    assert set(got) == {"Arm", "Bracelet"}
    assert np.abs(got["Arm"] - skin).max() < TOLERANCE_M
    assert np.abs(got["Bracelet"] - bracelet).max() < TOLERANCE_M
    assert imported.source_format == imported.source.suffix[1:]
    assert (imported.joints, imported.meshes, imported.points) == (3, 2, len(arm.positions) + 12)


def test_a_pose_matches_the_source_posed_the_same_way(arm: Arm, imported: ImportReport) -> None:
    shoulder, elbow, wrist = quat((0, 0, 1), -40), quat((1, 0, 0), 60), quat((0, 1, 1), 30)
    posed = {
        SHOULDER: Node(**{**arm.nodes[SHOULDER].__dict__, "r": shoulder}),
        ELBOW: Node(**{**arm.nodes[ELBOW].__dict__, "r": elbow}),
        WRIST: Node(**{**arm.nodes[WRIST].__dict__, "r": wrist}),
    }
    skin, bracelet = skin_reference(arm, posed)
    rest_skin, _ = skin_reference(arm)
    assert np.abs(skin - rest_skin).max() > 0.05  # the pose really moves the arm

    stage = open_asset(imported.asset)
    # Elbow and wrist hang from joints: their USD rotations are the glTF node rotations.
    # The shoulder is a root joint: the non-joint Armature above it is folded into it.
    root = gf_quat(arm.nodes[ARMATURE].r) * gf_quat(shoulder)
    set_rotations(
        stage, "/Arm/Pose", {"Shoulder": root, "Elbow": gf_quat(elbow), "Wrist": gf_quat(wrist)}
    )
    got = skinned_world_points(stage)
    assert np.abs(got["Arm"] - skin).max() < TOLERANCE_M
    assert np.abs(got["Bracelet"] - bracelet).max() < TOLERANCE_M


def test_units_and_up_axis_overrides_are_baked_into_the_skeleton(tmp_path: Path) -> None:
    """A glTF exported wrongly (centimetres, Z up): the import bakes the conversion into
    points, bind and rest transforms and the animation, and still poses like the source."""
    arm = make_arm(scale=50.0)  # about 60 units long: centimetres
    doc, blob = to_gltf(arm)
    src = write(doc, blob, tmp_path / "arm_cm.glb")
    report = import_asset(src, out_dir=tmp_path / "twins", name="ArmCm", units="cm", up="z")
    assert report.notes[:2] == (
        "scaled by 0.01 (source units -> metres)",
        "rotated from Z up to Y up",
    )
    z_to_y = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])

    def studio(points: np.ndarray) -> np.ndarray:
        return 0.01 * points @ z_to_y.T

    shoulder, elbow = quat((0, 0, 1), -30), quat((1, 0, 0), 50)
    posed = {
        SHOULDER: Node(**{**arm.nodes[SHOULDER].__dict__, "r": shoulder}),
        ELBOW: Node(**{**arm.nodes[ELBOW].__dict__, "r": elbow}),
    }
    stage = open_asset(report.asset)
    assert np.abs(skinned_world_points(stage)["Arm"] - studio(skin_reference(arm)[0])).max() < 1e-4
    # The root joint's frame turns with the body: Z-to-Y, then the Armature, then the node.
    z_up = Gf.Quatf(Gf.Rotation(Gf.Vec3d(1, 0, 0), -90).GetQuat())
    root = z_up * gf_quat(arm.nodes[ARMATURE].r) * gf_quat(shoulder)
    set_rotations(stage, "/ArmCm/Pose", {"Shoulder": root, "Elbow": gf_quat(elbow)})
    skin, bracelet = skin_reference(arm, posed)
    got = skinned_world_points(stage)
    assert np.abs(got["Arm"] - studio(skin)).max() < 1e-4
    assert np.abs(got["Bracelet"] - studio(bracelet)).max() < 1e-4
    bind_animation(stage, "/ArmCm/Skel", "/ArmCm/Animation")
    skin, _ = skin_reference(arm, animated_nodes(arm, 0.75))
    assert np.abs(skinned_world_points(stage, 0.75 * 24)["Arm"] - studio(skin)).max() < 1e-4


def test_the_source_animation_plays_the_same(arm: Arm, imported: ImportReport) -> None:
    stage = open_asset(imported.asset)
    bind_animation(stage, "/Arm/Skel", "/Arm/Animation")
    assert stage.GetTimeCodesPerSecond() == 24
    moved = 0.0
    for t in (0.0, 0.25, 0.4, 0.5, 0.75, 1.0, 1.5):
        skin, bracelet = skin_reference(arm, animated_nodes(arm, t))
        got = skinned_world_points(stage, t * 24)
        assert np.abs(got["Arm"] - skin).max() < TOLERANCE_M, t
        assert np.abs(got["Bracelet"] - bracelet).max() < TOLERANCE_M, t
        moved = max(moved, float(np.abs(skin - skin_reference(arm)[0]).max()))
    assert moved > 0.05


def test_the_asset_is_a_locked_studio_twin(imported: ImportReport) -> None:
    stage = Usd.Stage.Open(str(imported.asset))
    root = stage.GetDefaultPrim()
    assert root.GetPath() == "/Arm" and root.IsA(UsdSkel.Root)
    assert root.GetCustomData()["twinstudio:identity"] == "locked"
    assert (stage.GetMetadata("metersPerUnit"), stage.GetMetadata("upAxis")) == (1.0, "Y")
    skel = UsdSkel.Skeleton(stage.GetPrimAtPath("/Arm/Skel"))
    assert list(skel.GetJointsAttr().Get()) == [
        "Shoulder",
        "Shoulder/Elbow",
        "Shoulder/Elbow/Wrist",
    ]
    source = UsdSkel.BindingAPI(skel.GetPrim()).GetAnimationSourceRel().GetTargets()
    assert source == ["/Arm/Pose"]
    # Joint frames have unit scale although the Armature above them is scaled 0.5, so the
    # pose's half-precision scales are exact.
    scales = UsdSkel.Animation(stage.GetPrimAtPath("/Arm/Pose")).GetScalesAttr().Get()
    assert [tuple(s) for s in scales] == [(1.0, 1.0, 1.0)] * 3
    mesh = UsdSkel.BindingAPI(stage.GetPrimAtPath("/Arm/Arm"))
    assert mesh.GetJointIndicesPrimvar().GetElementSize() == 8  # JOINTS_0 and JOINTS_1
    check = check_asset(root, kind="twin")
    assert check.skinned_meshes == 2 and check.joints == 3
    # Materials: the glTF factors as UsdPreviewSurface inputs.
    shader = UsdShade.Shader(stage.GetPrimAtPath("/Arm/Materials/Gold/Surface"))
    assert shader.GetInput("diffuseColor").Get() == Gf.Vec3f(1.0, 0.8, 0.2)
    assert shader.GetInput("metallic").Get() == 1.0
    assert shader.GetInput("roughness").Get() == pytest.approx(0.3)
    assert any("Wave" in n and "/Arm/Animation" in n for n in imported.notes)


def test_quantised_weights_are_renormalised_with_a_note(arm: Arm, tmp_path: Path) -> None:
    doc, blob = to_gltf(arm, weights="ubyte", animate=False)
    src = write(doc, blob, tmp_path / "arm8.glb")
    report = import_asset(src, out_dir=tmp_path / "twins", name="Arm8")
    assert report.renormalised_vertices > 0
    assert any("renormalised the weights" in n for n in report.notes)
    stage = Usd.Stage.Open(str(report.asset))
    w = np.asarray(
        UsdSkel.BindingAPI(stage.GetPrimAtPath("/Arm8/Arm")).GetJointWeightsPrimvar().Get()
    )
    assert np.abs(w.reshape(-1, 8).sum(axis=1) - 1).max() < 1e-6
    assert not stage.GetPrimAtPath("/Arm8/Animation")


def test_a_base_colour_texture_is_copied_next_to_the_asset(arm: Arm, tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), (200, 30, 40), np.uint8)).save(png, format="PNG")
    doc, blob = to_gltf(arm, texture_png=png.getvalue())
    src = write(doc, blob, tmp_path / "textured.gltf")
    report = import_asset(src, out_dir=tmp_path / "twins", name="Textured")
    stage = Usd.Stage.Open(str(report.asset))
    tex = UsdShade.Shader(stage.GetPrimAtPath("/Textured/Materials/Skin/DiffuseTexture"))
    path = tex.GetInput("file").Get()
    assert (
        path.path.startswith("./textures/")
        and Path(path.resolvedPath).read_bytes() == png.getvalue()
    )
    assert Path(path.resolvedPath).parent.parent == report.asset.parent
