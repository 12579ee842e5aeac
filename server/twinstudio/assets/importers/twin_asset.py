"""The layout of an imported twin asset, the same as the studio's own twin.

::

    #usda (metersPerUnit = 1, upAxis = "Y", defaultPrim = <Name>)
    def SkelRoot "<Name>" (kind = component, customData twinstudio:identity = "locked")
        rel skel:skeleton = </<Name>/Skel>
        def Skeleton "Skel"          joints, bindTransforms, restTransforms;
                                     skel:animationSource = </<Name>/Pose>
        def SkelAnimation "Pose"     the rest pose, as values: what the studio's pose op edits
        def SkelAnimation "Animation" the source's animation, time-sampled (unbound)
        def Mesh "<mesh>" ...        skinned meshes (jointIndices/jointWeights primvars)
        def Scope "Materials"        UsdPreviewSurface materials

A shot references it like ``stages/twin/twin_default.usda`` and poses it by editing
``/<Name>/Pose.rotations``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pxr import Gf, Kind, Sdf, Tf, Usd, UsdGeom, UsdShade, UsdSkel, Vt

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
RESERVED = frozenset({"Skel", "Pose", "Animation", "Materials", "Wardrobe"})


@dataclass
class SkinnedMesh:
    name: str
    points: F64
    face_counts: I64
    face_indices: I64
    normals: F64 | None = None
    st: F64 | None = None  # per vertex
    joint_indices: I64 | None = None  # None: a static mesh
    joint_weights: F64 | None = None
    element_size: int = 0
    rigid: bool = False  # one constant influence
    material: str | None = None  # a Materials child name
    double_sided: bool = False


def usd_matrices(m: F64) -> Vt.Matrix4dArray:
    """(N, 4, 4) column-vector matrices -> USD's row-vector Matrix4dArray."""
    return Vt.Matrix4dArray.FromNumpy(np.ascontiguousarray(np.transpose(m, (0, 2, 1))))


def unique_name(raw: str, used: set[str]) -> str:
    """A valid prim name from ``raw``, not in ``used`` (which it joins)."""
    base = Tf.MakeValidIdentifier(raw) or "Mesh"
    name, k = base, 1
    while name in used or name in RESERVED:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


def define_root(stage: Usd.Stage, name: str, source: str, *, locked: bool) -> Usd.Prim:
    """The asset's root SkelRoot with its model kind, assetInfo and stage metadata."""
    root = UsdSkel.Root.Define(stage, f"/{name}").GetPrim()
    stage.SetDefaultPrim(root)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    Usd.ModelAPI(root).SetKind(Kind.Tokens.component)
    root.SetAssetInfo({"name": name, "version": "1", "source": source})
    if locked:
        root.SetCustomData({"twinstudio:identity": "locked"})
    return root


def write_skeleton(
    stage: Usd.Stage, root: Usd.Prim, tokens: Sequence[str], bind: F64, rest: F64
) -> UsdSkel.Skeleton:
    """Skeleton ``Skel`` (bind/rest as (J,4,4) column-vector matrices), bound at the root,
    with a ``Pose`` animation holding the rest pose as its values."""
    path = root.GetPath()
    skel = UsdSkel.Skeleton.Define(stage, path.AppendChild("Skel"))
    skel.CreateJointsAttr(Vt.TokenArray(list(tokens)))
    skel.CreateJointNamesAttr(Vt.TokenArray([t.rsplit("/", 1)[-1] for t in tokens]))
    skel.CreateBindTransformsAttr(usd_matrices(bind))
    skel.CreateRestTransformsAttr(usd_matrices(rest))
    skel.CreatePurposeAttr(UsdGeom.Tokens.guide)
    UsdSkel.BindingAPI.Apply(root).CreateSkeletonRel().SetTargets([skel.GetPath()])
    pose = write_animation(stage, path.AppendChild("Pose"), tokens, rest[None], None)
    UsdSkel.BindingAPI.Apply(skel.GetPrim()).CreateAnimationSourceRel().SetTargets([pose.GetPath()])
    return skel


def write_animation(
    stage: Usd.Stage,
    path: Sdf.Path,
    tokens: Sequence[str],
    locals_: F64,
    time_codes: F64 | None,
) -> UsdSkel.Animation:
    """A SkelAnimation of (T, J, 4, 4) joint-local transforms: values if ``time_codes`` is
    None (T == 1), else one time sample per time code. Raises ValueError if a transform
    is singular or shears (a SkelAnimation holds only translate/rotate/scale)."""
    anim = UsdSkel.Animation.Define(stage, path)
    anim.CreateJointsAttr(Vt.TokenArray(list(tokens)))
    attrs = (anim.CreateTranslationsAttr(), anim.CreateRotationsAttr(), anim.CreateScalesAttr())
    for i, frame in enumerate(locals_):
        matrices = usd_matrices(frame)
        try:
            trs = UsdSkel.DecomposeTransforms(matrices)
        except Tf.ErrorException:
            raise ValueError("a joint transform is singular") from None
        # Shear decomposes silently into something else: check it round-trips (to within
        # the half-precision scales).
        back = np.array(UsdSkel.MakeTransforms(*trs))
        if np.abs(back - np.array(matrices)).max() > 2e-3 * max(1.0, np.abs(frame).max()):
            raise ValueError("a joint transform shears and can't be a SkelAnimation")
        time = Usd.TimeCode.Default() if time_codes is None else Usd.TimeCode(time_codes[i])
        for attr, value in zip(attrs, trs, strict=True):
            attr.Set(value, time)
    return anim


def write_mesh(stage: Usd.Stage, root: Usd.Prim, mesh: SkinnedMesh) -> UsdGeom.Mesh:
    usd = UsdGeom.Mesh.Define(stage, root.GetPath().AppendChild(mesh.name))
    points = Vt.Vec3fArray.FromNumpy(mesh.points.astype(np.float32))
    usd.CreatePointsAttr(points)
    usd.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(mesh.face_counts.astype(np.int32)))
    usd.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(mesh.face_indices.astype(np.int32)))
    usd.CreateExtentAttr(UsdGeom.PointBased.ComputeExtent(points))
    usd.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)  # polygons as authored
    if mesh.double_sided:
        usd.CreateDoubleSidedAttr(True)
    if mesh.normals is not None:
        usd.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(mesh.normals.astype(np.float32)))
        usd.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    if mesh.st is not None:
        st = UsdGeom.PrimvarsAPI(usd).CreatePrimvar(
            "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex
        )
        st.Set(Vt.Vec2fArray.FromNumpy(mesh.st.astype(np.float32)))
    if mesh.joint_indices is not None and mesh.joint_weights is not None:
        binding = UsdSkel.BindingAPI.Apply(usd.GetPrim())
        k = mesh.element_size
        binding.CreateJointIndicesPrimvar(mesh.rigid, k).Set(
            Vt.IntArray.FromNumpy(mesh.joint_indices.astype(np.int32))
        )
        binding.CreateJointWeightsPrimvar(mesh.rigid, k).Set(
            Vt.FloatArray.FromNumpy(mesh.joint_weights.astype(np.float32))
        )
        binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
    if mesh.material:
        path = root.GetPath().AppendChild("Materials").AppendChild(mesh.material)
        UsdShade.MaterialBindingAPI.Apply(usd.GetPrim()).Bind(UsdShade.Material.Get(stage, path))
    return usd
