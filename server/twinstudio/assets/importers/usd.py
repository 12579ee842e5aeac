"""Import a USD twin (.usd/.usda/.usdc/.usdz) with its UsdSkel data kept as is.

The source's default prim is composed under a fresh asset root and the result flattened
into one layer, so the asset is self-contained whatever the source referenced:

::

    def SkelRoot "<Name>"          (kind component, identity locked, stage metres / Y up)
        def Xform "Source"         xformOp:transform = the unit/up-axis normalisation
            def Xform "<default prim of the source>"   ...as composed, SkelRoots -> Xform
        def SkelAnimation "Pose"   rest pose, bound to the skeleton: what the studio poses

Why flatten rather than reference a .usdz as is: the library serves and checks single
files by relative path, a posable ``Pose`` and any renormalised weights need a layer we
own, and a flattened layer can't break when the source's references move. Textures the
source uses (inside a .usdz or beside it) are copied to ``textures/`` and re-pointed.
Skeleton, joints, bind/rest transforms and skin primvars are copied verbatim; only
weights a little off (8-bit quantisation) are renormalised, with a note. Variants are
flattened to their current selection and payloads are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pxr import Ar, Sdf, Tf, Usd, UsdGeom, UsdSkel, UsdUtils, Vt

from twinstudio.assets.authoring import set_studio_units
from twinstudio.assets.importers.checks import AssetCheck, check_asset, check_influences
from twinstudio.assets.importers.gltf_data import sniff
from twinstudio.assets.importers.publish import asset_file
from twinstudio.assets.importers.report import (
    FILE_MALFORMED,
    FILE_UNREADABLE,
    FORMAT_UNSUPPORTED,
    SKELETON_MISSING,
    Converted,
    ImportRefused,
)
from twinstudio.assets.importers.rest_pose import PREDICATE, TIME, gf_matrix
from twinstudio.assets.importers.textures import write_texture
from twinstudio.assets.importers.twin_asset import new_asset, write_animation
from twinstudio.assets.importers.units import Normalisation

_USD_MAGIC = (b"#usda", b"PXR-USDC", b"PK\x03\x04")
_IMAGES = (".png", ".jpg", ".jpeg", ".exr", ".hdr", ".tx")


@dataclass(frozen=True)
class _Source:
    stage: Usd.Stage
    prim: Usd.Prim  # the default prim
    meters_per_unit: float
    up_axis: str
    notes: tuple[str, ...]


def import_usd(
    src: Path, asset_dir: Path, name: str, units: float | None, up: str | None
) -> tuple[Converted, AssetCheck]:
    """Write ``asset_dir/<name>.usdc`` (and ``textures/``) from a USD twin and check it, or
    refuse (messages name prims by their path in the source file)."""
    source = _open(src)
    notes = list(source.notes)
    norm = Normalisation(
        units if units is not None else source.meters_per_unit,
        up or source.up_axis,
    )
    notes.extend(norm.notes())
    flat = _flatten(src, source, name, norm)
    notes.extend(_localise_assets(flat, asset_dir))
    stage = Usd.Stage.Open(flat)
    root = stage.GetPrimAtPath(f"/{name}")
    notes.extend(_retype_inner_roots(stage, root))
    renormalised = _renormalise(stage, root, notes)
    notes.extend(_bind_poses(stage, root))
    stage.SetDefaultPrim(root)
    set_studio_units(stage)
    tcps = source.stage.GetTimeCodesPerSecond()
    stage.SetTimeCodesPerSecond(tcps)
    stage.SetFramesPerSecond(source.stage.GetFramesPerSecond())
    if source.stage.HasAuthoredTimeCodeRange():
        stage.SetStartTimeCode(source.stage.GetStartTimeCode())
        stage.SetEndTimeCode(source.stage.GetEndTimeCode())
    path = asset_dir / asset_file(name)
    flat.Export(str(path))
    try:
        written = Usd.Stage.Open(str(path))
        check = check_asset(written.GetDefaultPrim(), kind="twin")
    except ImportRefused as e:  # say where in the *source* file the problem is
        inner = f"/{name}/Source"
        raise ImportRefused(e.code, e.message.replace(inner, "")) from None
    done = Converted(
        "usdz" if src.suffix.lower() == ".usdz" else "usd",
        norm.meters_per_unit,
        norm.up_axis,
        renormalised,
        tuple(notes),
    )
    return done, check


def _open(src: Path) -> _Source:
    try:
        head = src.open("rb").read(16)
    except OSError as e:
        raise ImportRefused(FILE_UNREADABLE, f"can't read {src}: {e.strerror}") from None
    if not head.startswith(_USD_MAGIC):
        what = sniff(head) or "not a USD file"
        raise ImportRefused(FORMAT_UNSUPPORTED, f"{src.name} is {what}")
    try:
        stage = Usd.Stage.Open(str(src), Usd.Stage.LoadAll)
    except Tf.ErrorException as e:
        first = str(e).strip().splitlines()[-1] if str(e).strip() else "unknown error"
        raise ImportRefused(FILE_UNREADABLE, f"{src.name} does not open as USD: {first}") from None
    if stage is None:
        raise ImportRefused(FILE_UNREADABLE, f"{src.name} does not open as USD")
    _layers, _assets, unresolved = UsdUtils.ComputeAllDependencies(Sdf.AssetPath(str(src)))
    layer_missing = [p for p in unresolved if Path(p).suffix.lower() not in _IMAGES]
    if layer_missing:
        raise ImportRefused(
            FILE_UNREADABLE,
            f"{src.name} refers to {layer_missing[0]!r}, which is missing: import a "
            "self-contained file (a .usdz, or one flattened with usdcat --flatten)",
        )
    notes = [
        f"texture {p!r} is missing and was left out" for p in unresolved if p not in layer_missing
    ]
    prim = stage.GetDefaultPrim()
    if not prim:
        roots = [p for p in stage.GetPseudoRoot().GetChildren() if p.IsDefined()]
        if len(roots) != 1:
            raise ImportRefused(
                FILE_MALFORMED,
                f"{src.name} has no defaultPrim and {len(roots)} root prims: set defaultPrim "
                "to the twin's root",
            )
        prim = roots[0]
        notes.append(f"no defaultPrim: imported the only root prim {prim.GetPath()}")
    if UsdGeom.StageHasAuthoredMetersPerUnit(stage):
        mpu = float(UsdGeom.GetStageMetersPerUnit(stage))
    else:
        mpu = 0.01
        notes.append("the file does not say its units: USD then means centimetres")
    up = str(UsdGeom.GetStageUpAxis(stage))
    return _Source(stage, prim, mpu, up, tuple(notes))


def _flatten(src: Path, source: _Source, name: str, norm: Normalisation) -> Sdf.Layer:
    """Compose the source's default prim at /<name>/Source/<prim> and flatten it."""
    build, _ = new_asset(name, src.name, locked=True)
    holder = UsdGeom.Xform.Define(build, f"/{name}/Source")
    if not norm.identity:
        holder.AddTransformOp().Set(gf_matrix(norm.matrix.T))
    inner = build.DefinePrim(holder.GetPath().AppendChild(source.prim.GetName()))
    inner.GetReferences().AddReference(str(src.resolve()), source.prim.GetPath())
    flat: Sdf.Layer = build.Flatten()
    return flat


def _localise_assets(layer: Sdf.Layer, asset_dir: Path) -> list[str]:
    """Copy every texture the layer points at into ``textures/``; re-point the paths."""
    notes: list[str] = []
    copied: dict[str, str] = {}
    resolver = Ar.GetResolver()

    def localise(path: str) -> str:
        if not path or path in copied:
            return copied.get(path, path)
        resolved = resolver.Resolve(path)
        asset = resolver.OpenAsset(resolved) if resolved else None
        if asset is None:
            notes.append(f"asset {path!r} could not be read and was left out")
            copied[path] = ""
            return ""
        leaf = path.rstrip("]").replace("[", "/").rsplit("/", 1)[-1]
        stem, _, ext = leaf.rpartition(".")
        copied[path] = write_texture(
            asset_dir,
            Tf.MakeValidIdentifier(stem or leaf),
            bytes(asset.GetBuffer()),
            f".{ext}" if stem else "",
        )
        return copied[path]

    UsdUtils.ModifyAssetPaths(layer, localise)
    if copied:
        notes.append(f"copied {sum(1 for v in copied.values() if v)} textures into textures/")
    return notes


def _retype_inner_roots(stage: Usd.Stage, root: Usd.Prim) -> list[str]:
    """UsdSkel does not nest SkelRoots: the asset root is the one; inner ones become Xforms
    (their skel:skeleton bindings still apply to the prims below them)."""
    inner = [p for p in Usd.PrimRange(root) if p != root and p.IsA(UsdSkel.Root)]
    for p in inner:
        p.SetTypeName("Xform")
    return [f"inner SkelRoot {p.GetPath()} became an Xform under the asset's root" for p in inner]


def _renormalise(stage: Usd.Stage, root: Usd.Prim, notes: list[str]) -> int:
    """Renormalise weights that sum to within 2% of 1; refuse worse (see checks)."""
    total = 0
    for prim in Usd.PrimRange(root, PREDICATE):
        binding = UsdSkel.BindingAPI(prim)
        ji, jw = binding.GetJointIndicesPrimvar(), binding.GetJointWeightsPrimvar()
        if not (ji and ji.HasAuthoredValue() and jw and jw.HasAuthoredValue()):
            continue
        skel = binding.GetInheritedSkeleton()
        if not skel:
            continue  # check_asset refuses it with the reason
        order = (
            binding.GetJointsAttr().Get() if binding.GetJointsAttr().HasAuthoredValue() else None
        )
        count = len(order if order is not None else skel.GetJointsAttr().Get() or [])
        idx = np.asarray(ji.Get(TIME) or [], dtype=np.int64)
        w = np.asarray(jw.Get(TIME) or [], dtype=np.float64)
        k = ji.GetElementSize()
        fixed_w, fixed = check_influences(idx, w, k, count, str(prim.GetPath()), renormalise=True)
        if fixed:
            jw.Set(Vt.FloatArray.FromNumpy(fixed_w.astype(np.float32)))
            total += fixed
    if total:
        notes.append(f"renormalised the weights of {total} vertices (sums 0.98-1.02)")
    return total


def _bind_poses(stage: Usd.Stage, root: Usd.Prim) -> list[str]:
    """Give each skeleton a ``Pose`` animation at rest, bound, so the studio can pose it.

    A source animation bound with time samples only has no value at the studio's default
    time; it stays in the asset, unbound.
    """
    skeletons = [
        UsdSkel.Skeleton(p) for p in Usd.PrimRange(root, PREDICATE) if p.IsA(UsdSkel.Skeleton)
    ]
    if not skeletons:
        raise ImportRefused(SKELETON_MISSING, "the file has no UsdSkel Skeleton: a twin needs one")
    notes = []
    cache = UsdSkel.Cache()
    for i, skel in enumerate(skeletons):
        query = cache.GetSkelQuery(skel)
        if not query:
            continue  # check_asset says why
        rest = query.ComputeJointLocalTransforms(TIME, True)
        if rest is None:
            continue
        locals_ = np.transpose(np.array(rest), (0, 2, 1))[None]
        path = root.GetPath().AppendChild("Pose" if i == 0 else f"Pose_{i + 1}")
        joints = [str(j) for j in skel.GetJointsAttr().Get()]
        try:
            pose = write_animation(stage, path, joints, locals_, None)
        except ValueError:
            notes.append(f"{skel.GetPath()}: its rest pose shears, so it has no posable Pose")
            continue
        binding = UsdSkel.BindingAPI.Apply(skel.GetPrim())
        old = binding.GetAnimationSourceRel().GetTargets()
        binding.CreateAnimationSourceRel().SetTargets([pose.GetPath()])
        if old:
            notes.append(
                f"{skel.GetPath()}: its animation {old[0]} is kept, unbound; {path} poses it"
            )
    return notes
