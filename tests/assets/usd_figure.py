"""A small skinned USD "figure" in centimetres and Z up, written with pxr, for import tests.

A 170 cm tube standing on z=0, three joints up its middle (frames with +Y along the bone,
as the studio's twin), two influences per vertex, an animation bound with time samples
only, and optionally a texture (for .usdz packaging) or a broken skeleton binding.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image
from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdSkel, UsdUtils, Vt

HEIGHT_CM = 170.0
RADIUS_CM = 15.0
JOINT_HEIGHTS_CM = (90.0, 115.0, 140.0)
JOINTS = ["Hips", "Hips/Spine", "Hips/Spine/Chest"]
TEXTURE_RGB = (40, 160, 90)


def _frame(height: float) -> Gf.Matrix4d:
    """A joint frame at ``height`` with local +Y along world +Z (up)."""
    m = Gf.Matrix4d(1.0)
    m.SetRotateOnly(Gf.Rotation(Gf.Vec3d(1, 0, 0), 90))
    m.SetTranslateOnly(Gf.Vec3d(0, 0, height))
    return m


def tube(rings: int = 18, sides: int = 12) -> tuple[np.ndarray, list[int], list[int]]:
    pts = []
    for i in range(rings):
        z = HEIGHT_CM * i / (rings - 1)
        for k in range(sides):
            a = 2 * math.pi * k / sides
            pts.append((RADIUS_CM * math.cos(a), RADIUS_CM * math.sin(a), z))
    counts, indices = [], []
    for i in range(rings - 1):
        for k in range(sides):
            a, b = i * sides + k, i * sides + (k + 1) % sides
            counts.append(4)
            indices += [a, b, b + sides, a + sides]
    return np.asarray(pts), counts, indices


def weights_for(points: np.ndarray) -> tuple[list[int], list[float]]:
    """Two influences per vertex, blending the joints below and above its height."""
    idx, w = [], []
    h = JOINT_HEIGHTS_CM
    for z in points[:, 2]:
        if z <= h[0]:
            idx += [0, 1]
            w += [1.0, 0.0]
        elif z >= h[2]:
            idx += [2, 1]
            w += [1.0, 0.0]
        else:
            j = 0 if z < h[1] else 1
            u = (z - h[j]) / (h[j + 1] - h[j])
            idx += [j, j + 1]
            w += [1.0 - u, u]
    return idx, w


def write_figure(
    path: Path,
    *,
    meters_per_unit: float = 0.01,
    up: str = "Z",
    texture: bool = False,
    skeleton_target: str | None = None,
    with_skeleton: bool = True,
) -> Path:
    """Write the figure to ``path`` (.usda); with ``texture`` also a PNG beside it."""
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageMetersPerUnit(stage, meters_per_unit)
    UsdGeom.SetStageUpAxis(stage, up)
    root = UsdSkel.Root.Define(stage, "/Figure")
    stage.SetDefaultPrim(root.GetPrim())
    binds = [_frame(h) for h in JOINT_HEIGHTS_CM]
    if with_skeleton:
        skel = UsdSkel.Skeleton.Define(stage, "/Figure/Skel")
        skel.CreateJointsAttr(JOINTS)
        skel.CreateBindTransformsAttr(Vt.Matrix4dArray(binds))
        rest = [binds[0]] + [binds[i] * binds[i - 1].GetInverse() for i in (1, 2)]
        skel.CreateRestTransformsAttr(Vt.Matrix4dArray(rest))
        anim = UsdSkel.Animation.Define(stage, "/Figure/Walk")
        anim.CreateJointsAttr(JOINTS)
        t, r, s = UsdSkel.DecomposeTransforms(Vt.Matrix4dArray(rest))
        for time, bend in ((1.0, 0.0), (24.0, 40.0)):
            q = list(r)
            q[1] = Gf.Quatf(Gf.Rotation(Gf.Vec3d(1, 0, 0), bend).GetQuat()) * q[1]
            anim.CreateTranslationsAttr().Set(t, time)
            anim.CreateRotationsAttr().Set(Vt.QuatfArray(q), time)
            anim.CreateScalesAttr().Set(s, time)
        UsdSkel.BindingAPI.Apply(skel.GetPrim()).CreateAnimationSourceRel().SetTargets(
            [anim.GetPath()]
        )
    target = skeleton_target or "/Figure/Skel"
    UsdSkel.BindingAPI.Apply(root.GetPrim()).CreateSkeletonRel().SetTargets([Sdf.Path(target)])
    points, counts, indices = tube()
    mesh = UsdGeom.Mesh.Define(stage, "/Figure/Body")
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points.astype(np.float32)))
    mesh.CreateFaceVertexCountsAttr(counts)
    mesh.CreateFaceVertexIndicesAttr(indices)
    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    ji, jw = weights_for(points)
    binding.CreateJointIndicesPrimvar(False, 2).Set(ji)
    binding.CreateJointWeightsPrimvar(False, 2).Set(jw)
    binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
    if texture:
        png = path.parent / "skin.png"
        Image.fromarray(np.full((4, 4, 3), TEXTURE_RGB, np.uint8)).save(png)
        material = UsdShade.Material.Define(stage, "/Figure/Looks/Skin")
        surface = UsdShade.Shader.Define(stage, "/Figure/Looks/Skin/Surface")
        surface.CreateIdAttr("UsdPreviewSurface")
        tex = UsdShade.Shader.Define(stage, "/Figure/Looks/Skin/Texture")
        tex.CreateIdAttr("UsdUVTexture")
        tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set("./skin.png")
        surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(
            tex.ConnectableAPI(), "rgb"
        )
        material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
        UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)
    stage.GetRootLayer().Save()
    return path


def package(usda: Path) -> Path:
    """The figure (and its texture) as a .usdz beside it."""
    out = usda.with_suffix(".usdz")
    assert UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(usda)), str(out))
    return out
