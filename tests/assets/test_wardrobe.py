"""The default wardrobe on the shipped twin (stages/twin): looks, skinning, fit in poses.

"Stays on the body" is measured with UsdSkel's own skinning, in the rest pose, in every
pose of the pose library and in a reach-and-step pose of our own: no garment point may
sink more than TOLERANCE under the skin of the body segment carrying it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdSkel

from assets.dressed_twin import (
    POSES,
    TWIN_DIR,
    depth_inside_own_skin,
    dressed_stage,
    joint_names,
    rotate_joints,
    segment_groups,
    skinned_meshes,
)
from twinstudio.assets.wardrobe.build import LOOK_KEY
from twinstudio.assets.wardrobe.looks import LOOKS

TOLERANCE = 0.004  # m
VERTEX_BUDGET = 40_000  # body + one look, skinned on the render node's CPU


def _pose_names() -> list[str]:
    library = Usd.Stage.Open(str(POSES))
    return [p.GetName() for p in library.GetPrimAtPath("/Poses").GetChildren()]


POSE_NAMES = _pose_names()
REACH_AND_STEP = {  # joint-local turns from rest: an arm up and out, a knee lifted, a twist
    "upperarm_l": (Gf.Vec3d(0, 0, 1), 70.0),
    "lowerarm_l": (Gf.Vec3d(1, 0, 0), 60.0),
    "thigh_r": (Gf.Vec3d(1, 0, 0), -50.0),
    "calf_r": (Gf.Vec3d(1, 0, 0), 70.0),
    "spine_02": (Gf.Vec3d(0, 1, 0), 15.0),
}


@pytest.fixture(scope="module")
def wardrobe() -> Usd.Stage:
    return Usd.Stage.Open(str(TWIN_DIR / "wardrobe.usdc"))


def test_looks_cover_tops_trousers_skirts_dresses_and_jackets(wardrobe: Usd.Stage) -> None:
    root = wardrobe.GetDefaultPrim()
    assert root.GetPath() == "/Wardrobe"
    looks = {p.GetName(): p for p in root.GetChildren()}
    assert len(looks) >= 4
    variants = [looks[n].GetCustomData()[LOOK_KEY] for n in looks]
    assert len(set(variants)) == len(variants)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", v) for v in variants)
    garments = {p.GetName() for look in looks.values() for p in look.GetChildren()}
    assert {"Trousers", "Jacket", "Shoes"} <= garments
    assert garments & {"Tee", "Shirt", "Top"} and garments & {"Skirt", "Dress"}


def test_garments_are_skinned_cloth_that_inherits_the_skeleton(wardrobe: Usd.Stage) -> None:
    for prim in wardrobe.Traverse():
        if not prim.IsA(UsdGeom.Mesh):
            continue
        skin = UsdSkel.BindingAPI(prim)
        assert prim.HasAPI(UsdSkel.BindingAPI), prim.GetPath()
        assert not skin.GetSkeletonRel().HasAuthoredTargets(), "inherits the twin's binding"
        idx, w = skin.GetJointIndicesPrimvar(), skin.GetJointWeightsPrimvar()
        assert idx.GetElementSize() == w.GetElementSize() == 4
        assert idx.GetInterpolation() == w.GetInterpolation() == UsdGeom.Tokens.vertex
        weights = np.asarray(w.Get()).reshape(-1, 4)
        assert len(weights) == len(UsdGeom.Mesh(prim).GetPointsAttr().Get())
        assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
        assert skin.GetGeomBindTransformAttr().HasAuthoredValue()
        material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
        assert str(material.GetPath()).startswith(f"{prim.GetParent().GetPath()}/Materials/")
        surface = UsdShade.Shader(wardrobe.GetPrimAtPath(f"{material.GetPath()}/Surface"))
        assert surface.GetIdAttr().Get() == "UsdPreviewSurface"
        assert 0.4 <= surface.GetInput("roughness").Get() <= 0.95
        assert surface.GetInput("diffuseColor").Get() is not None


@pytest.mark.parametrize("look", [look.prim for look in LOOKS])
def test_garments_stay_on_the_body_at_rest_and_in_every_pose(look: str) -> None:
    poses: list[tuple[str | None, dict[str, tuple[Gf.Vec3d, float]]]] = [(None, {})]
    poses += [(name, {}) for name in POSE_NAMES] + [(None, REACH_AND_STEP)]
    assert len(poses) >= 5
    worst: dict[str, float] = {}
    for pose, turns in poses:
        stage = dressed_stage(TWIN_DIR, look, pose)
        rotate_joints(stage, turns)
        groups = segment_groups(joint_names(stage))
        meshes = skinned_meshes(stage)
        body = meshes["/Twin/Body"]
        garments = {p: m for p, m in meshes.items() if p.startswith("/Twin/Wardrobe/")}
        assert garments, f"{look} has no skinned garments under the twin"
        for path, garment in garments.items():
            depth = float(depth_inside_own_skin(body, garment, groups).max())
            key = f"{path.rsplit('/', 1)[-1]} in {pose or ('reach' if turns else 'rest')}"
            worst[key] = depth
    sunk = {k: round(v * 1000, 1) for k, v in worst.items() if v > TOLERANCE}
    assert not sunk, f"garment points this many mm under the skin: {sunk}"


def test_hair_stays_on_the_head_in_every_pose() -> None:
    for pose in POSE_NAMES:
        stage = dressed_stage(TWIN_DIR, None, pose)
        meshes = skinned_meshes(stage)
        groups = segment_groups(joint_names(stage))
        depth = depth_inside_own_skin(meshes["/Twin/Body"], meshes["/Twin/Hair"], groups)
        assert depth.max() < TOLERANCE, pose


def test_switching_the_look_changes_the_geometry() -> None:
    """The shot's ``wardrobe`` variant set, reduced to its essentials."""
    stage = Usd.Stage.Open(Sdf.Layer.CreateAnonymous(".usda"))
    twin = stage.DefinePrim("/Twin", "SkelRoot")
    twin.GetReferences().AddReference(str(TWIN_DIR / "twin.usdc"))
    looks = twin.GetVariantSets().AddVariantSet("wardrobe")
    for look in LOOKS:
        looks.AddVariant(look.variant)
        looks.SetVariantSelection(look.variant)
        with looks.GetVariantEditContext():
            wardrobe = stage.DefinePrim("/Twin/Wardrobe", "Xform")
            wardrobe.GetReferences().AddReference(
                str(TWIN_DIR / "wardrobe.usdc"), f"/Wardrobe/{look.prim}"
            )
    seen: dict[str, tuple[tuple[str, int], ...]] = {}
    for look in LOOKS:
        looks.SetVariantSelection(look.variant)
        root = UsdSkel.Root(twin)
        cache = UsdSkel.Cache()
        cache.Populate(root, Usd.PrimDefaultPredicate)
        (binding,) = cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate)
        garments = tuple(
            sorted(
                (str(q.GetPrim().GetPath()), len(UsdGeom.Mesh(q.GetPrim()).GetPointsAttr().Get()))
                for q in binding.GetSkinningTargets()
                if str(q.GetPrim().GetPath()).startswith("/Twin/Wardrobe/")
            )
        )
        assert garments, look.variant
        seen[look.variant] = garments
    assert len(set(seen.values())) == len(LOOKS)


@pytest.mark.parametrize("look", [look.prim for look in LOOKS])
def test_a_dressed_twin_stays_cheap_to_skin(look: str) -> None:
    meshes = skinned_meshes(dressed_stage(TWIN_DIR, look, None))
    assert sum(len(m.points) for m in meshes.values()) < VERTEX_BUDGET
