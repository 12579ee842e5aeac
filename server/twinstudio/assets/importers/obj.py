"""Import a static OBJ garment, fitted and skinned to a twin.

The garment is read strictly (:mod:`.obj_reader`), brought to metres and Y up (OBJ has no
units: ``--units``/``--up`` say what the file was modelled in), checked for a plausible
size, skinned to the twin (:mod:`.autoskin`) and written as::

    def Xform "<Name>" (kind = component)
        def Mesh "<Name>"      bind-space points, polygons, face-varying UVs, doubleSided,
                               skel:jointIndices/jointWeights, skel:joints = the twin's joints
        def Scope "Materials"  a fabric UsdPreviewSurface (the stylist recolours it)

It has no skeleton of its own: placed under the twin (e.g. a wardrobe look under
``/Studio/Twin/Wardrobe``), it inherits the twin's ``skel:skeleton`` binding. The import
is checked by composing exactly that: the twin with the garment under it, at rest.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from pxr import Kind, Usd, UsdGeom

from twinstudio.assets.authoring import (
    Surface,
    author_mesh,
    author_skin,
    author_uvs,
    bind_material,
    define_material,
    new_stage,
    write_stage,
)
from twinstudio.assets.importers.autoskin import Body, Fit, fit_garment, load_body
from twinstudio.assets.importers.checks import SIZE_LIMITS_M, AssetCheck, check_asset
from twinstudio.assets.importers.obj_reader import ObjMesh, read_obj
from twinstudio.assets.importers.publish import asset_file
from twinstudio.assets.importers.report import SIZE_IMPLAUSIBLE, Converted, ImportRefused
from twinstudio.assets.importers.rest_pose import rest_meshes
from twinstudio.assets.importers.units import Normalisation

FABRIC = Surface((0.55, 0.55, 0.58), roughness=0.85)
_REST_TOLERANCE_M = 1e-4


def import_obj_garment(
    src: Path, asset_dir: Path, name: str, twin: Path, units: float | None, up: str | None
) -> tuple[Converted, AssetCheck]:
    """Write ``asset_dir/<name>.usdc`` from an OBJ garment fitted to ``twin``, or refuse."""
    obj = read_obj(src)
    norm = Normalisation(units if units is not None else 1.0, up or "Y")
    notes = [*obj.notes, *norm.notes()]
    if units is None:
        notes.append("OBJ has no units: read as metres (pass --units cm if it is in cm)")
    points = norm.points(obj.points)
    _check_size(points)
    body = load_body(twin)
    fit = fit_garment(body, points)
    notes.append(
        f"skinned to {twin.name}: {fit.median_distance * 100:.1f} cm median from the body, "
        f"{fit.max_distance * 100:.1f} cm at most"
    )
    path = asset_dir / asset_file(name)
    _write(path, name, src, obj, fit, body)
    check = _check_on_twin(path, name, body, points)
    return Converted("obj", norm.meters_per_unit, norm.up_axis, 0, tuple(notes)), check


def _check_size(points: np.ndarray) -> None:
    low, high = SIZE_LIMITS_M["garment"]
    size = float((points.max(axis=0) - points.min(axis=0)).max())
    if not low <= size <= high:
        raise ImportRefused(
            SIZE_IMPLAUSIBLE,
            f"the garment is {size:.3g} m at its largest side; a garment is {low:g}-{high:g} m: "
            "check the units (--units) and up axis (--up)",
        )


def _write(path: Path, name: str, src: Path, obj: ObjMesh, fit: Fit, body: Body) -> None:
    stage, root = new_stage(name, "Xform")
    Usd.ModelAPI(root).SetKind(Kind.Tokens.component)
    root.SetAssetInfo(
        {"name": name, "version": "1", "source": src.name, "fittedTo": body.path.name}
    )
    material = define_material(stage, f"/{name}/Materials/Fabric", FABRIC)
    mesh = author_mesh(
        stage,
        f"/{name}/{name}",
        fit.bind_points,
        obj.face_counts,
        obj.face_indices,
        double_sided=True,
        decimals=None,
    )
    if obj.uvs is not None and obj.uv_indices is not None:
        author_uvs(mesh, obj.uvs, obj.uv_indices, decimals=None)
    author_skin(mesh, fit.indices, fit.weights, body.joints)
    bind_material(mesh.GetPrim(), material)
    write_stage(stage, path)


def _check_on_twin(path: Path, name: str, body: Body, points: np.ndarray) -> AssetCheck:
    """Compose the garment under the twin, check it like any asset, and check that at rest
    UsdSkel puts it exactly where it was modelled."""
    stage = Usd.Stage.CreateInMemory()
    twin = stage.DefinePrim(f"/{body.root}")
    twin.GetReferences().AddReference(str(body.path.resolve()))
    # Typed, as a wardrobe look is: UsdSkel does not look for skinned prims below a
    # typeless prim.
    UsdGeom.Xform.Define(stage, f"/{body.root}/Wardrobe")
    garment = stage.DefinePrim(f"/{body.root}/Wardrobe/{name}")
    garment.GetReferences().AddReference(str(path.resolve()))
    check = check_asset(garment, kind="garment")
    rest = list(rest_meshes(garment))
    if len(rest) != 1:
        raise RuntimeError(f"the fitted garment did not skin on {body.path.name}")
    error = float(np.abs(rest[0].world_points() - points).max())
    if error > _REST_TOLERANCE_M:
        raise RuntimeError(f"the fitted garment moved {error:.2e} m at rest")
    return replace(check, joints=len(body.joints))  # the twin's skeleton drives it
