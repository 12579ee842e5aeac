"""The set assets: generated, light, recolourable through one discoverable shader, and the
loft's sun really comes in through its window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pxr import Gf, Usd, UsdGeom, UsdLux, UsdShade

from twinstudio.assets.sets import (
    BACKDROP_KEY,
    PAPER_COLOURS,
    SET_FILES,
    build_sets,
)

SETS = Path(__file__).resolve().parents[2] / "stages" / "sets"


def test_the_sets_are_up_to_date(tmp_path: Path) -> None:
    build_sets(tmp_path)
    for name in SET_FILES.values():
        assert (tmp_path / name).read_text() == (SETS / name).read_text(), (
            f"stages/sets/{name} is stale: run `python -m twinstudio.assets.sets stages/sets`"
        )


@pytest.mark.parametrize("name", sorted(SET_FILES.values()))
def test_each_set_is_a_small_clean_component(name: str) -> None:
    path = SETS / name
    assert path.stat().st_size < 80_000
    stage = Usd.Stage.Open(str(path))
    assert not stage.GetCompositionErrors()
    root = stage.GetDefaultPrim()
    assert Usd.ModelAPI(root).GetKind() == "component" and root.GetMetadata("documentation")
    assert UsdGeom.GetStageUpAxis(stage) == "Y" and UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    for prim in stage.Traverse():
        if prim.IsA(UsdGeom.Mesh):
            material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
            assert material, f"{prim.GetPath()} has no material"


def backdrop(stage: Usd.Stage) -> UsdShade.Shader:
    root = stage.GetDefaultPrim()
    shader = UsdShade.Shader(root.GetPrimAtPath(root.GetCustomData()[BACKDROP_KEY]))
    assert shader and shader.GetIdAttr().Get() == "UsdPreviewSurface"
    return shader


@pytest.mark.parametrize("name", ["cyclorama.usda", "paper.usda"])
def test_the_backdrop_colour_is_one_marked_shader_input(name: str) -> None:
    stage = Usd.Stage.Open(str(SETS / name))
    colour = backdrop(stage).GetInput("diffuseColor").Get()
    assert colour is not None and min(colour) >= 0.0
    surfaces = {  # every big surface the camera sees as backdrop uses that material
        str(UsdShade.MaterialBindingAPI(p).ComputeBoundMaterial()[0].GetPath())
        for p in stage.Traverse()
        if p.IsA(UsdGeom.Mesh) and p.GetName() in ("Cove", "Sweep")
    }
    assert surfaces == {str(backdrop(stage).GetPrim().GetParent().GetPath())}


def test_paper_rolls_are_a_variant_set() -> None:
    stage = Usd.Stage.Open(str(SETS / "paper.usda"))
    vset = stage.GetDefaultPrim().GetVariantSets().GetVariantSet("paper")
    assert set(vset.GetVariantNames()) == set(PAPER_COLOURS) and len(PAPER_COLOURS) >= 4
    seen = set()
    for name, colour in PAPER_COLOURS.items():
        vset.SetVariantSelection(name)
        value = tuple(backdrop(stage).GetInput("diffuseColor").Get())
        assert value == pytest.approx(colour)
        seen.add(value)
    assert len(seen) == len(PAPER_COLOURS)
    # The sweep meets the floor in a curve: its lowest row is on the floor, its top is high.
    sweep = np.array(UsdGeom.Mesh(stage.GetPrimAtPath("/Paper/Sweep")).GetPointsAttr().Get())
    assert sweep[:, 1].min() == pytest.approx(0.0) and sweep[:, 1].max() > 2.5
    assert len(np.unique(np.round(sweep[:, 2], 3))) > 10


def test_the_loft_sun_shines_through_the_window_onto_the_twin() -> None:
    stage = Usd.Stage.Open(str(SETS / "loft.usda"))
    sun = stage.GetPrimAtPath("/Loft/Sun")
    assert sun.IsA(UsdLux.DistantLight)
    travel = UsdGeom.Xformable(sun).ComputeLocalToWorldTransform(0).TransformDir(Gf.Vec3d(0, 0, -1))
    # From the twin's chest back towards the sun, the ray leaves through the opening of the
    # window wall, not through plaster.
    walls = np.array(UsdGeom.Mesh(stage.GetPrimAtPath("/Loft/Walls")).GetPointsAttr().Get())
    side_x = walls[:, 0].min()
    chest = np.array([0.0, 1.3, 0.0])
    back = -np.array(travel)
    t = (side_x - chest[0]) / back[0]
    assert t > 0
    hit = chest + t * back
    frame = np.array(UsdGeom.Mesh(stage.GetPrimAtPath("/Loft/Window")).GetPointsAttr().Get())
    assert frame[:, 1].min() < hit[1] < frame[:, 1].max()
    assert frame[:, 2].min() < hit[2] < frame[:, 2].max()
    assert not stage.GetPrimAtPath("/Loft").GetCustomData().get(BACKDROP_KEY)
