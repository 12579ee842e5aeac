"""USD/USDZ twins keep their UsdSkel data and come out in metres, Y up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pxr import Gf, Sdf, Usd, UsdShade, UsdSkel, Vt

from assets.usd_figure import HEIGHT_CM, RADIUS_CM, TEXTURE_RGB, package, write_figure
from assets.usd_posing import open_asset, set_rotations, skinned_world_points
from twinstudio.assets.importers import import_asset
from twinstudio.assets.importers.checks import check_asset

SKEL = "/Figure/Source/Figure/Skel"
BEND = Gf.Quatf(Gf.Rotation(Gf.Vec3d(0, 0, 1), 35).GetQuat())


def cm_z_up_to_studio(p: np.ndarray) -> np.ndarray:
    """What the import must do to every source point: cm -> m, Z up -> Y up."""
    return 0.01 * np.c_[p[:, 0], p[:, 2], -p[:, 1]]


def posed_source(src: Path, spine: Gf.Quatf) -> np.ndarray:
    """The source figure's body with its Spine joint turned to ``spine``, in source units."""
    stage = open_asset(src)
    skel = UsdSkel.Skeleton(stage.GetPrimAtPath("/Figure/Skel"))
    t, r, s = UsdSkel.DecomposeTransforms(skel.GetRestTransformsAttr().Get())
    anim = UsdSkel.Animation.Define(stage, "/Figure/TestPose")
    anim.CreateJointsAttr(skel.GetJointsAttr().Get())
    r = list(r)
    r[1] = spine
    anim.CreateTranslationsAttr(t)
    anim.CreateRotationsAttr(Vt.QuatfArray(r))
    anim.CreateScalesAttr(s)
    UsdSkel.BindingAPI(skel.GetPrim()).GetAnimationSourceRel().SetTargets([anim.GetPath()])
    return skinned_world_points(stage)["Body"]


def test_a_cm_z_up_twin_becomes_metres_y_up_and_keeps_its_skin(tmp_path: Path) -> None:
    src = write_figure(tmp_path / "figure.usda")
    report = import_asset(src, out_dir=tmp_path / "twins", name="Figure")
    assert (report.meters_per_unit, report.up_axis, report.source_format) == (0.01, "Z", "usd")
    assert "scaled by 0.01 (source units -> metres)" in report.notes
    assert "rotated from Z up to Y up" in report.notes

    stage = open_asset(report.asset)
    assert (stage.GetMetadata("metersPerUnit"), stage.GetMetadata("upAxis")) == (1.0, "Y")
    body = skinned_world_points(stage)["Body"]
    lo, hi = body.min(axis=0), body.max(axis=0)
    assert hi - lo == pytest.approx(
        [2 * RADIUS_CM / 100, HEIGHT_CM / 100, 2 * RADIUS_CM / 100], abs=1e-4
    )
    assert lo[1] == pytest.approx(0.0, abs=1e-5)  # still standing on the floor

    # UsdSkel kept as is: the same joints, bind transforms and skin arrays as the source.
    source = Usd.Stage.Open(str(src))
    for attr in ("joints", "bindTransforms", "restTransforms"):
        assert (
            stage.GetPrimAtPath(SKEL).GetAttribute(attr).Get()
            == source.GetPrimAtPath("/Figure/Skel").GetAttribute(attr).Get()
        )
    for attr in ("primvars:skel:jointIndices", "primvars:skel:jointWeights"):
        got = stage.GetPrimAtPath("/Figure/Source/Figure/Body").GetAttribute(attr).Get()
        assert got == source.GetPrimAtPath("/Figure/Body").GetAttribute(attr).Get()
    # The source's time-sampled animation stays; a rest Pose is what the studio edits.
    assert stage.GetPrimAtPath("/Figure/Source/Figure/Walk").IsA(UsdSkel.Animation)
    binding = UsdSkel.BindingAPI(stage.GetPrimAtPath(SKEL))
    assert binding.GetAnimationSourceRel().GetTargets() == ["/Figure/Pose"]
    check = check_asset(stage.GetDefaultPrim(), kind="twin")
    assert check.hi[1] - check.lo[1] == pytest.approx(1.70, abs=1e-4)


def test_the_imported_twin_poses_like_its_source(tmp_path: Path) -> None:
    src = write_figure(tmp_path / "figure.usda")
    report = import_asset(src, out_dir=tmp_path / "twins", name="Figure")
    source = Usd.Stage.Open(str(src))
    rest = source.GetPrimAtPath("/Figure/Skel").GetAttribute("restTransforms").Get()
    rest_rotation = UsdSkel.DecomposeTransforms(rest)[1][1]
    spine = BEND * rest_rotation
    expected = cm_z_up_to_studio(posed_source(src, spine))
    assert np.abs(expected - cm_z_up_to_studio(posed_source(src, rest_rotation))).max() > 0.1

    stage = open_asset(report.asset)
    set_rotations(stage, "/Figure/Pose", {"Spine": spine})
    assert np.abs(skinned_world_points(stage)["Body"] - expected).max() < 1e-4


def test_a_usdz_with_a_texture_is_unpacked_into_a_self_contained_asset(tmp_path: Path) -> None:
    usdz = package(write_figure(tmp_path / "src" / "figure.usda", texture=True))
    for leftover in (tmp_path / "src").iterdir():  # only the package is left
        if leftover != usdz:
            leftover.unlink()
    report = import_asset(usdz, out_dir=tmp_path / "twins", name="Packed")
    assert report.source_format == "usdz"
    assert sorted(p.name for p in report.asset.parent.rglob("*")) == [
        "Packed.usdc", "skin.png", "textures",
    ]  # fmt: skip
    stage = Usd.Stage.Open(str(report.asset))
    tex = UsdShade.Shader(stage.GetPrimAtPath("/Packed/Source/Figure/Looks/Skin/Texture"))
    path: Sdf.AssetPath = tex.GetInput("file").Get()
    assert path.path == "./textures/skin.png"
    assert Image.open(path.resolvedPath).getpixel((0, 0)) == TEXTURE_RGB
    body = skinned_world_points(open_asset(report.asset))["Body"]
    assert body.max(axis=0)[1] - body.min(axis=0)[1] == pytest.approx(1.70, abs=1e-4)


def test_a_metre_y_up_file_is_left_unscaled(tmp_path: Path) -> None:
    src = write_figure(tmp_path / "figure.usda", meters_per_unit=1.0, up="Y")
    with pytest.raises(Exception) as refused:  # a 170 m tall tube is not a person
        import_asset(src, out_dir=tmp_path / "twins", name="Huge")
    assert getattr(refused.value, "code", None) == "size_implausible"
    report = import_asset(src, out_dir=tmp_path / "twins", name="Told", units="cm", up="z")
    assert report.meters_per_unit == 0.01 and report.up_axis == "Z"
