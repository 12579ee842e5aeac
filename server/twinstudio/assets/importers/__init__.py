"""Import brand twins and garments into the asset library.

``import_asset(path, kind="twin", out_dir=..., name=...)`` reads a USD/USDA/USDC/USDZ or
glTF/GLB twin (kept or converted to UsdSkel), or an OBJ garment (auto-skinned to a twin
given as ``body``); normalises it to metres and Y up; writes
``out_dir/<name>/<name>.usdc`` (plus ``textures/``); checks the written asset
(:func:`.checks.check_asset`); and returns an :class:`ImportReport`. A file that can't
be imported raises :class:`ImportRefused` (a :class:`~twinstudio.errors.Refused`) with a
stable code, and nothing is written. See docs/import.md.
"""

from __future__ import annotations

from pathlib import Path

from twinstudio.assets.importers.checks import AssetCheck
from twinstudio.assets.importers.gltf import import_gltf
from twinstudio.assets.importers.obj import import_obj_garment
from twinstudio.assets.importers.publish import (
    asset_file,
    check_name,
    publish,
    refuse_if_exists,
    staging,
)
from twinstudio.assets.importers.report import (
    FORMAT_UNSUPPORTED,
    OPTION_INVALID,
    Converted,
    ImportRefused,
    ImportReport,
)
from twinstudio.assets.importers.units import parse_units, parse_up
from twinstudio.assets.importers.usd import import_usd

__all__ = ["KINDS", "ImportRefused", "ImportReport", "import_asset"]

KINDS = ("twin", "garment")
USD_SUFFIXES = (".usd", ".usda", ".usdc", ".usdz")
GLTF_SUFFIXES = (".gltf", ".glb")


def import_asset(
    path: Path | str,
    *,
    kind: str = "twin",
    out_dir: Path | str,
    name: str,
    body: Path | str | None = None,
    units: str | None = None,
    up: str | None = None,
    replace: bool = False,
) -> ImportReport:
    """Import ``path`` as a twin or garment into ``out_dir/name`` (see the module doc).

    ``units`` ("m", "dm", "cm", "mm") and ``up`` ("y", "z") override what the file says
    (OBJ says nothing: metres and Y up unless told). ``body`` is the twin a garment is
    fitted and skinned to. ``replace`` allows overwriting an existing asset of that name.
    """
    src, out = Path(path), Path(out_dir)
    if kind not in KINDS:
        raise ImportRefused(OPTION_INVALID, f"kind must be one of {', '.join(KINDS)}")
    check_name(name)
    meters_per_unit, up_axis = parse_units(units), parse_up(up)
    refuse_if_exists(out, name, replace)
    with staging() as tmp:
        staged = tmp / name
        staged.mkdir()
        done, check = _build(src, kind, staged, name, body, meters_per_unit, up_axis)
        target = publish(staged, out, name, replace)
    return ImportReport(
        kind=kind,
        name=name,
        source=src,
        source_format=done.source_format,
        asset=target / asset_file(name),
        joints=check.joints,
        meshes=check.meshes,
        points=check.points,
        meters_per_unit=done.meters_per_unit,
        up_axis=done.up_axis,
        renormalised_vertices=done.renormalised_vertices,
        notes=done.notes,
        bounds=(check.lo, check.hi),
    )


def _build(
    src: Path,
    kind: str,
    staged: Path,
    name: str,
    body: Path | str | None,
    meters_per_unit: float | None,
    up_axis: str | None,
) -> tuple[Converted, AssetCheck]:
    """Run the importer for ``kind`` and the file's format, writing into ``staged``."""
    suffix = src.suffix.lower()
    if kind == "garment":
        if suffix != ".obj":
            raise ImportRefused(
                FORMAT_UNSUPPORTED,
                f"garments are imported from OBJ (a static mesh, skinned to the twin); "
                f"{src.name} is not .obj",
            )
        if body is None:
            raise ImportRefused(OPTION_INVALID, "a garment needs the twin it fits (--twin)")
        return import_obj_garment(src, staged, name, Path(body), meters_per_unit, up_axis)
    if suffix in GLTF_SUFFIXES:
        return import_gltf(src, staged, name, meters_per_unit, up_axis)
    if suffix in USD_SUFFIXES:
        return import_usd(src, staged, name, meters_per_unit, up_axis)
    if suffix == ".obj":
        raise ImportRefused(
            FORMAT_UNSUPPORTED,
            "a twin needs a skeleton: import it from USD/USDZ with UsdSkel or glTF/GLB with a "
            "skin (OBJ is for garments: `twinstudio import garment`)",
        )
    known = ", ".join(USD_SUFFIXES + GLTF_SUFFIXES)
    raise ImportRefused(FORMAT_UNSUPPORTED, f"{src.name}: twins are imported from {known}")
