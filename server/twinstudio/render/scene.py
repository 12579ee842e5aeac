"""The stage as a pyrender scene, kept in step with the stage by USD's own change notices.

:class:`StudioScene` turns a composed stage into a ``pyrender.Scene`` of meshes and
materials, plus plain descriptions of the lights (:class:`StudioLight`) and cameras
(:class:`StudioCamera`) that each renderer maps to its own light model. It listens to
``Usd.Notice.ObjectsChanged``; after edits, call :meth:`StudioScene.sync` before the next
frame and it redoes only what the edits touched:

==========================================  =================================================
what changed                                 what sync() does
==========================================  =================================================
a light's or camera's attribute             rebuilds that StudioLight / StudioCamera
an ``xformOp``                              moves the nodes of the prim and its descendants
                                            (``scene.set_pose``); no mesh is rebuilt
a SkelAnimation / Skeleton attribute        re-skins the meshes bound to that skeleton
(a pose)
a mesh attribute or primvar                 rebuilds that mesh
a material or shader input                  rebuilds that material, swaps it into its meshes
``material:binding``                        re-resolves materials under that prim
visibility / purpose, or a resync           rebuilds everything under that prim
(variant switch, create, delete)
a resync of the root (e.g. a take restore)  full rebuild
==========================================  =================================================

pyrender uploads a Mesh to the GPU once, when it first sees it; writing new vertex positions
into an uploaded Mesh changes nothing on screen. A rebuilt or re-skinned mesh is therefore
a *new* ``pyrender.Mesh`` put into the prim's existing node (the node leaves the scene and
comes back with it, since ``pyrender.Scene`` indexes nodes by mesh). Node identity is thus
stable while a prim is shown (callers may key segmentation maps on
:attr:`StudioScene.mesh_nodes`); the renderer uploads the new Mesh and frees the old one on
its next render. A Mesh is bound to one GL context: render one StudioScene with one
renderer.

Skinned meshes follow the UsdSkel spec: the mesh's own transform is ignored, the skinned
points (``UsdSkelSkinningQuery.ComputeSkinnedPoints``) are in *skeleton* space, and the
node's pose is the Skeleton prim's local-to-world transform (which includes its SkelRoot).

Importing this module fixes the GL platform (``PYOPENGL_PLATFORM``, default EGL), because
it imports pyrender: call :func:`twinstudio.render.gl.select_platform` first to pick another.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pxr import Ar, Gf, Sdf, Tf, Usd, UsdGeom, UsdLux, UsdShade, UsdSkel, Vt

from twinstudio.render.compat import apply_pyrender_compat
from twinstudio.render.gl import select_platform

select_platform()
apply_pyrender_compat()
import pyrender  # noqa: E402  (after the platform is chosen and numpy is patched)
import trimesh  # noqa: E402

log = logging.getLogger(__name__)

TIME = Usd.TimeCode.Default()
_PREDICATE = Usd.TraverseInstanceProxies(Usd.PrimDefaultPredicate)
_F32 = np.float32

# -- public descriptions --------------------------------------------------------------------


@dataclass(frozen=True)
class StudioLight:
    """A UsdLux light, in the units and conventions every renderer of the studio starts from.

    ``world`` is the 4x4 local-to-world matrix (float64, column vectors, as pyrender uses);
    the light emits along its local -Z. ``color`` is linear Rec.709/sRGB: ``inputs:color``
    times, when ``inputs:enableColorTemperature`` is on, ``UsdLux.BlackbodyTemperatureAsRgb``
    of ``inputs:colorTemperature`` (Pixar's table of CIE 1931 Planckian-locus colours in
    linear Rec.709, Catmull-Rom interpolated and normalised to unit luminance, so 6500 K is
    about (1.04, 0.98, 1.03) and 3200 K about (1.68, 0.87, 0.33)). ``luminance`` is
    ``inputs:intensity * 2**inputs:exposure`` in nits, before ``normalize`` divides by area.
    Shape parameters are the authored (local) values, 0 where a kind has none: the world
    matrix carries any scale. ``angle_deg`` is a DistantLight's angular diameter.
    ``cone_angle_deg`` is None unless the light has ShapingAPI.
    """

    path: str
    kind: str  # "distant" | "sphere" | "rect" | "disk" | "cylinder" | "dome"
    world: np.ndarray
    color: tuple[float, float, float]
    luminance: float
    normalize: bool
    width: float
    height: float
    radius: float
    length: float
    angle_deg: float
    cone_angle_deg: float | None
    cone_softness: float
    focus: float
    shadow: bool
    visible: bool

    @property
    def position(self) -> np.ndarray:
        return np.asarray(self.world[:3, 3])

    @property
    def direction(self) -> np.ndarray:
        """Unit world-space direction the light emits along (its local -Z)."""
        d = -np.asarray(self.world[:3, 2], dtype=np.float64)
        return d / max(float(np.linalg.norm(d)), 1e-12)


@dataclass(frozen=True)
class StudioCamera:
    """A UsdGeom.Camera. Lengths in mm as authored (only their ratios matter here).

    ``world`` looks down its local -Z with +Y up (USD's and pyrender's convention).
    ``exposure`` is the camera's total exposure in EV: ``log2`` of
    ``UsdGeomCamera.ComputeLinearExposureScale`` (``exposure`` plus the ``exposure:*``
    time/ISO/f-stop/responsivity terms), 0 for a camera that authors none of them.
    """

    path: str
    world: np.ndarray
    focal_length_mm: float
    h_aperture_mm: float
    v_aperture_mm: float
    near: float
    far: float
    f_stop: float
    focus_distance: float
    exposure: float

    def yfov(self, aspect: float) -> float:
        """Vertical field of view (radians) for an image of ``aspect`` = width / height.

        Fit like USD's default (horizontal aperture fit): the horizontal field of view is
        always ``2 atan(h_aperture / 2 focal)``; the vertical one follows the image's aspect,
        so ``v_aperture`` only states the film's own aspect (a 16:9 render of a 36x24 mm back
        crops its top and bottom). Aperture offsets are not applied.
        """
        if aspect <= 0:
            raise ValueError(f"image aspect must be > 0, got {aspect}")
        return 2.0 * math.atan(self.h_aperture_mm / aspect / (2.0 * self.focal_length_mm))


@dataclass(frozen=True)
class SyncStats:
    """What one :meth:`StudioScene.sync` did. ``full`` means the whole scene was rebuilt."""

    full: bool
    meshes_rebuilt: int
    nodes_moved: int
    lights_changed: int
    seconds: float
    materials_updated: int = 0
    cameras_changed: int = 0


# -- geometry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Topology:
    """A mesh's triangles and per-vertex attributes, ready for pyrender, minus its points.

    A render vertex is a USD point when every attribute is per point, else a face corner
    (faceVarying/uniform data splits vertices); ``point_index`` maps it to its USD point so
    a re-skin only needs the new points.
    """

    point_index: np.ndarray  # (V,) USD point behind each render vertex
    triangles: np.ndarray  # (T, 3) uint32 render vertices
    point_triangles: np.ndarray  # (T, 3) the same triangles over USD points (smooth normals)
    num_points: int
    normals: np.ndarray | None  # (V, 3) authored normals (before skinning)
    uvs: np.ndarray | None  # (V, 2)
    colors: np.ndarray | None  # (V, 4) varying displayColor/Opacity (meshes without material)
    display: tuple[float, float, float, float] | None  # uniform displayColor/Opacity


def _flattened(pv: UsdGeom.Primvar) -> tuple[np.ndarray, str] | None:
    if not pv or not pv.HasAuthoredValue():
        return None
    values = pv.ComputeFlattened(TIME)
    if values is None or len(values) == 0:
        return None
    arr = np.asarray(values, dtype=_F32)
    return arr.reshape(len(arr), -1), str(pv.GetInterpolation())


def _fan(counts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Fan-triangulate the kept faces: (T, 3) face-corner indices."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ntri = np.where(keep, counts - 2, 0)
    face = np.repeat(np.arange(len(counts)), ntri)
    local = np.arange(int(ntri.sum())) - np.repeat(np.cumsum(ntri) - ntri, ntri)
    s = starts[face]
    return np.stack([s, s + local + 1, s + local + 2], axis=1)


def _mesh_topology(mesh: UsdGeom.Mesh, uv_name: str, want_colors: bool) -> _Topology | None:
    """Triangulate ``mesh`` and lay out its normals, UVs and colours per render vertex."""
    path = mesh.GetPath()
    points = mesh.GetPointsAttr().Get(TIME)
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get(TIME) or [], dtype=np.int64)
    fvi = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(TIME) or [], dtype=np.int64)
    n_points = len(points) if points is not None else 0
    if n_points == 0 or len(counts) == 0:
        return None
    if counts.sum() != len(fvi) or (len(fvi) and (fvi.min() < 0 or fvi.max() >= n_points)):
        log.warning(
            "%s: faceVertexCounts/Indices don't match its %d points; skipped", path, n_points
        )
        return None
    keep = counts >= 3
    if not keep.all():
        log.warning("%s: %d faces with fewer than 3 vertices skipped", path, int((~keep).sum()))
    holes = np.asarray(mesh.GetHoleIndicesAttr().Get(TIME) or [], dtype=np.int64)
    if len(holes):  # USD holes are faces punched out of the surface: leave them out
        keep[holes[(holes >= 0) & (holes < len(counts))]] = False
    corners = _fan(counts, keep)
    if mesh.GetOrientationAttr().Get(TIME) == UsdGeom.Tokens.leftHanded:
        corners = corners[:, [0, 2, 1]]

    api = UsdGeom.PrimvarsAPI(mesh.GetPrim())
    normals = _flattened(api.GetPrimvar("normals"))
    if normals is None:
        authored = mesh.GetNormalsAttr().Get(TIME)
        if authored is not None and len(authored):
            normals = (np.asarray(authored, dtype=_F32), str(mesh.GetNormalsInterpolation()))
    uvs = _flattened(api.GetPrimvar(uv_name))
    colors = _flattened(api.GetPrimvar("displayColor")) if want_colors else None
    opacity = _flattened(api.GetPrimvar("displayOpacity")) if want_colors else None

    attrs = [a for a in (normals, uvs, colors, opacity) if a is not None]
    per_corner = any(interp in ("uniform", "faceVarying") for _, interp in attrs)
    face_of_corner = np.repeat(np.arange(len(counts)), counts)
    if per_corner:
        point_index, triangles = fvi, corners
    else:
        point_index, triangles = np.arange(n_points), fvi[corners]

    def expand(item: tuple[np.ndarray, str] | None, name: str) -> np.ndarray | None:
        if item is None:
            return None
        values, interp = item
        need = {"constant": 1, "uniform": len(counts), "faceVarying": len(fvi)}.get(
            interp, n_points
        )
        if len(values) < need:
            msg = "%s: %s has %d values, %s needs %d; ignored"
            log.warning(msg, path, name, len(values), interp, need)
            return None
        if interp == "constant":
            return np.broadcast_to(values[0], (len(point_index), values.shape[1])).copy()
        if interp == "uniform":
            return values[face_of_corner]
        if interp == "faceVarying":
            return values[: len(fvi)]
        return values[point_index]  # vertex / varying

    rgba, display = _display_colors(
        expand(colors, "displayColor"), expand(opacity, "displayOpacity"), len(point_index)
    )
    uv = expand(uvs, uv_name)  # pyrender flips images on upload: v = 0 is the bottom, as in USD
    return _Topology(
        point_index=point_index,
        triangles=triangles.astype(np.uint32),
        point_triangles=fvi[corners],
        num_points=n_points,
        normals=expand(normals, "normals"),
        uvs=None if uv is None else uv[:, :2],
        colors=rgba,
        display=display,
    )


def _display_colors(
    rgb: np.ndarray | None, alpha: np.ndarray | None, n: int
) -> tuple[np.ndarray | None, tuple[float, float, float, float] | None]:
    """(per-vertex RGBA, None) when the colours vary, else (None, the one RGBA or None)."""
    if rgb is None and alpha is None:
        return None, None
    rgba = np.ones((n, 4), dtype=_F32)
    if rgb is not None:
        rgba[:, :3] = rgb[:, :3]
    if alpha is not None:
        rgba[:, 3] = alpha[:, 0]
    if n and (rgba == rgba[0]).all():
        r, g, b, a = (float(x) for x in rgba[0])
        return None, (r, g, b, a)
    return rgba, None


def _smooth_normals(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals over shared points; unshared points come out flat."""
    tri = points[triangles]
    face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = np.zeros_like(points)
    flat = triangles.reshape(-1)
    for axis in range(3):
        out[:, axis] = np.bincount(flat, np.repeat(face[:, axis], 3), minlength=len(points))
    return _unit(out)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.where(n > 1e-20, n, 1.0)).astype(_F32)


def _gprim_topology(prim: Usd.Prim) -> tuple[_Topology, np.ndarray] | None:
    """Sphere/Cube/Cylinder/Cone/Capsule as a triangle mesh (topology, points)."""

    def get(name: str, default: float) -> float:
        v = prim.GetAttribute(name).Get(TIME)
        return float(v) if v is not None else default

    kind = prim.GetTypeName()
    if kind == "Sphere":
        tm = trimesh.creation.icosphere(subdivisions=3, radius=get("radius", 1.0))
    elif kind == "Cube":
        tm = trimesh.creation.box(extents=[get("size", 2.0)] * 3)
    elif kind == "Cylinder":
        tm = trimesh.creation.cylinder(radius=get("radius", 1.0), height=get("height", 2.0))
    elif kind == "Cone":
        height = get("height", 2.0)
        tm = trimesh.creation.cone(radius=get("radius", 1.0), height=height)
        tm.apply_translation([0.0, 0.0, -height / 2.0])  # USD cones are centred
    elif kind == "Capsule":
        tm = trimesh.creation.capsule(height=get("height", 1.0), radius=get("radius", 0.5))
    else:
        return None
    tm = trimesh.graph.smooth_shade(tm, angle=math.radians(30))  # split the sharp edges
    points = np.asarray(tm.vertices, dtype=_F32)
    normals = np.asarray(tm.vertex_normals, dtype=_F32)
    axis = prim.GetAttribute("axis").Get(TIME) or "Z"
    if axis in ("X", "Y"):  # trimesh builds along +Z; rotate +Z onto the USD axis
        order, flip = ([2, 1, 0], [1, 1, -1]) if axis == "X" else ([0, 2, 1], [1, 1, -1])
        points = points[:, order] * np.array(flip, dtype=_F32)
        normals = normals[:, order] * np.array(flip, dtype=_F32)
    faces = np.asarray(tm.faces, dtype=np.int64)
    api = UsdGeom.PrimvarsAPI(prim)
    rgb = _flattened(api.GetPrimvar("displayColor"))
    alpha = _flattened(api.GetPrimvar("displayOpacity"))
    # gprims take their first (constant) display colour only
    _, display = _display_colors(rgb[0][:1] if rgb else None, alpha[0][:1] if alpha else None, 1)
    n = len(points)
    topo = _Topology(np.arange(n), faces.astype(np.uint32), faces, n, normals, None, None, display)
    return topo, points


# -- materials ------------------------------------------------------------------------------

_PREVIEW_DEFAULTS: dict[str, Any] = {
    "diffuseColor": (0.18, 0.18, 0.18),
    "emissiveColor": (0.0, 0.0, 0.0),
    "metallic": 0.0,
    "roughness": 0.5,
    "opacity": 1.0,
    "opacityThreshold": 0.0,
    "occlusion": 1.0,
    "normal": (0.0, 0.0, 1.0),
}
_GL_WRAP = {"repeat": 10497, "mirror": 33648, "clamp": 33071, "black": 33071}  # GL enums


@dataclass(frozen=True)
class _TextureRef:
    asset: Sdf.AssetPath
    channel: str  # the UsdUVTexture output used: rgb, rgba, r, g, b, a
    wrap_s: str
    wrap_t: str
    uv_name: str
    shader: str


def _value_sources(inp: UsdShade.Input) -> Iterator[tuple[Any, UsdShade.Shader | None, str]]:
    """(value, source shader, output name) for each attribute producing ``inp``'s value."""
    for attr in inp.GetValueProducingAttributes(False):
        base, kind = UsdShade.Utils.GetBaseNameAndType(attr.GetName())
        if kind == UsdShade.AttributeType.Output:
            yield None, UsdShade.Shader(attr.GetPrim()), str(base)
        else:
            yield attr.Get(TIME), None, ""


def _input_value(shader: UsdShade.Shader, name: str, default: Any) -> Any:
    inp = shader.GetInput(name)
    if not inp:
        return default
    for value, _, _ in _value_sources(inp):
        if value is not None:
            return value
    return default


def _surface_input(shader: UsdShade.Shader, name: str) -> tuple[Any, _TextureRef | None]:
    """A UsdPreviewSurface input's constant value and, if a UsdUVTexture feeds it, its ref.

    The constant is the input's own authored value (what a missing texture falls back to),
    else the UsdPreviewSurface default.
    """
    default = _PREVIEW_DEFAULTS[name]
    inp = shader.GetInput(name)
    if not inp:
        return default, None
    own = inp.GetAttr().Get(TIME)
    constant = own if own is not None else default
    for value, source, output in _value_sources(inp):
        if source is None:
            if value is not None:
                constant = value
        elif source.GetIdAttr().Get() == "UsdUVTexture":
            asset = _input_value(source, "file", None)
            if isinstance(asset, Sdf.AssetPath) and asset.path:
                return constant, _TextureRef(
                    asset,
                    output,
                    str(_input_value(source, "wrapS", "useMetadata")),
                    str(_input_value(source, "wrapT", "useMetadata")),
                    _uv_name(source),
                    str(source.GetPath()),
                )
    return constant, None


def _uv_name(texture: UsdShade.Shader) -> str:
    st = texture.GetInput("st")
    if st:
        for _, source, _ in _value_sources(st):
            if source is not None and str(source.GetIdAttr().Get()).startswith("UsdPrimvarReader"):
                return str(_input_value(source, "varname", "st"))
    return "st"


def _load_image(resolved: str) -> np.ndarray:
    """Decode an image (a file, or a file inside a usdz) to uint8 HxWxC, C in 1..4."""
    from PIL import Image

    asset = Ar.GetResolver().OpenAsset(Ar.ResolvedPath(resolved))
    if asset is None:
        raise OSError(f"can't open {resolved}")
    with Image.open(io.BytesIO(bytes(asset.GetBuffer()))) as img:
        if img.mode.startswith("I;16"):
            arr = (np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8)
        elif img.mode in ("L", "LA", "RGB", "RGBA"):
            arr = np.asarray(img, dtype=np.uint8)
        else:
            alpha = "A" in img.getbands() or "transparency" in img.info
            arr = np.asarray(img.convert("RGBA" if alpha else "RGB"), dtype=np.uint8)
    return arr if arr.ndim == 3 else arr[:, :, None]


def _channels(image: np.ndarray, channel: str) -> np.ndarray:
    """The UsdUVTexture output ``channel`` of ``image`` (grey images feed every channel)."""
    c = image.shape[2]
    rgb = image[:, :, :3] if c >= 3 else np.repeat(image[:, :, :1], 3, axis=2)
    alpha = image[:, :, c - 1 : c] if c in (2, 4) else np.full_like(image[:, :, :1], 255)
    if channel == "rgba":
        return np.concatenate([rgb, alpha], axis=2)
    if channel in ("r", "g", "b"):
        return rgb[:, :, "rgb".index(channel)][:, :, None]
    if channel == "a":
        return alpha
    return rgb


# -- skinning -------------------------------------------------------------------------------


@dataclass
class _Skin:
    """What re-posing one skinned mesh needs; built once per mesh build."""

    query: UsdSkel.SkinningQuery
    skel_query: UsdSkel.SkeletonQuery
    skeleton: str
    animation: str | None
    rest_points: Vt.Vec3fArray
    influences: tuple[np.ndarray, np.ndarray] | None  # (P, k) joint indices, weights
    geom_bind: np.ndarray  # 4x4, row vectors (USD)

    def points(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Skeleton-space points, and per-point 3x3 blend matrices for skinning normals."""
        xforms = self.skel_query.ComputeSkinningTransforms(TIME)
        if self.query.IsRigidlyDeformed():
            m = np.array(self.query.ComputeSkinnedTransform(xforms, TIME))
            rest = np.asarray(self.rest_points, dtype=np.float64)
            pts = rest @ m[:3, :3] + m[3, :3]
            return pts.astype(_F32), np.broadcast_to(m[:3, :3], (len(rest), 3, 3))
        pts = Vt.Vec3fArray(self.rest_points)
        self.query.ComputeSkinnedPoints(xforms, pts, TIME)
        blend = None
        if self.influences is not None:
            idx, w = self.influences
            mats = np.einsum("ij,njk->nik", self.geom_bind[:3, :3], np.array(xforms)[:, :3, :3])
            blend = np.einsum("pk,pkij->pij", w, mats[idx])
        return np.asarray(pts, dtype=_F32), blend


def _skin_for(query: UsdSkel.SkinningQuery, skel_query: UsdSkel.SkeletonQuery) -> _Skin:
    points = UsdGeom.PointBased(query.GetPrim()).GetPointsAttr().Get(TIME)
    mapper = query.GetJointMapper()
    influences = None
    if mapper is None or mapper.IsIdentity():  # else normals are recomputed after skinning
        idx, w = query.ComputeVaryingJointInfluences(len(points), TIME)
        k = query.GetNumInfluencesPerComponent()
        influences = (
            np.asarray(idx).reshape(-1, k),
            np.asarray(w, dtype=np.float64).reshape(-1, k),
        )
    anim = skel_query.GetAnimQuery()
    return _Skin(
        query=query,
        skel_query=skel_query,
        skeleton=str(skel_query.GetSkeleton().GetPath()),
        animation=str(anim.GetPrim().GetPath()) if anim else None,
        rest_points=Vt.Vec3fArray(points),
        influences=influences,
        geom_bind=np.array(query.GetGeomBindTransform(TIME)),
    )


# -- the scene ------------------------------------------------------------------------------

_LIGHT_KINDS: tuple[tuple[Any, str], ...] = tuple(
    (getattr(UsdLux, name), kind)
    for name, kind in (
        ("DistantLight", "distant"),
        ("SphereLight", "sphere"),
        ("RectLight", "rect"),
        ("DiskLight", "disk"),
        ("CylinderLight", "cylinder"),
        ("DomeLight", "dome"),
        ("DomeLight_1", "dome"),
    )
    if hasattr(UsdLux, name)
)
_GPRIMS = ("Sphere", "Cube", "Cylinder", "Cone", "Capsule")
_SUBTREE_PROPS = ("visibility", "purpose", "proxyPrim", "skel:skeleton")


def _light_kind(prim: Usd.Prim) -> str | None:
    for schema, kind in _LIGHT_KINDS:
        if prim.IsA(schema):
            return kind
    return None


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _top_most(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in sorted(set(paths)):
        if not _under(p, out):
            out.append(p)
    return out


@dataclass
class _MeshEntry:
    node: pyrender.Node
    topology: _Topology
    material_key: tuple[str, bool] | None  # (material path, doubleSided); None: displayColor
    uv_name: str
    skin: _Skin | None
    double_sided: bool


@dataclass
class _Pending:
    resynced: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)


@dataclass
class _Work:
    """What one incremental sync must redo, sorted out of the notices' paths."""

    rebuild: set[str] = field(default_factory=set)  # prims whose subtree is rebuilt
    meshes: set[str] = field(default_factory=set)  # meshes rebuilt from USD
    moved: set[str] = field(default_factory=set)  # prims whose transform changed
    lights: set[str] = field(default_factory=set)
    cameras: set[str] = field(default_factory=set)
    materials: set[str] = field(default_factory=set)
    rebind: set[str] = field(default_factory=set)  # prims whose material bindings changed
    posed: set[str] = field(default_factory=set)  # SkelAnimations: re-skin their meshes
    skeletons: set[str] = field(default_factory=set)  # Skeletons: rebuild their meshes


class StudioScene:
    """The render view of one stage. Build once; after edits, call :meth:`sync`.

    ``scene`` holds only meshes and their materials: renderers add their own camera and
    lights (from :attr:`lights`, :attr:`cameras`) and must remove them afterwards.
    :attr:`last_sync` is the :class:`SyncStats` of the latest build or sync. Notices may
    arrive on any thread (USD sends them on the editing one; collecting them is locked), but
    ``sync()`` reads the stage: don't edit the stage while it runs.
    """

    def __init__(self, stage: Usd.Stage) -> None:
        self.stage = stage
        self.scene = pyrender.Scene(bg_color=np.zeros(4), ambient_light=np.zeros(3))
        self.lights: dict[str, StudioLight] = {}
        self.cameras: dict[str, StudioCamera] = {}
        self._meshes: dict[str, _MeshEntry] = {}
        self._materials: dict[tuple[str, bool], tuple[pyrender.Material, str]] = {}
        self._images: dict[str, np.ndarray] = {}
        self._spare_nodes: dict[str, pyrender.Node] = {}
        self._pending = _Pending()
        self._pending_lock = threading.Lock()
        self._xf = UsdGeom.XformCache(TIME)
        self._skel_cache: UsdSkel.Cache | None = None
        self._render_models: dict[str, bool] = {}
        self.last_sync = self._full(time.perf_counter())
        # Tf holds the callback weakly (we keep it), and it holds the scene weakly.
        ref = weakref.ref(self)

        def on_change(notice: Usd.Notice.ObjectsChanged, sender: Usd.Stage) -> None:
            scene = ref()
            if scene is not None:
                resynced = [str(p) for p in notice.GetResyncedPaths()]
                changed = [str(p) for p in notice.GetChangedInfoOnlyPaths()]
                with scene._pending_lock:
                    scene._pending.resynced.update(resynced)
                    scene._pending.changed.update(changed)

        self._on_change = on_change
        self._listener = Tf.Notice.Register(Usd.Notice.ObjectsChanged, on_change, stage)

    # -- public ---------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when the stage changed since the last :meth:`sync`."""
        return bool(self._pending.resynced or self._pending.changed)

    @property
    def mesh_nodes(self) -> Mapping[str, pyrender.Node]:
        """Prim path -> its pyrender node; a prim keeps its node across syncs while shown."""
        return {path: entry.node for path, entry in self._meshes.items()}

    def camera(self, path: str) -> StudioCamera:
        """The camera at ``path``; KeyError naming the stage's cameras if there is none."""
        try:
            return self.cameras[path]
        except KeyError:
            known = ", ".join(sorted(self.cameras)) or "none"
            raise KeyError(f"no camera at {path}; cameras on the stage: {known}") from None

    def close(self) -> None:
        """Stop listening to the stage (the scene stays renderable as it is)."""
        self._listener.Revoke()

    def sync(self) -> SyncStats:
        """Apply the stage changes seen since the last sync; return what was redone."""
        start = time.perf_counter()
        with self._pending_lock:
            pending, self._pending = self._pending, _Pending()
        if not pending.resynced and not pending.changed:
            return SyncStats(False, 0, 0, 0, 0.0)
        self._xf = UsdGeom.XformCache(TIME)
        self._skel_cache = None
        self._render_models = {}
        if "/" in pending.resynced:
            self.last_sync = self._full(start)
        else:
            self.last_sync = self._incremental(self._sort(pending), start)
        return self.last_sync

    # -- full and incremental sync --------------------------------------------------------

    def _full(self, start: float) -> SyncStats:
        for entry in self._meshes.values():
            self.scene.remove_node(entry.node)
            self._spare_nodes[str(entry.node.name)] = entry.node
        self._meshes.clear()
        self._materials.clear()
        self._images.clear()
        self.lights.clear()
        self.cameras.clear()
        built = self._build_subtree("/")
        self._spare_nodes.clear()
        return SyncStats(
            True,
            built,
            0,
            len(self.lights),
            time.perf_counter() - start,
            len({k[0] for k in self._materials}),
            len(self.cameras),
        )

    def _sort(self, pending: _Pending) -> _Work:
        """Sort the notices' paths into the work they call for (see the module's table)."""
        work = _Work()
        for text in pending.resynced | pending.changed:
            path = Sdf.Path(text)
            if not path.IsPropertyPath():
                # A resynced prim is rebuilt; info-only prim changes (metadata, the inert
                # overs a first edit creates) change nothing we draw.
                if text in pending.resynced:
                    work.rebuild.add(text)
                continue
            prim_path, name = str(path.GetPrimPath()), path.name
            prim = self.stage.GetPrimAtPath(prim_path)
            if not prim:
                continue
            if name.startswith("xformOp") or name == "xformOpOrder":
                work.moved.add(prim_path)
            elif name in _SUBTREE_PROPS:
                work.rebuild.add(prim_path)
            elif name.startswith("material:binding"):
                work.rebind.add(prim_path)
            elif _light_kind(prim):
                work.lights.add(prim_path)
            elif prim.IsA(UsdGeom.Camera):
                work.cameras.add(prim_path)
            elif prim.IsA(UsdSkel.Animation):
                work.posed.add(prim_path)
            elif prim.IsA(UsdSkel.Skeleton):
                work.skeletons.add(prim_path)
            elif (material := _material_of(prim)) is not None:
                work.materials.add(material)
            elif prim_path in self._meshes:
                work.meshes.add(prim_path)
        return work

    def _incremental(self, work: _Work, start: float) -> SyncStats:
        lights_before, cameras_before = dict(self.lights), dict(self.cameras)
        for stale in [k for k in self._materials if k[0] in work.materials]:
            del self._materials[stale]
        roots = _top_most(work.rebuild)
        # Outside the rebuilt subtrees: meshes whose skeleton or material was inside one
        # (those materials are rebuilt with the subtree; the meshes only need the swap).
        rebuilt_materials = {k[0] for k in self._materials if _under(k[0], roots)}
        work.skeletons.update(roots)
        rebuilt = sum(self._rebuild_subtree(root) for root in roots)
        if roots:
            work.rebind.add("/")  # a created or deleted material may change any binding
        for path, entry in list(self._meshes.items()):
            if _under(path, roots):
                continue
            skin = entry.skin
            if path in work.meshes or (skin and _under(skin.skeleton, work.skeletons)):
                rebuilt += self._rebuild_mesh(path)
            elif skin and skin.animation and _under(skin.animation, work.posed | set(roots)):
                self._reskin(path, entry)
                rebuilt += 1

        moved = 0
        for path, entry in self._meshes.items():
            anchor = entry.skin.skeleton if entry.skin else path  # skinned: the skeleton's
            if not _under(path, roots) and _under(anchor, work.moved):
                self.scene.set_pose(entry.node, self._world(anchor))
                moved += 1
        for path in work.lights | {p for p in self.lights if _under(p, work.moved)}:
            if not _under(path, roots):
                self._build_light(path)
        for path in work.cameras | {p for p in self.cameras if _under(p, work.moved)}:
            if not _under(path, roots):
                self._build_camera(path)

        updated = self._update_materials(
            work.materials | rebuilt_materials, _top_most(work.rebind), roots
        )
        return SyncStats(
            False,
            rebuilt,
            moved,
            _changed(lights_before, self.lights),
            time.perf_counter() - start,
            updated,
            _changed(cameras_before, self.cameras),
        )

    def _rebuild_subtree(self, root: str) -> int:
        for path in [p for p in self._meshes if _under(p, [root])]:
            node = self._meshes.pop(path).node
            self.scene.remove_node(node)
            self._spare_nodes[path] = node
        for path in [p for p in self.lights if _under(p, [root])]:
            del self.lights[path]
        for path in [p for p in self.cameras if _under(p, [root])]:
            del self.cameras[path]
        for key in [k for k in self._materials if _under(k[0], [root])]:
            del self._materials[key]
        prim = self.stage.GetPrimAtPath(root)
        built = 0
        if prim and prim.IsActive() and _ancestors_shown(prim):
            built = self._build_subtree(root)
        self._spare_nodes.clear()
        return built

    def _build_subtree(self, root: str) -> int:
        built = 0
        it = iter(Usd.PrimRange(self.stage.GetPrimAtPath(root), _PREDICATE))
        for p in it:
            path = str(p.GetPath())
            imageable = UsdGeom.Imageable(p)
            if imageable and imageable.GetVisibilityAttr().Get(TIME) == UsdGeom.Tokens.invisible:
                for q in Usd.PrimRange(p, _PREDICATE):  # lights stay listed, visible=False
                    if _light_kind(q):
                        self._build_light(str(q.GetPath()))
                it.PruneChildren()
            elif p.IsA(UsdGeom.Mesh) or p.GetTypeName() in _GPRIMS:
                if self._shown_purpose(p):
                    built += self._build_mesh(p)
            elif _light_kind(p):
                self._build_light(path)
            elif p.IsA(UsdGeom.Camera):
                self._build_camera(path)
        return built

    # -- meshes ---------------------------------------------------------------------------

    def _shown_purpose(self, prim: Usd.Prim) -> bool:
        """Default and render purpose; proxy only where its model has no render geometry."""
        purpose = UsdGeom.Imageable(prim).ComputePurpose()
        if purpose in (UsdGeom.Tokens.default_, UsdGeom.Tokens.render):
            return True
        if purpose != UsdGeom.Tokens.proxy:
            return False  # guide
        model = prim
        while model.GetParent() and not model.IsModel():
            model = model.GetParent()
        key = str(model.GetPath())
        if key not in self._render_models:
            self._render_models[key] = any(
                UsdGeom.Imageable(p).ComputePurpose() == UsdGeom.Tokens.render
                for p in Usd.PrimRange(model, _PREDICATE)
                if p.IsA(UsdGeom.Gprim)
            )
        return not self._render_models[key]

    def _skin_query(self, prim: Usd.Prim) -> _Skin | None:
        root = UsdSkel.Root.Find(prim)
        if not root or not prim.IsA(UsdGeom.PointBased):
            return None
        if self._skel_cache is None:
            self._skel_cache = UsdSkel.Cache()
        cache = self._skel_cache
        cache.Populate(root, _PREDICATE)
        for binding in cache.ComputeSkelBindings(root, _PREDICATE):
            for query in binding.GetSkinningTargets():
                if query.GetPrim() == prim and query.HasJointInfluences():
                    skel_query = cache.GetSkelQuery(binding.GetSkeleton())
                    if skel_query:
                        return _skin_for(query, skel_query)
        return None

    def _build_mesh(self, prim: Usd.Prim, node: pyrender.Node | None = None) -> int:
        """Convert one Mesh/Gprim into ``node`` (its old node, kept), or a new node."""
        path = str(prim.GetPath())
        double_sided = bool(UsdGeom.Gprim(prim).GetDoubleSidedAttr().Get(TIME))
        key = _bound_key(prim, double_sided)
        uv_name = self._material(key)[1] if key else "st"
        skin = None
        if prim.IsA(UsdGeom.Mesh):
            topology = _mesh_topology(UsdGeom.Mesh(prim), uv_name, want_colors=key is None)
            if topology is None:
                return 0
            skin = self._skin_query(prim)
            points = np.asarray(UsdGeom.Mesh(prim).GetPointsAttr().Get(TIME), dtype=_F32)
            if UsdShade.MaterialBindingAPI(prim).GetMaterialBindSubsets():
                log.info("%s: per-face material subsets are drawn with its prim material", path)
        else:
            gprim = _gprim_topology(prim)
            if gprim is None:
                return 0
            topology, points = gprim
        node = node or self._spare_nodes.pop(path, None) or pyrender.Node(name=path)
        entry = _MeshEntry(node, topology, key, uv_name, skin, double_sided)
        blend = None
        if skin is not None:
            points, blend = skin.points()
        self._put_mesh(node, self._pyrender_mesh(entry, points, blend))
        self.scene.set_pose(node, self._world(skin.skeleton if skin else path))
        self._meshes[path] = entry
        return 1

    def _put_mesh(self, node: pyrender.Node, mesh: pyrender.Mesh) -> None:
        """Give ``node`` a new Mesh. pyrender.Scene indexes nodes by their mesh, so the node
        leaves the scene and comes back with the new one (same Node object, same pose)."""
        if self.scene.has_node(node):
            self.scene.remove_node(node)
        node.mesh = mesh
        self.scene.add_node(node)

    def _rebuild_mesh(self, path: str) -> int:
        entry = self._meshes.pop(path)
        prim = self.stage.GetPrimAtPath(path)
        if prim and self._build_mesh(prim, entry.node):
            return 1
        self.scene.remove_node(entry.node)
        return 0

    def _reskin(self, path: str, entry: _MeshEntry) -> None:
        """New points for a posed skinned mesh: a new pyrender.Mesh in the same node."""
        # Fresh queries: UsdSkel's cached attribute queries miss a pose authored in a layer
        # that had no opinion when they were made (the first pose edit of a room).
        entry.skin = self._skin_query(self.stage.GetPrimAtPath(path))
        if entry.skin is None:
            self._rebuild_mesh(path)
            return
        points, blend = entry.skin.points()
        self._put_mesh(entry.node, self._pyrender_mesh(entry, points, blend))

    def _pyrender_mesh(
        self, entry: _MeshEntry, points: np.ndarray, blend: np.ndarray | None
    ) -> pyrender.Mesh:
        topo = entry.topology
        if topo.normals is not None and (blend is not None or entry.skin is None):
            normals = topo.normals
            if blend is not None:
                normals = np.einsum("vi,vij->vj", normals, blend[topo.point_index])
            normals = _unit(normals)
        else:
            normals = _smooth_normals(points, topo.point_triangles)[topo.point_index]
        if entry.material_key is not None:
            material = self._material(entry.material_key)[0]
        else:
            material = _display_material(topo, entry.double_sided)
        primitive = pyrender.Primitive(
            positions=points[topo.point_index],
            normals=normals,
            texcoord_0=topo.uvs,
            color_0=topo.colors if entry.material_key is None else None,
            indices=topo.triangles,
            material=material,
            mode=pyrender.constants.GLTF.TRIANGLES,
        )
        return pyrender.Mesh([primitive], name=str(entry.node.name))

    def _world(self, path: str) -> np.ndarray:
        prim = self.stage.GetPrimAtPath(path)
        return np.array(self._xf.GetLocalToWorldTransform(prim), dtype=np.float64).T

    # -- materials ------------------------------------------------------------------------

    def _material(self, key: tuple[str, bool]) -> tuple[pyrender.Material, str]:
        """The pyrender material (and UV primvar name) for a USD material, cached."""
        if key not in self._materials:
            self._materials[key] = self._convert_material(key[0], key[1])
        return self._materials[key]

    def _update_materials(self, changed: set[str], rebind: list[str], skip: list[str]) -> int:
        """Swap the ``changed`` materials (already dropped from the cache) into the meshes
        using them; re-resolve bindings under ``rebind``; leave meshes under ``skip`` alone.

        A mesh is rebuilt instead when its binding changed (its colours depend on having a
        material) or its material now reads another UV primvar.
        """
        updated: set[str] = set()
        for path, entry in list(self._meshes.items()):
            if _under(path, skip):
                continue
            key: tuple[str, bool] | None = entry.material_key
            if _under(path, rebind):
                key = _bound_key(self.stage.GetPrimAtPath(path), entry.double_sided)
            if key != entry.material_key:
                self._rebuild_mesh(path)
                updated.update(k[0] for k in (key, entry.material_key) if k)
            elif key is not None and key[0] in changed:
                material, uv_name = self._material(key)
                if uv_name != entry.uv_name:
                    self._rebuild_mesh(path)
                else:
                    for primitive in entry.node.mesh.primitives:
                        primitive.material = material
                updated.add(key[0])
        return len(updated)

    def _convert_material(self, path: str, double_sided: bool) -> tuple[pyrender.Material, str]:
        material = UsdShade.Material(self.stage.GetPrimAtPath(path))
        shader = material.ComputeSurfaceSource()[0] if material else None
        if not shader or shader.GetIdAttr().Get() != "UsdPreviewSurface":
            log.info("%s: no UsdPreviewSurface; drawn as the default grey", path)
            return _display_material(None, double_sided), "st"
        inputs = {name: _surface_input(shader, name) for name in _PREVIEW_DEFAULTS}
        uv_name = next((t.uv_name for _, t in inputs.values() if t is not None), "st")
        textures = {name: self._texture_image(name, c, t) for name, (c, t) in inputs.items()}

        diffuse = tuple(float(x) for x in inputs["diffuseColor"][0])
        opacity = float(inputs["opacity"][0])
        threshold = float(inputs["opacityThreshold"][0])
        kwargs: dict[str, Any] = {
            "baseColorFactor": (*diffuse, opacity),
            "metallicFactor": float(inputs["metallic"][0]),
            "roughnessFactor": float(inputs["roughness"][0]),
            "emissiveFactor": tuple(float(x) for x in inputs["emissiveColor"][0]),
            "doubleSided": double_sided,
            "name": path,
        }
        base = textures["diffuseColor"]
        if base is not None:
            image, sampler = base
            alpha = textures["opacity"]
            if alpha is not None and alpha[0].shape[:2] == image.shape[:2]:
                image = np.concatenate([image[:, :, :3], alpha[0][:, :, :1]], axis=2)
                kwargs["baseColorFactor"] = (1.0, 1.0, 1.0, 1.0)
            else:
                kwargs["baseColorFactor"] = (1.0, 1.0, 1.0, opacity)
            kwargs["baseColorTexture"] = _texture(image, sampler)
        if textures["emissiveColor"] is not None:
            kwargs["emissiveTexture"] = _texture(*textures["emissiveColor"])
            kwargs["emissiveFactor"] = (1.0, 1.0, 1.0)
        if textures["normal"] is not None:
            kwargs["normalTexture"] = _texture(*textures["normal"])
        if textures["occlusion"] is not None:
            kwargs["occlusionTexture"] = _texture(*textures["occlusion"])
        rough, metal = textures["roughness"], textures["metallic"]
        if rough is not None or metal is not None:
            kwargs["metallicRoughnessTexture"] = _metallic_roughness(
                rough, metal, kwargs["roughnessFactor"], kwargs["metallicFactor"]
            )
            kwargs["roughnessFactor"] = kwargs["metallicFactor"] = 1.0
        if threshold > 0:
            kwargs.update(alphaMode="MASK", alphaCutoff=threshold)
        elif opacity < 1.0 or textures["opacity"] is not None:
            kwargs["alphaMode"] = "BLEND"
        return pyrender.MetallicRoughnessMaterial(**kwargs), uv_name

    def _texture_image(
        self, name: str, constant: Any, ref: _TextureRef | None
    ) -> tuple[np.ndarray, pyrender.Sampler] | None:
        """The channels ``ref`` feeds ``name`` with, or None (with a warning if it's missing)."""
        if ref is None:
            return None
        resolved = str(ref.asset.resolvedPath)
        image = self._images.get(resolved) if resolved else None
        if image is None:
            try:
                if not resolved:
                    raise FileNotFoundError("the asset resolver can't find it")
                image = _load_image(resolved)
            except Exception as exc:
                log.warning(
                    "texture %s (from %s, for %s) can't be used: %s; using the constant %s",
                    ref.asset.path,
                    ref.shader,
                    name,
                    exc,
                    constant,
                )
                return None
            self._images[resolved] = image
        channel = ref.channel or "rgb"
        if name in ("metallic", "roughness", "opacity", "occlusion") and len(channel) > 1:
            channel = "r"
        sampler = pyrender.Sampler(
            wrapS=_GL_WRAP.get(ref.wrap_s, _GL_WRAP["repeat"]),
            wrapT=_GL_WRAP.get(ref.wrap_t, _GL_WRAP["repeat"]),
        )
        return _channels(image, channel), sampler

    # -- lights and cameras ---------------------------------------------------------------

    def _build_light(self, path: str) -> None:
        prim = self.stage.GetPrimAtPath(path)
        kind = _light_kind(prim) if prim and prim.IsActive() else None
        if kind is None:
            self.lights.pop(path, None)
            return
        self.lights[path] = _studio_light(prim, kind, self._world(path))

    def _build_camera(self, path: str) -> None:
        prim = self.stage.GetPrimAtPath(path)
        if not prim or not prim.IsActive() or not prim.IsA(UsdGeom.Camera):
            self.cameras.pop(path, None)
            return
        self.cameras[path] = _studio_camera(UsdGeom.Camera(prim), self._world(path))


def _changed(before: Mapping[str, object], after: Mapping[str, object]) -> int:
    """How many entries were added, removed or replaced."""
    return sum(1 for p in before.keys() | after.keys() if before.get(p) is not after.get(p))


def _material_of(prim: Usd.Prim) -> str | None:
    """The Material ``prim`` is (or is inside), e.g. a shader's."""
    p = prim
    while p and not p.IsPseudoRoot():
        if p.IsA(UsdShade.Material):
            return str(p.GetPath())
        p = p.GetParent()
    return None


def _bound_key(prim: Usd.Prim, double_sided: bool) -> tuple[str, bool] | None:
    # The preview binding (else the all-purpose one): UsdPreviewSurface is what we read.
    binding = UsdShade.MaterialBindingAPI(prim)
    material = binding.ComputeBoundMaterial(UsdShade.Tokens.preview)[0]
    return (str(material.GetPath()), double_sided) if material else None


def _ancestors_shown(prim: Usd.Prim) -> bool:
    p = prim.GetParent()
    while p and not p.IsPseudoRoot():
        if not p.IsActive():
            return False
        im = UsdGeom.Imageable(p)
        if im and im.GetVisibilityAttr().Get(TIME) == UsdGeom.Tokens.invisible:
            return False
        p = p.GetParent()
    return True


def _display_material(topo: _Topology | None, double_sided: bool) -> pyrender.Material:
    """A plain dielectric for meshes without a material: displayColor, else grey 0.5.

    Varying colours ride on the vertices (pyrender multiplies them into the base colour).
    """
    base = (0.5, 0.5, 0.5, 1.0)
    blend = False
    if topo is not None and topo.display is not None:
        base = topo.display
        blend = base[3] < 1.0
    elif topo is not None and topo.colors is not None:
        base = (1.0, 1.0, 1.0, 1.0)
        blend = bool((topo.colors[:, 3] < 1.0).any())
    return pyrender.MetallicRoughnessMaterial(
        baseColorFactor=base,
        metallicFactor=0.0,
        roughnessFactor=0.5,
        doubleSided=double_sided,
        alphaMode="BLEND" if blend else "OPAQUE",
    )


def _texture(image: np.ndarray, sampler: pyrender.Sampler) -> pyrender.Texture:
    channels = {1: "R", 2: "RG", 3: "RGB", 4: "RGBA"}[image.shape[2]]
    source = np.ascontiguousarray(image)
    return pyrender.Texture(source=source, source_channels=channels, sampler=sampler)


def _metallic_roughness(
    rough: tuple[np.ndarray, pyrender.Sampler] | None,
    metal: tuple[np.ndarray, pyrender.Sampler] | None,
    roughness: float,
    metallic: float,
) -> pyrender.Texture:
    """pyrender wants one texture: roughness in G, metallic in B (glTF)."""
    first = rough or metal
    assert first is not None
    h, w = first[0].shape[:2]
    out = np.zeros((h, w, 3), dtype=np.uint8)
    for channel, src, const in ((1, rough, roughness), (2, metal, metallic)):
        if src is None:
            out[:, :, channel] = round(const * 255)
        elif src[0].shape[:2] == (h, w):
            out[:, :, channel] = src[0][:, :, 0]
        else:  # different resolutions: nearest-neighbour resample onto the first one
            ys = np.arange(h) * src[0].shape[0] // h
            xs = np.arange(w) * src[0].shape[1] // w
            out[:, :, channel] = src[0][ys][:, xs, 0]
    return _texture(out, first[1])


def _studio_light(prim: Usd.Prim, kind: str, world: np.ndarray) -> StudioLight:
    light = UsdLux.LightAPI(prim)

    def get(attr: Usd.Attribute, default: Any) -> Any:
        v = attr.Get(TIME) if attr else None
        return default if v is None else v

    def shape(name: str) -> float:
        return float(get(prim.GetAttribute(f"inputs:{name}"), 0.0))

    color = np.array(get(light.GetColorAttr(), (1.0, 1.0, 1.0)), dtype=np.float64)
    if get(light.GetEnableColorTemperatureAttr(), False):
        temperature = float(get(light.GetColorTemperatureAttr(), 6500.0))
        color = color * np.array(UsdLux.BlackbodyTemperatureAsRgb(temperature))
    intensity = float(get(light.GetIntensityAttr(), 1.0))
    exposure = float(get(light.GetExposureAttr(), 0.0))
    cone = prim.GetAttribute("inputs:shaping:cone:angle")
    shaped = prim.HasAPI(UsdLux.ShapingAPI) or (cone and cone.HasAuthoredValue())
    imageable = UsdGeom.Imageable(prim)
    return StudioLight(
        path=str(prim.GetPath()),
        kind=kind,
        world=world,
        color=(float(color[0]), float(color[1]), float(color[2])),
        luminance=intensity * 2.0**exposure,
        normalize=bool(get(light.GetNormalizeAttr(), False)),
        width=shape("width") if kind == "rect" else 0.0,
        height=shape("height") if kind == "rect" else 0.0,
        radius=shape("radius") if kind in ("sphere", "disk", "cylinder") else 0.0,
        length=shape("length") if kind == "cylinder" else 0.0,
        angle_deg=shape("angle") if kind == "distant" else 0.0,
        cone_angle_deg=float(get(cone, 90.0)) if shaped else None,
        cone_softness=float(get(prim.GetAttribute("inputs:shaping:cone:softness"), 0.0)),
        focus=float(get(prim.GetAttribute("inputs:shaping:focus"), 0.0)),
        shadow=bool(get(prim.GetAttribute("inputs:shadow:enable"), True)),
        visible=(not imageable or imageable.ComputeVisibility(TIME) != UsdGeom.Tokens.invisible),
    )


def _studio_camera(camera: UsdGeom.Camera, world: np.ndarray) -> StudioCamera:
    def get(attr: Usd.Attribute, default: float) -> float:
        v = attr.Get(TIME)
        return default if v is None else float(v)

    clipping = camera.GetClippingRangeAttr().Get(TIME) or Gf.Vec2f(1.0, 1e6)
    scale = float(camera.ComputeLinearExposureScale(TIME))
    return StudioCamera(
        path=str(camera.GetPath()),
        world=world,
        focal_length_mm=get(camera.GetFocalLengthAttr(), 50.0),
        h_aperture_mm=get(camera.GetHorizontalApertureAttr(), 20.955),
        v_aperture_mm=get(camera.GetVerticalApertureAttr(), 15.2908),
        near=float(clipping[0]),
        far=float(clipping[1]),
        f_stop=get(camera.GetFStopAttr(), 0.0),
        focus_distance=get(camera.GetFocusDistanceAttr(), 0.0),
        exposure=math.log2(scale) if scale > 0 else 0.0,
    )
