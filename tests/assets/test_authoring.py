"""The shared authoring steps: what a Surface authors, meshes as rounded or exact, and
stages written reproducibly in both file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pxr import Sdf, Usd, UsdGeom, UsdShade, UsdSkel

from twinstudio.assets.authoring import (
    Surface,
    author_mesh,
    author_skin,
    author_uvs,
    bind_material,
    define_material,
    dielectric,
    new_stage,
    write_stage,
)
from twinstudio.render.scene.shading import surface_input

QUAD = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
COUNTS = np.array([4], dtype=np.int64)
INDICES = np.arange(4, dtype=np.int64)


def authored_inputs(stage: Usd.Stage, path: str) -> set[str]:
    shader = UsdShade.Shader(stage.GetPrimAtPath(f"{path}/Surface"))
    return {i.GetBaseName() for i in shader.GetInputs() if i.GetAttr().HasAuthoredValue()}


def test_a_surface_authors_only_what_it_says() -> None:
    stage, _ = new_stage("Look", "Scope")
    define_material(stage, "/Look/Plain", Surface((0.2, 0.3, 0.4), 0.9, metallic=1.0))
    assert authored_inputs(stage, "/Look/Plain") == {"diffuseColor", "roughness", "metallic"}
    define_material(stage, "/Look/Satin", dielectric((0.2, 0.0, 0.0), 0.6, clearcoat=0.15))
    assert authored_inputs(stage, "/Look/Satin") == {
        "diffuseColor", "roughness", "metallic", "useSpecularWorkflow", "ior", "clearcoat",
        "clearcoatRoughness",
    }  # fmt: skip
    cut_out = Surface((1.0, 1.0, 1.0), opacity=0.5, opacity_threshold=0.4, emissive=(1.0, 0, 0))
    define_material(stage, "/Look/Leaf", cut_out)
    assert {"opacity", "opacityThreshold", "emissiveColor"} <= authored_inputs(stage, "/Look/Leaf")
    shader = UsdShade.Shader(stage.GetPrimAtPath("/Look/Leaf/Surface"))
    assert shader.GetInput("opacity").Get() == 0.5


@pytest.mark.parametrize("tint", [False, True])
def test_a_texture_feeds_the_colour_replacing_or_tinted(tint: bool) -> None:
    stage, _ = new_stage("Look", "Scope")
    surface = Surface(
        (0.5, 0.25, 1.0),
        opacity=0.8,
        texture="./textures/cloth.png",
        texture_tint=tint,
        texture_alpha=True,
    )
    define_material(stage, "/Look/Cloth", surface)
    shader = UsdShade.Shader(stage.GetPrimAtPath("/Look/Cloth/Surface"))
    colour, ref = surface_input(shader, "diffuseColor")  # as the renderer reads it
    assert ref is not None and ref.asset.path == surface.texture and ref.uv_name == "st"
    assert tuple(colour) == surface.color
    _, alpha = surface_input(shader, "opacity")
    assert alpha is not None and alpha.channel == "a"
    texture = UsdShade.Shader(stage.GetPrimAtPath("/Look/Cloth/DiffuseTexture"))
    scale, fallback = texture.GetInput("scale"), texture.GetInput("fallback")
    assert bool(scale) == tint and bool(fallback) != tint
    assert tuple((scale if tint else fallback).Get())[:3] == surface.color


def test_meshes_are_rounded_unless_kept_exact() -> None:
    stage, _ = new_stage("Set", "Xform")
    noisy = QUAD + 1.234567e-6
    rounded = author_mesh(stage, "/Set/Rounded", noisy, COUNTS, INDICES, normals=QUAD)
    exact = author_mesh(stage, "/Set/Exact", noisy, COUNTS, INDICES, decimals=None)
    assert np.array_equal(np.asarray(rounded.GetPointsAttr().Get()), QUAD.astype(np.float32))
    assert np.array_equal(np.asarray(exact.GetPointsAttr().Get()), noisy.astype(np.float32))
    assert np.allclose(np.asarray(exact.GetExtentAttr().Get()), [noisy.min(0), noisy.max(0)])
    assert rounded.GetNormalsInterpolation() == UsdGeom.Tokens.vertex
    assert not exact.GetNormalsAttr().HasAuthoredValue()
    assert exact.GetSubdivisionSchemeAttr().Get() == UsdGeom.Tokens.none


def test_uvs_skin_and_binding() -> None:
    stage, _ = new_stage("Garment", "Xform")
    mesh = author_mesh(stage, "/Garment/Top", QUAD, COUNTS, INDICES, double_sided=True)
    author_uvs(mesh, np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1, 1, 0]))
    st = UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st")
    assert st.GetInterpolation() == UsdGeom.Tokens.faceVarying and st.IsIndexed()
    weights = np.array([[0.75, 0.25]] * 4)
    author_skin(mesh, np.array([[1, 0]] * 4), weights, ["Root", "Root/hip"])
    binding = UsdSkel.BindingAPI(mesh)
    assert binding.GetJointWeightsPrimvar().GetElementSize() == 2
    assert list(binding.GetJointsAttr().Get()) == ["Root", "Root/hip"]
    rigid = author_mesh(stage, "/Garment/Button", QUAD, COUNTS, INDICES)
    author_skin(rigid, np.array([[1]]), np.array([[1.0]]), rigid=True)
    ji = UsdSkel.BindingAPI(rigid).GetJointIndicesPrimvar()  # one influence for all points
    assert ji.GetInterpolation() == UsdGeom.Tokens.constant and list(ji.Get()) == [1]
    fabric = define_material(stage, "/Garment/Materials/Fabric", Surface((0.5, 0.5, 0.5)))
    bind_material(mesh.GetPrim(), fabric)
    bound, _ = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()
    assert bound.GetPath() == fabric.GetPath()


@pytest.mark.parametrize("suffix", [".usda", ".usdc"])
def test_a_stage_is_written_the_same_twice(tmp_path: Path, suffix: str) -> None:
    stage, _ = new_stage("Prop", "Xform")
    author_mesh(stage, "/Prop/Box", QUAD, COUNTS, INDICES)
    first, second = tmp_path / f"a{suffix}", tmp_path / "again" / f"b{suffix}"
    write_stage(stage, first)
    write_stage(stage, second)
    assert first.read_bytes() == second.read_bytes()
    layer = Sdf.Layer.FindOrOpen(str(first))
    assert layer.defaultPrim == "Prop"
    reopened = Usd.Stage.Open(layer)
    assert UsdGeom.GetStageMetersPerUnit(reopened) == 1.0
    assert UsdGeom.GetStageUpAxis(reopened) == UsdGeom.Tokens.y
    assert reopened.GetPrimAtPath("/Prop/Box").IsA(UsdGeom.Mesh)
