"""An OBJ garment (cm, Z up) is fitted and skinned to a twin and follows its poses."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pxr import Gf, Usd, UsdGeom, UsdSkel, Vt

from assets.usd_posing import open_asset, set_rotations, skinned_world_points
from twinstudio.assets.importers import ImportRefused, import_asset
from twinstudio.cli import main

JOINT_Y = (0.9, 1.1, 1.3)
BODY_RADIUS = 0.15
GARMENT_RADIUS = 0.175
REST_BEND_DEG = 10.0  # the body's rest pose leans the spine: rest != bind
Faces = list[tuple[int, int, int, int]]
Setup = tuple[Path, Path, np.ndarray]  # twin, garment OBJ, garment points at rest


def _bend(deg: float) -> Gf.Quatf:
    return Gf.Quatf(Gf.Rotation(Gf.Vec3d(1, 0, 0), deg).GetQuat())


def _tube(radius: float, y0: float, y1: float, rings: int, sides: int) -> tuple[np.ndarray, Faces]:
    pts = [
        (radius * math.cos(2 * math.pi * k / sides), y0 + (y1 - y0) * i / (rings - 1),
         radius * math.sin(2 * math.pi * k / sides))
        for i in range(rings) for k in range(sides)
    ]  # fmt: skip
    faces = [
        (i * sides + k, i * sides + (k + 1) % sides, (i + 1) * sides + (k + 1) % sides,
         (i + 1) * sides + k)
        for i in range(rings - 1) for k in range(sides)
    ]  # fmt: skip
    return np.asarray(pts), faces


def _weights(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.zeros((len(y), 2), dtype=int)
    w = np.zeros((len(y), 2))
    for n, v in enumerate(y):
        j = 0 if v < JOINT_Y[1] else 1
        u = float(np.clip((v - JOINT_Y[j]) / (JOINT_Y[j + 1] - JOINT_Y[j]), 0, 1))
        idx[n], w[n] = (j, j + 1), (1 - u, u)
    return idx, w


def _skinned_mesh(stage: Usd.Stage, path: str, pts: np.ndarray, faces: Faces) -> None:
    mesh = UsdGeom.Mesh.Define(stage, path)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(pts.astype(np.float32)))
    mesh.CreateFaceVertexCountsAttr([4] * len(faces))
    mesh.CreateFaceVertexIndicesAttr([i for f in faces for i in f])
    idx, w = _weights(pts[:, 1])
    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    binding.CreateJointIndicesPrimvar(False, 2).Set(Vt.IntArray([int(i) for i in idx.ravel()]))
    binding.CreateJointWeightsPrimvar(False, 2).Set(Vt.FloatArray([float(x) for x in w.ravel()]))


def write_torso(path: Path) -> Path:
    """A twin: a tube torso skinned to Hips/Spine/Chest, metres, Y up, SkelRoot at the root."""
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, "Y")
    root = UsdSkel.Root.Define(stage, "/Torso")
    stage.SetDefaultPrim(root.GetPrim())
    skel = UsdSkel.Skeleton.Define(stage, "/Torso/Skel")
    skel.CreateJointsAttr(["Hips", "Hips/Spine", "Hips/Spine/Chest"])
    bind = [Gf.Matrix4d(1.0).SetTranslate(Gf.Vec3d(0, y, 0)) for y in JOINT_Y]
    skel.CreateBindTransformsAttr(Vt.Matrix4dArray(bind))
    rest = [
        bind[0],
        Gf.Matrix4d(1.0).SetTranslate(Gf.Vec3d(0, 0.2, 0)),
        bind[1] * bind[0].GetInverse(),
    ]
    rest[1].SetRotateOnly(Gf.Rotation(Gf.Vec3d(1, 0, 0), REST_BEND_DEG))
    skel.CreateRestTransformsAttr(Vt.Matrix4dArray(rest))
    anim = UsdSkel.Animation.Define(stage, "/Torso/Pose")
    anim.CreateJointsAttr(skel.GetJointsAttr().Get())
    t, r, s = UsdSkel.DecomposeTransforms(Vt.Matrix4dArray(rest))
    anim.CreateTranslationsAttr(t)
    anim.CreateRotationsAttr(r)
    anim.CreateScalesAttr(s)
    UsdSkel.BindingAPI.Apply(skel.GetPrim()).CreateAnimationSourceRel().SetTargets([anim.GetPath()])
    UsdSkel.BindingAPI.Apply(root.GetPrim()).CreateSkeletonRel().SetTargets([skel.GetPath()])
    pts, faces = _tube(BODY_RADIUS, 0.75, 1.5, rings=31, sides=24)
    _skinned_mesh(stage, "/Torso/Body", pts, faces)
    stage.GetRootLayer().Save()
    return path


def garment_at_rest(twin: Path) -> tuple[np.ndarray, Faces]:
    """A sleeveless top modelled on the twin as it stands at rest (a finer, larger tube
    posed with the body's rest pose), in metres, Y up."""
    pts, faces = _tube(GARMENT_RADIUS, 0.95, 1.45, rings=26, sides=30)
    stage = open_asset(twin)
    _skinned_mesh(stage, "/Torso/Modelling", pts, faces)
    return skinned_world_points(stage)["Modelling"], faces


def write_obj(path: Path, pts_m_y_up: np.ndarray, faces: Faces) -> Path:
    """As a Z-up, centimetre tool would save it, with UVs."""
    p = 100 * np.c_[pts_m_y_up[:, 0], -pts_m_y_up[:, 2], pts_m_y_up[:, 1]]
    lines = ["# test garment", "mtllib top.mtl", "o Top"]
    lines += [f"v {x:.7f} {y:.7f} {z:.7f}" for x, y, z in p]
    lines += [f"vt {i / len(p):.6f} 0.5" for i in range(len(p))]
    lines += ["usemtl Cotton"]
    lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in f) for f in faces]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    twin = write_torso(tmp_path / "torso.usda")
    rest, faces = garment_at_rest(twin)
    obj = write_obj(tmp_path / "top.obj", rest, faces)
    return twin, obj, rest


def posed(stage: Usd.Stage) -> None:
    set_rotations(stage, "/Torso/Pose", {"Spine": _bend(REST_BEND_DEG + 30), "Chest": _bend(25)})


def outside_distance(garment: np.ndarray, body: np.ndarray, body_normals: np.ndarray) -> np.ndarray:
    """Signed distance of each garment point from the body surface (< 0: inside)."""
    d = np.linalg.norm(garment[:, None] - body[None], axis=2)
    near = d.argmin(axis=1)
    return np.einsum("ij,ij->i", garment - body[near], body_normals[near])


def tube_normals(points: np.ndarray, sides: int = 24) -> np.ndarray:
    """Outward normals of the (posed) body tube: from the ring's centre to each point."""
    rings = points.reshape(-1, sides, 3)
    n = rings - rings.mean(axis=1, keepdims=True)
    return (n / np.linalg.norm(n, axis=2, keepdims=True)).reshape(-1, 3)


def test_an_obj_garment_is_skinned_and_follows_the_body(setup: Setup, tmp_path: Path) -> None:
    twin, obj, rest = setup
    report = import_asset(
        obj, kind="garment", out_dir=tmp_path / "garments", name="Top", body=twin,
        units="cm", up="z",
    )  # fmt: skip
    assert (report.kind, report.source_format, report.joints, report.points) == (
        "garment", "obj", 3, len(rest),
    )  # fmt: skip
    assert any("OBJ materials" in n for n in report.notes)
    stage = Usd.Stage.Open(str(report.asset))
    mesh = stage.GetPrimAtPath("/Top/Top")
    binding = UsdSkel.BindingAPI(mesh)
    k = binding.GetJointIndicesPrimvar().GetElementSize()
    w = np.asarray(binding.GetJointWeightsPrimvar().Get()).reshape(-1, k)
    assert len(w) == len(rest) and (w.sum(axis=1) == pytest.approx(1.0, abs=1e-6))
    assert (w.max(axis=1) > 0).all()  # every vertex weighted
    assert list(binding.GetJointsAttr().Get()) == ["Hips", "Hips/Spine", "Hips/Spine/Chest"]
    assert UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").GetInterpolation() == "faceVarying"

    # Worn: the garment under the twin, as a wardrobe look places it.
    shot = Usd.Stage.CreateInMemory()
    shot.DefinePrim("/Torso").GetReferences().AddReference(str(twin))
    UsdGeom.Xform.Define(shot, "/Torso/Wardrobe")
    shot.DefinePrim("/Torso/Wardrobe/Top").GetReferences().AddReference(str(report.asset))
    at_rest = skinned_world_points(shot)
    assert np.abs(at_rest["Top"] - rest).max() < 1e-4  # exactly where it was modelled

    posed(shot)
    worn = skinned_world_points(shot)
    body = worn["Body"]
    gap = outside_distance(worn["Top"], body, tube_normals(body))
    assert gap.min() > 0.002, gap.min()  # every vertex stays outside the body (25 mm at rest)
    assert np.abs(worn["Top"] - rest).max() > 0.1  # and the pose did move it
    # The control: a garment that did not follow the pose is pierced by the body.
    assert outside_distance(rest, body, tube_normals(body)).min() < 0


def test_the_cli_imports_a_garment(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, obj, _ = setup
    out = tmp_path / "garments"
    args = ["import", "garment", str(obj), "--twin", str(twin), "--name", "Top", "--out", str(out)]
    assert main([*args, "--units", "cm", "--up", "z"]) == 0
    printed = capsys.readouterr().out
    assert "imported garment 'Top' from top.obj (obj)" in printed
    assert "skinned to torso.usda" in printed
    assert (out / "Top" / "Top.usdc").is_file()
    assert main([*args, "--units", "cm", "--up", "z"]) == 2  # already there
    assert "refused (asset_exists)" in capsys.readouterr().err


def test_a_garment_in_the_wrong_units_or_axis_is_refused(setup: Setup, tmp_path: Path) -> None:
    twin, obj, rest = setup
    out = tmp_path / "garments"
    read_as_metres = 100 * float(np.ptp(rest, axis=0).max())
    with pytest.raises(ImportRefused) as refused:
        import_asset(obj, kind="garment", out_dir=out, name="Top", body=twin, up="z")
    assert refused.value.code == "size_implausible"
    assert f"{read_as_metres:.3g} m at its largest side" in refused.value.message
    with pytest.raises(ImportRefused) as refused:
        import_asset(obj, kind="garment", out_dir=out, name="Top", body=twin, units="cm")
    assert refused.value.code == "garment_does_not_fit"
    assert "does not fit the twin torso.usda" in refused.value.message
    assert "check units (--units) and up axis (--up)" in refused.value.message
    assert not out.exists()
