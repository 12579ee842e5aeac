"""The twin dressed in a look and posed, skinned by UsdSkel, for the twin and wardrobe tests.

:func:`dressed_stage` composes, in memory, what the shot does: the twin asset as a SkelRoot,
a wardrobe look referenced under it as ``Wardrobe`` (so its garments inherit the twin's
skeleton binding) and a SkelAnimation (a pose of the library, or rotations of our own).
:func:`skinned_meshes` poses every skinned mesh with UsdSkel's own skinning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pxr import Gf, Sdf, Usd, UsdGeom, UsdSkel, Vt

from twinstudio.assets.wardrobe.surface import SkinSurface, triangulate

REPO = Path(__file__).resolve().parents[2]
TWIN_DIR = REPO / "stages" / "twin"
POSES = TWIN_DIR / "poses.usda"
TIME = Usd.TimeCode.Default()


def dressed_stage(assets: Path, look: str | None = None, pose: str | None = None) -> Usd.Stage:
    """The twin of ``assets`` (twin.usdc, wardrobe.usdc) wearing ``look`` (a child of
    /Wardrobe), posed by ``pose`` (a SkelAnimation of the pose library) or at rest."""
    layer = Sdf.Layer.CreateAnonymous(".usda")
    stage = Usd.Stage.Open(layer)
    twin = stage.DefinePrim("/Twin", "SkelRoot")
    twin.GetReferences().AddReference(str(assets / "twin.usdc"))
    anim = stage.DefinePrim("/Twin/Pose", "SkelAnimation")
    if pose is not None:
        anim.GetReferences().AddReference(str(POSES), f"/Poses/{pose}")
    else:  # the rest pose, as an animation (so tests can edit it)
        skel = UsdSkel.Skeleton(stage.GetPrimAtPath("/Twin/Skel"))
        rest = skel.GetRestTransformsAttr().Get()
        a = UsdSkel.Animation(anim)
        a.CreateJointsAttr(skel.GetJointsAttr().Get())
        a.SetTransforms(rest, TIME)
    binding = UsdSkel.BindingAPI.Apply(stage.GetPrimAtPath("/Twin/Skel"))
    binding.CreateAnimationSourceRel().SetTargets([anim.GetPath()])
    if look is not None:
        wardrobe = stage.DefinePrim("/Twin/Wardrobe", "Xform")
        wardrobe.GetReferences().AddReference(str(assets / "wardrobe.usdc"), f"/Wardrobe/{look}")
    return stage


def rotate_joints(stage: Usd.Stage, offsets: dict[str, tuple[Gf.Vec3d, float]]) -> None:
    """Turn joints (by name) from their current rotation about a joint-local axis (degrees)."""
    anim = UsdSkel.Animation(stage.GetPrimAtPath("/Twin/Pose"))
    names = [str(j).rsplit("/", 1)[-1] for j in anim.GetJointsAttr().Get()]
    rotations = list(anim.GetRotationsAttr().Get())
    for name, (axis, degrees) in offsets.items():
        i = names.index(name)
        turn = Gf.Quatf(Gf.Rotation(axis, degrees).GetQuat())
        rotations[i] = (rotations[i] * turn).GetNormalized()
    anim.GetRotationsAttr().Set(Vt.QuatfArray(rotations))


@dataclass(frozen=True)
class Skinned:
    """A posed mesh: points, topology and dense (points, joints) skin weights."""

    points: np.ndarray
    counts: np.ndarray
    indices: np.ndarray
    weights: np.ndarray


def skinned_meshes(stage: Usd.Stage) -> dict[str, Skinned]:
    """Every mesh bound to the twin's skeleton, posed by UsdSkel, keyed by prim path."""
    root = UsdSkel.Root(stage.GetPrimAtPath("/Twin"))
    cache = UsdSkel.Cache()
    cache.Populate(root, Usd.PrimDefaultPredicate)
    out: dict[str, Skinned] = {}
    for binding in cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate):
        skel_query = cache.GetSkelQuery(binding.GetSkeleton())
        xforms = skel_query.ComputeSkinningTransforms(TIME)
        n_joints = len(skel_query.GetJointOrder())
        for query in binding.GetSkinningTargets():
            mesh = UsdGeom.Mesh(query.GetPrim())
            points = Vt.Vec3fArray(mesh.GetPointsAttr().Get())
            assert query.ComputeSkinnedPoints(xforms, points, TIME)
            idx, w = query.ComputeVaryingJointInfluences(len(points), TIME)
            k = query.GetNumInfluencesPerComponent()
            dense = np.zeros((len(points), n_joints))
            rows = np.arange(len(points))[:, None]
            np.add.at(dense, (rows, np.asarray(idx).reshape(-1, k)), np.asarray(w).reshape(-1, k))
            out[str(query.GetPrim().GetPath())] = Skinned(
                np.asarray(points, dtype=np.float64),
                np.asarray(mesh.GetFaceVertexCountsAttr().Get(), dtype=np.int64),
                np.asarray(mesh.GetFaceVertexIndicesAttr().Get(), dtype=np.int64),
                dense,
            )
    return out


def joint_names(stage: Usd.Stage) -> list[str]:
    skel = UsdSkel.Skeleton(stage.GetPrimAtPath("/Twin/Skel"))
    return [str(j).rsplit("/", 1)[-1] for j in skel.GetJointsAttr().Get()]


SEGMENTS = (
    ("upperarm",),
    ("lowerarm", "hand", "thumb", "index", "middle", "ring", "pinky"),
    ("thigh",),
    ("calf",),
    ("foot",),
    ("ball",),
)


def segment_groups(names: list[str]) -> np.ndarray:
    """(joints, 13) one-hot body segments: the trunk (pelvis, spine, clavicles, neck,
    head), and on each side upper arm, forearm with hand, thigh, shin, foot, toes."""
    out = np.zeros((len(names), 1 + 2 * len(SEGMENTS)))
    for j, n in enumerate(names):
        col = 0
        for s, prefixes in enumerate(SEGMENTS):
            if n.startswith(prefixes):
                col = 1 + 2 * s + (1 if n.endswith("_r") else 0)
        out[j, col] = 1
    return out


def depth_inside_own_skin(body: Skinned, garment: Skinned, groups: np.ndarray) -> np.ndarray:
    """How far (m, > 0 = inside) each garment point sits under the skin that carries it.

    A point counts as inside only if it is behind both the whole body's surface and the
    skin of its own body segment (the segment its weights belong to). So a hand resting
    on a skirt, or a forearm folded against the upper arm at a bent elbow, doesn't count:
    skinning can't make cloth slide away from another segment pressing into it (that
    needs cloth simulation), but it must keep each garment on the skin it was fitted to."""
    tris = triangulate(body.counts, body.indices)
    whole, _ = SkinSurface(body.points, tris).signed_distance(garment.points)
    body_segment = np.argmax(body.weights @ groups, axis=1)
    garment_segment = np.argmax(garment.weights @ groups, axis=1)
    own = np.full(len(garment.points), np.inf)
    for g in range(groups.shape[1]):
        sel = garment_segment == g
        seg_tris = tris[(body_segment[tris] == g).all(axis=1)]
        if sel.any() and len(seg_tris):
            own[sel], _ = SkinSurface(body.points, seg_tris).signed_distance(garment.points[sel])
    depth: np.ndarray = -np.maximum(whole, own)
    return depth
