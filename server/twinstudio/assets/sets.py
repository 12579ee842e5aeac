"""Studio sets: the infinity cove (cyclorama) of the default shot.

Usage: ``python -m twinstudio.assets.sets OUT.usda``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pxr import Kind, Sdf, Usd, UsdGeom, Vt

from twinstudio.assets.procedural_twin import (
    Vec3,
    author_mesh,
    bind_material,
    define_preview_material,
    new_stage,
    write_stage,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

BACKDROP_COLOR: Vec3 = (0.72, 0.72, 0.72)


@dataclass(frozen=True)
class CoveSpec:
    """Infinity cove dimensions in metres; the back wall stands at z = back_z."""

    width: float = 8.0
    depth: float = 6.0
    height: float = 4.0
    radius: float = 1.0
    back_z: float = -2.5
    step: float = 0.5
    arc_segments: int = 12


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


def build_cyclorama(path: Path, spec: CoveSpec = CoveSpec()) -> None:
    """Write the cyclorama asset (defaultPrim /Cyclorama) to ``path``."""
    stage, root = new_stage("Cyclorama", "Xform")
    Usd.ModelAPI(root).SetKind(Kind.Tokens.component)
    root.SetAssetInfo({"name": "cyclorama", "version": "1"})
    root.SetDocumentation(
        f"Infinity cove: {spec.width:g} m wide, {spec.depth:g} m deep, {spec.height:g} m tall; "
        f"floor, {spec.radius:g} m cove and back wall (at z = {spec.back_z:g}) in one mesh."
    )
    points, normals, st, counts, indices = cyclorama_mesh(spec)
    mesh = author_mesh(stage, "/Cyclorama/Cove", points, normals, counts, indices, BACKDROP_COLOR)
    UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
        "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex
    ).Set(Vt.Vec2fArray.FromNumpy(np.round(st, 5).astype(np.float32)))
    stage.DefinePrim("/Cyclorama/Materials", "Scope")
    backdrop = define_preview_material(stage, "/Cyclorama/Materials/Backdrop", BACKDROP_COLOR, 0.9)
    bind_material(mesh.GetPrim(), backdrop)
    write_stage(stage, path)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write the cyclorama usda."""
    parser = argparse.ArgumentParser(description="Write the infinity-cove set asset.")
    parser.add_argument("out", type=Path, help="cyclorama asset to write (.usda)")
    args = parser.parse_args(argv)
    build_cyclorama(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
