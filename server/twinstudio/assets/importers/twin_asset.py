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

import numpy as np
from pxr import Kind, Sdf, Tf, Usd, UsdGeom, UsdSkel, Vt

from twinstudio.assets.authoring import FloatArray, new_stage, usd_matrices

RESERVED = frozenset({"Skel", "Pose", "Animation", "Materials", "Wardrobe"})


def unique_name(raw: str, used: set[str]) -> str:
    """A valid prim name from ``raw``, not in ``used`` (which it joins)."""
    base = Tf.MakeValidIdentifier(raw) or "Mesh"
    name, k = base, 1
    while name in used or name in RESERVED:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


def new_asset(name: str, source: str, *, locked: bool) -> tuple[Usd.Stage, Usd.Prim]:
    """An in-memory stage (metres, Y up) whose default prim is the asset's root SkelRoot,
    with its model kind and assetInfo (``source``: the imported file's name)."""
    stage, root = new_stage(name, "SkelRoot")
    Usd.ModelAPI(root).SetKind(Kind.Tokens.component)
    root.SetAssetInfo({"name": name, "version": "1", "source": source})
    if locked:
        root.SetCustomData({"twinstudio:identity": "locked"})
    return stage, root


def write_skeleton(
    stage: Usd.Stage, root: Usd.Prim, tokens: Sequence[str], bind: FloatArray, rest: FloatArray
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
    locals_: FloatArray,
    time_codes: FloatArray | None,
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
