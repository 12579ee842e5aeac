"""Studio sets: an infinity cove, seamless paper on stands, and a sunlit loft corner.

Each set is a small usda asset whose root prim is a ``component`` model. A set with a
backdrop names its backdrop shader in ``customData["twinstudio:backdrop"]`` (a path
relative to the set's root, ``Materials/Backdrop/Surface``): that shader's
``inputs:diffuseColor`` is the one colour a stylist changes to recolour the backdrop.

Usage: ``python -m twinstudio.assets.sets stages/sets`` writes all three.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pxr import Gf, Kind, Usd, UsdGeom, UsdLux, UsdShade, Vt

from twinstudio.assets.authoring import (
    FloatArray,
    IntArray,
    Surface,
    Vec3,
    add_boxes,
    author_mesh,
    author_uvs,
    bind_material,
    define_material,
    new_stage,
    set_doc,
    write_stage,
)

BACKDROP_KEY = "twinstudio:backdrop"
BACKDROP_SHADER = "Materials/Backdrop/Surface"
BACKDROP_COLOR: Vec3 = (0.72, 0.72, 0.72)
SET_FILES = {"cyclorama": "cyclorama.usda", "paper": "paper.usda", "loft": "loft.usda"}

# Seamless paper colours (linear RGB), named the way the rolls are sold.
PAPER_COLOURS: dict[str, Vec3] = {
    "super_white": (0.86, 0.86, 0.84),
    "fashion_grey": (0.36, 0.36, 0.36),
    "thunder_grey": (0.12, 0.12, 0.125),
    "black": (0.02, 0.02, 0.02),
    "primary_red": (0.55, 0.03, 0.03),
    "blue_mist": (0.3, 0.42, 0.58),
    "sand": (0.6, 0.48, 0.32),
}
DEFAULT_PAPER = "fashion_grey"


@dataclass(frozen=True)
class CoveSpec:
    """A floor that sweeps up into a back wall (at z = back_z); metres."""

    width: float = 8.0
    depth: float = 6.0
    height: float = 4.0
    radius: float = 1.0
    back_z: float = -2.5
    step: float = 0.5
    arc_segments: int = 12


PAPER_SWEEP = CoveSpec(width=2.72, depth=5.0, height=2.7, radius=0.6, back_z=-2.2, step=0.25)


def _profile(spec: CoveSpec) -> tuple[FloatArray, FloatArray]:
    """(y, z) profile points from the front floor edge up the wall, and their normals."""
    front_z = spec.back_z + spec.depth
    foot_z = spec.back_z + spec.radius
    n_floor = max(1, round((front_z - foot_z) / spec.step))
    floor_z = np.linspace(front_z, foot_z, n_floor + 1)
    phi = np.linspace(0.0, 0.5 * math.pi, spec.arc_segments + 1)[1:]
    n_wall = max(1, round((spec.height - spec.radius) / spec.step))
    wall_y = np.linspace(spec.radius, spec.height, n_wall + 1)[1:]
    y = np.concatenate([np.zeros_like(floor_z), spec.radius * (1 - np.cos(phi)), wall_y])
    z = np.concatenate(
        [floor_z, foot_z - spec.radius * np.sin(phi), np.full_like(wall_y, spec.back_z)]
    )
    ny = np.concatenate([np.ones_like(floor_z), np.cos(phi), np.zeros_like(wall_y)])
    nz = np.concatenate([np.zeros_like(floor_z), np.sin(phi), np.ones_like(wall_y)])
    return np.stack([y, z], axis=1), np.stack([ny, nz], axis=1)


def cyclorama_mesh(
    spec: CoveSpec = CoveSpec(),
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray]:
    """Floor + cove + back wall as one grid: points, normals, st, counts, indices."""
    prof, prof_n = _profile(spec)
    n_x = max(1, round(spec.width / spec.step))
    xs = np.linspace(-0.5 * spec.width, 0.5 * spec.width, n_x + 1)
    rows, cols = len(prof), len(xs)
    points = np.zeros((rows, cols, 3))
    points[:, :, 0] = xs[None, :]
    points[:, :, 1] = prof[:, 0:1]
    points[:, :, 2] = prof[:, 1:2]
    normals = np.zeros_like(points)
    normals[:, :, 1] = prof_n[:, 0:1]
    normals[:, :, 2] = prof_n[:, 1:2]
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(prof, axis=0), axis=1))])
    st = np.zeros((rows, cols, 2))
    st[:, :, 0] = ((xs - xs[0]) / spec.width)[None, :]
    st[:, :, 1] = (arc / arc[-1])[:, None]
    r = np.arange(rows - 1)[:, None]
    c = np.arange(cols - 1)[None, :]
    a = r * cols + c
    # Counter-clockwise seen from the studio side, so the faces point at the camera.
    quads = np.stack([a, a + 1, a + cols + 1, a + cols], axis=2).reshape(-1, 4)
    counts = np.full(len(quads), 4, dtype=np.int64)
    return (
        points.reshape(-1, 3),
        normals.reshape(-1, 3),
        st.reshape(-1, 2),
        counts,
        quads.reshape(-1).astype(np.int64),
    )


def _sweep(stage: Usd.Stage, path: str, spec: CoveSpec, color: Vec3) -> UsdGeom.Mesh:
    points, normals, st, counts, indices = cyclorama_mesh(spec)
    mesh = author_mesh(stage, path, points, counts, indices, normals=normals, display_color=color)
    author_uvs(mesh, st, decimals=5)
    return mesh


def _set_root(name: str, doc: str) -> tuple[Usd.Stage, Usd.Prim]:
    stage, root = new_stage(name, "Xform")
    Usd.ModelAPI(root).SetKind(Kind.Tokens.component)
    set_doc(root, doc, name=name.lower(), version="1")
    stage.DefinePrim(f"/{name}/Materials", "Scope")
    return stage, root


def _mark_backdrop(root: Usd.Prim) -> None:
    custom = dict(root.GetCustomData())
    custom[BACKDROP_KEY] = BACKDROP_SHADER
    root.SetCustomData(custom)


# -- the infinity cove -------------------------------------------------------------------


def build_cyclorama(path: Path, spec: CoveSpec = CoveSpec()) -> None:
    """Write the infinity cove (defaultPrim /Cyclorama) to ``path``."""
    stage, root = _set_root(
        "Cyclorama",
        f"Infinity cove: {spec.width:g} m wide, {spec.depth:g} m deep, {spec.height:g} m tall; "
        f"floor, {spec.radius:g} m cove and back wall (at z = {spec.back_z:g}) in one mesh. "
        f"Recolour it with {BACKDROP_SHADER}.inputs:diffuseColor.",
    )
    _mark_backdrop(root)
    mesh = _sweep(stage, "/Cyclorama/Cove", spec, BACKDROP_COLOR)
    backdrop = define_material(stage, "/Cyclorama/Materials/Backdrop", Surface(BACKDROP_COLOR, 0.9))
    bind_material(mesh.GetPrim(), backdrop)
    write_stage(stage, path)


# -- seamless paper on stands ------------------------------------------------------------


def _stand(x: float, top: float, back_z: float) -> list[tuple[Vec3, Vec3]]:
    """A background stand: a pole, a crossed foot, and an arm that carries the roll's end."""
    pole = 0.02
    return [
        ((x - pole, 0.0, back_z - pole), (x + pole, top + 0.12, back_z + pole)),
        ((x - 0.45, 0.0, back_z - 0.015), (x + 0.45, 0.03, back_z + 0.015)),
        ((x - 0.015, 0.0, back_z - 0.45), (x + 0.015, 0.03, back_z + 0.45)),
        ((x - pole, top - 0.02, back_z - pole), (x + pole, top + 0.02, back_z + 0.09)),
    ]


def build_paper(path: Path, spec: CoveSpec = PAPER_SWEEP) -> None:
    """Write seamless paper on two stands (defaultPrim /Paper) with a ``paper`` colour variant."""
    stage, root = _set_root(
        "Paper",
        f"Seamless paper: a {spec.width:g} m roll on two stands, hanging at z = {spec.back_z:g} "
        f"and sweeping {spec.depth - spec.radius:g} m onto the studio floor. The 'paper' "
        f"variant picks the roll; {BACKDROP_SHADER}.inputs:diffuseColor recolours it.",
    )
    _mark_backdrop(root)
    roll_z = spec.back_z + 0.06  # the paper leaves the roll at its back, hanging plumb
    top = spec.height + 0.06
    half = spec.width / 2
    sweep = _sweep(stage, "/Paper/Sweep", spec, PAPER_COLOURS[DEFAULT_PAPER])
    backdrop = define_material(
        stage, "/Paper/Materials/Backdrop", Surface(PAPER_COLOURS[DEFAULT_PAPER], 0.85)
    )
    bind_material(sweep.GetPrim(), backdrop)
    roll = UsdGeom.Cylinder.Define(stage, "/Paper/Roll")
    roll.CreateAxisAttr(UsdGeom.Tokens.x)
    roll.CreateRadiusAttr(0.06)
    roll.CreateHeightAttr(spec.width)
    roll.CreateExtentAttr([(-half, -0.06, -0.06), (half, 0.06, 0.06)])
    UsdGeom.XformCommonAPI(roll).SetTranslate(Gf.Vec3d(0.0, top, roll_z))
    bind_material(roll.GetPrim(), backdrop)

    metal = define_material(
        stage, "/Paper/Materials/Stand", Surface((0.05, 0.05, 0.05), 0.4, metallic=1.0)
    )
    stands = _stand(-half - 0.1, top, roll_z) + _stand(half + 0.1, top, roll_z)
    stands.append(
        ((-half - 0.1, top - 0.012, roll_z - 0.012), (half + 0.1, top + 0.012, roll_z + 0.012))
    )
    add_boxes(stage, "/Paper/Stands", stands, metal, (0.05, 0.05, 0.05))
    floor = define_material(stage, "/Paper/Materials/Floor", Surface((0.16, 0.16, 0.17), 0.7))
    add_boxes(
        stage,
        "/Paper/Floor",
        [((-6.0, -0.03, -4.0), (6.0, -0.004, 6.0))],
        floor,
        (0.16, 0.16, 0.17),
    )
    wall = define_material(stage, "/Paper/Materials/Wall", Surface((0.09, 0.09, 0.1), 0.9))
    add_boxes(
        stage, "/Paper/Wall", [((-6.0, 0.0, -4.2), (6.0, 5.0, -4.0))], wall, (0.09, 0.09, 0.1)
    )

    # The roll's colour lives only in the variants (a local opinion would hide them).
    surface = UsdShade.Shader(stage.GetPrimAtPath(f"/Paper/{BACKDROP_SHADER}"))
    surface.GetInput("diffuseColor").GetAttr().Clear()
    sweep.GetDisplayColorAttr().Clear()
    vset = root.GetVariantSets().AddVariantSet("paper")
    for name, colour in PAPER_COLOURS.items():
        vset.AddVariant(name)
        vset.SetVariantSelection(name)
        with vset.GetVariantEditContext():
            surface.GetInput("diffuseColor").Set(Gf.Vec3f(*colour))
            sweep.GetDisplayColorAttr().Set(Vt.Vec3fArray([Gf.Vec3f(*colour)]))
    vset.SetVariantSelection(DEFAULT_PAPER)
    write_stage(stage, path)


# -- a sunlit loft corner ----------------------------------------------------------------


@dataclass(frozen=True)
class LoftSpec:
    """A room corner: floor, a back wall at z = back_z and a window wall at x = side_x."""

    back_z: float = -2.6
    side_x: float = -2.4
    height: float = 3.4
    thickness: float = 0.15
    window_z: tuple[float, float] = (-2.0, -0.2)
    window_y: tuple[float, float] = (0.55, 2.75)
    sun_direction: Vec3 = (0.78, -0.42, 0.46)  # where the sunlight travels


def _aim(direction: Vec3) -> Vec3:
    """rotateXYZ (degrees) that turns a light's -Z towards ``direction``."""
    d = Gf.Vec3d(*direction).GetNormalized()
    rotation = Gf.Rotation(Gf.Vec3d(0, 0, -1), d)
    # rotateXYZ applies X first: decompose in reverse order (as the stage editor does)
    z, y, x = rotation.Decompose(Gf.Vec3d.ZAxis(), Gf.Vec3d.YAxis(), Gf.Vec3d.XAxis())
    return (round(x, 3), round(y, 3), round(z, 3))


def build_loft(path: Path, spec: LoftSpec = LoftSpec()) -> None:
    """Write the loft corner (defaultPrim /Loft): plank floor, plaster walls, a big window
    with mullions, a bench and an apple box, and the sun coming in through the window."""
    stage, _ = _set_root(
        "Loft",
        "A sunlit loft corner: plank floor, plaster back wall and a window wall on camera-left "
        "with the afternoon sun slanting through it; a bench and an apple box.",
    )
    x0, t, h = spec.side_x, spec.thickness, spec.height
    (wz0, wz1), (wy0, wy1) = spec.window_z, spec.window_y
    wood = define_material(stage, "/Loft/Materials/Floor", Surface((0.42, 0.28, 0.16), 0.55))
    add_boxes(
        stage,
        "/Loft/Floor",
        [((x0, -0.05, spec.back_z), (4.5, 0.0, 6.0))],
        wood,
        (0.42, 0.28, 0.16),
    )
    plaster = define_material(stage, "/Loft/Materials/Plaster", Surface((0.8, 0.78, 0.74), 0.9))
    back = ((x0, 0.0, spec.back_z - t), (4.5, h, spec.back_z))
    side = [  # the window wall, around its opening
        ((x0 - t, 0.0, spec.back_z - t), (x0, h, wz0)),
        ((x0 - t, 0.0, wz1), (x0, h, 6.0)),
        ((x0 - t, 0.0, wz0), (x0, wy0, wz1)),
        ((x0 - t, wy1, wz0), (x0, h, wz1)),
    ]
    add_boxes(stage, "/Loft/Walls", [back, *side], plaster, (0.8, 0.78, 0.74))
    steel = define_material(
        stage, "/Loft/Materials/WindowFrame", Surface((0.04, 0.04, 0.04), 0.5, metallic=1.0)
    )
    bar = 0.025
    mid_z = (wz0 + wz1) / 2
    mullions = [((x0 - t, wy0, mid_z - bar), (x0, wy1, mid_z + bar))]
    mullions += [
        ((x0 - t, y - bar, wz0), (x0, y + bar, wz1))
        for y in np.linspace(wy0, wy1, 4)[1:-1].round(3).tolist()
    ]
    add_boxes(stage, "/Loft/Window", mullions, steel, (0.04, 0.04, 0.04))
    oak = define_material(stage, "/Loft/Materials/Bench", Surface((0.3, 0.19, 0.1), 0.5))
    bz0, bz1 = spec.back_z + 0.08, spec.back_z + 0.43
    bench = [((0.7, 0.42, bz0), (2.3, 0.47, bz1))]
    bench += [((x, 0.0, bz0 + 0.03), (x + 0.06, 0.42, bz1 - 0.03)) for x in (0.78, 2.16)]
    add_boxes(stage, "/Loft/Bench", bench, oak, (0.3, 0.19, 0.1))
    pine = define_material(stage, "/Loft/Materials/AppleBox", Surface((0.66, 0.47, 0.3), 0.6))
    apple_box = ((-1.75, 0.0, -1.75), (-1.242, 0.305, -1.547))  # a full apple box, on end
    add_boxes(stage, "/Loft/AppleBox", [apple_box], pine, (0.66, 0.47, 0.3))

    sun = UsdLux.DistantLight.Define(stage, "/Loft/Sun")
    sun.CreateIntensityAttr(8.0)  # lux (normalized): about twice the key on the twin
    sun.CreateNormalizeAttr(True)
    sun.CreateAngleAttr(0.53)
    sun.CreateColorTemperatureAttr(4800.0)
    sun.CreateEnableColorTemperatureAttr(True)
    sun.GetPrim().SetDocumentation("Afternoon sun through the window on camera-left.")
    UsdGeom.XformCommonAPI(sun).SetRotate(Gf.Vec3f(*_aim(spec.sun_direction)))
    write_stage(stage, path)


def build_sets(directory: Path) -> None:
    """Write every set asset into ``directory`` (``stages/sets``)."""
    build_cyclorama(directory / SET_FILES["cyclorama"])
    build_paper(directory / SET_FILES["paper"])
    build_loft(directory / SET_FILES["loft"])


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write the set assets."""
    parser = argparse.ArgumentParser(description="Write the studio's set assets.")
    parser.add_argument("out", type=Path, help="directory to write into (stages/sets)")
    args = parser.parse_args(argv)
    build_sets(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
