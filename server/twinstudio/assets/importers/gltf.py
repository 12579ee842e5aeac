"""Import a glTF 2.0 twin (.gltf with embedded or side-by-side buffers, or .glb) as UsdSkel.

What is kept: the default scene's skinned meshes (triangles, normals, first UV set, all
JOINTS_n/WEIGHTS_n sets), meshes parented to joints (rigidly bound) or elsewhere (baked
static), the skins merged into one Skeleton (see :mod:`.gltf_scene` for the mapping),
materials (base colour factor and texture, metallic, roughness, emissive, alpha mode,
double-sidedness) and the first animation's joint channels.

What is not: morph targets, vertex colours, cameras, lights, extra UV sets, non-colour
textures, KHR_* material extensions, other animations. Files that *require* an
extension (Draco, meshopt, quantisation, basisu) are refused, as are non-triangle
primitives and sparse accessors.

glTF is metres and Y up by definition; ``units``/``up`` override that for files that
were exported wrongly (a 170-unit-tall "metre" body), and are baked (see :mod:`.units`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pxr import Usd, UsdShade

from twinstudio.assets.authoring import (
    Surface,
    author_mesh,
    author_skin,
    author_uvs,
    bind_material,
    define_material,
    write_stage,
)
from twinstudio.assets.importers.checks import AssetCheck, check_asset
from twinstudio.assets.importers.gltf_animation import TIME_CODES_PER_SECOND, read_animation
from twinstudio.assets.importers.gltf_data import GltfFile, item, load
from twinstudio.assets.importers.gltf_mesh import MeshData, read_meshes
from twinstudio.assets.importers.gltf_scene import build_skeleton, read_scene
from twinstudio.assets.importers.publish import asset_file
from twinstudio.assets.importers.report import (
    FEATURE_UNSUPPORTED,
    FILE_MALFORMED,
    Converted,
    ImportRefused,
)
from twinstudio.assets.importers.textures import write_texture
from twinstudio.assets.importers.twin_asset import (
    new_asset,
    unique_name,
    write_animation,
    write_skeleton,
)
from twinstudio.assets.importers.units import Normalisation

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]
_REFUSED_EXTENSIONS = {
    "KHR_draco_mesh_compression": "export without Draco compression",
    "EXT_meshopt_compression": "export without meshopt compression",
    "KHR_mesh_quantization": "export with float positions",
    "KHR_texture_basisu": "export PNG or JPEG textures",
}


def import_gltf(
    src: Path, asset_dir: Path, name: str, units: float | None, up: str | None
) -> tuple[Converted, AssetCheck]:
    """Write ``asset_dir/<name>.usdc`` (and ``textures/``) from a glTF twin and check it,
    or refuse."""
    f = load(src)
    try:
        return _convert(f, asset_dir, name, units, up)
    except ImportRefused:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        # The JSON is user data that pygltflib does not type-check: a wrong type somewhere
        # surfaces here. Refuse it like any malformed file (nothing is published).
        log.debug("glTF conversion failed", exc_info=True)
        raise ImportRefused(
            FILE_MALFORMED, f"{src.name} could not be converted: {type(e).__name__}: {e}"
        ) from None


def _convert(
    f: GltfFile, asset_dir: Path, name: str, units: float | None, up: str | None
) -> tuple[Converted, AssetCheck]:
    doc = f.doc
    notes: list[str] = []
    required = [str(e) for e in doc.extensionsRequired or []]
    if required:
        hints = "; ".join(_REFUSED_EXTENSIONS.get(e, f"export without {e}") for e in required)
        raise ImportRefused(
            FEATURE_UNSUPPORTED, f"{f.path.name} requires {', '.join(required)}: {hints}"
        )
    used = sorted(str(e) for e in doc.extensionsUsed or [])
    if used:
        notes.append(f"ignored glTF extensions: {', '.join(used)}")
    norm = Normalisation(units if units is not None else 1.0, up or "Y")
    notes.extend(norm.notes())

    scene = read_scene(f)
    skins = sorted({int(doc.nodes[n].skin) for n in scene.order if _skinned(doc.nodes[n])})
    skel = build_skeleton(f, scene, skins)
    meshes = read_meshes(f, scene, skel, norm, notes)
    animation = read_animation(f, scene, skel, notes)

    stage, root = new_asset(name, f.path.name, locked=True)
    roots = np.array([p < 0 for p in skel.parent])
    rest = _normalised_locals(skel.locals(scene.globals()), roots, norm)
    try:
        write_skeleton(stage, root, skel.tokens, norm.frames(skel.bind), rest)
    except ValueError as e:
        raise ImportRefused(
            FEATURE_UNSUPPORTED,
            f"{f.path.name}: the rest pose can't be posed ({e}): a node above a joint has a "
            "non-uniform scale; apply scale before exporting",
        ) from None
    if animation is not None:
        locals_ = _normalised_locals(animation.locals, roots, norm)
        codes = animation.times * TIME_CODES_PER_SECOND
        path = root.GetPath().AppendChild("Animation")
        try:
            write_animation(stage, path, skel.tokens, locals_, codes)
        except ValueError as e:
            stage.RemovePrim(path)
            notes.append(f"animation {animation.name!r} left out: {e}")
        else:
            stage.SetTimeCodesPerSecond(TIME_CODES_PER_SECOND)
            stage.SetFramesPerSecond(TIME_CODES_PER_SECOND)
            stage.SetStartTimeCode(float(codes[0]))
            stage.SetEndTimeCode(float(codes[-1]))
            notes.append(
                f"animation {animation.name!r} kept as {root.GetPath()}/Animation "
                f"({len(codes)} samples, unbound; the studio poses {root.GetPath()}/Pose)"
            )
    materials = _materials(f, stage, root, meshes, asset_dir, notes)
    used_names: set[str] = set()
    for m in meshes:
        _write_mesh(stage, root, m, unique_name(m.name, used_names), materials)
    write_stage(stage, asset_dir / asset_file(name))
    renormalised = sum(m.renormalised for m in meshes)
    if renormalised:
        notes.append(f"renormalised the weights of {renormalised} vertices (sums 0.98-1.02)")
    check = check_asset(root, kind="twin")
    done = Converted(
        "glb" if f.binary_chunk is not None else "gltf",
        norm.meters_per_unit,
        norm.up_axis,
        renormalised,
        tuple(notes),
    )
    return done, check


def _skinned(node: Any) -> bool:
    return node.mesh is not None and node.skin is not None


def _normalised_locals(locals_: F64, roots: NDArray[np.bool_], norm: Normalisation) -> F64:
    out = norm.locals(locals_)
    out[..., roots, :, :] = norm.frames(locals_[..., roots, :, :])
    return out


def _write_mesh(
    stage: Usd.Stage,
    root: Usd.Prim,
    m: MeshData,
    name: str,
    materials: dict[int, UsdShade.Material],
) -> None:
    """Author one primitive as ``<root>/<name>`` with the source's values as they are."""
    counts = np.full(len(m.face_indices) // 3, 3, dtype=np.int64)
    path = str(root.GetPath().AppendChild(name))
    mesh = author_mesh(
        stage,
        path,
        m.points,
        counts,
        m.face_indices,
        normals=m.normals,
        double_sided=m.double_sided,
        decimals=None,
    )
    if m.st is not None:
        author_uvs(mesh, m.st, decimals=None)
    if m.joint_indices is not None and m.joint_weights is not None:
        k = m.element_size
        indices, weights = m.joint_indices.reshape(-1, k), m.joint_weights.reshape(-1, k)
        author_skin(mesh, indices, weights, rigid=m.rigid)
    if m.material is not None:
        bind_material(mesh.GetPrim(), materials[m.material])


def _materials(
    f: GltfFile,
    stage: Usd.Stage,
    root: Usd.Prim,
    meshes: list[MeshData],
    asset_dir: Path,
    notes: list[str],
) -> dict[int, UsdShade.Material]:
    """Define each material the meshes use (under ``<root>/Materials``); return them by
    glTF index."""
    defined: dict[int, UsdShade.Material] = {}
    used: set[str] = set()
    for index in sorted({m.material for m in meshes if m.material is not None}):
        mat = item(f.doc.materials, index, "material")
        name = unique_name(str(mat.name or f"material{index}"), used)
        path = f"{root.GetPath()}/Materials/{name}"
        defined[index] = define_material(stage, path, _surface(f, mat, name, asset_dir, notes))
    return defined


def _surface(f: GltfFile, mat: Any, name: str, asset_dir: Path, notes: list[str]) -> Surface:
    pbr = _get(mat, "pbrMetallicRoughness", None)
    base = [float(v) for v in (_get(pbr, "baseColorFactor", None) or [1.0, 1.0, 1.0, 1.0])]
    mode = _get(mat, "alphaMode", "OPAQUE") or "OPAQUE"
    texture = None
    info = _get(pbr, "baseColorTexture", None)
    if info is not None:
        texture = _texture(f, info, name, asset_dir, notes)
    for other in ("normalTexture", "occlusionTexture", "emissiveTexture"):
        if _get(mat, other, None) is not None:
            notes.append(f"material {name!r}: {other} not imported")
    if _get(pbr, "metallicRoughnessTexture", None) is not None:
        notes.append(f"material {name!r}: metallicRoughnessTexture not imported (factors kept)")
    emissive = [float(v) for v in (_get(mat, "emissiveFactor", None) or [0.0, 0.0, 0.0])]
    metallic = _get(pbr, "metallicFactor", None)
    roughness = _get(pbr, "roughnessFactor", None)
    return Surface(
        color=(base[0], base[1], base[2]),
        opacity=base[3] if mode != "OPAQUE" else 1.0,
        opacity_threshold=float(_get(mat, "alphaCutoff", None) or 0.5) if mode == "MASK" else 0.0,
        metallic=1.0 if metallic is None else float(metallic),
        roughness=1.0 if roughness is None else float(roughness),
        emissive=(emissive[0], emissive[1], emissive[2]),
        texture=texture,
        texture_tint=True,
        texture_alpha=texture is not None and mode != "OPAQUE",
    )


def _texture(f: GltfFile, info: Any, name: str, asset_dir: Path, notes: list[str]) -> str | None:
    if int(_get(info, "texCoord", 0) or 0) != 0:
        notes.append(f"material {name!r}: base colour texture on a second UV set left out")
        return None
    tex = item(f.doc.textures, _get(info, "index", None), "texture")
    if tex.source is None:
        notes.append(f"material {name!r}: texture without a PNG/JPEG source left out")
        return None
    image = f.image_bytes(tex.source)
    if image is None:
        notes.append(f"material {name!r}: base colour image is not PNG or JPEG, left out")
        return None
    data, mime = image
    return write_texture(
        asset_dir, f"{name}_baseColor", data, ".png" if mime == "image/png" else ".jpg"
    )


def _get(obj: Any, key: str, default: Any) -> Any:
    """A field of a pygltflib object, or of a plain dict where it left one undecoded."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)
