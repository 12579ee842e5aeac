"""Mesh proxies for the layout view: world-space bounds, pose, wardrobe, budgets, and REST auth.

The reference bounds come from USD itself: the room's stage is flattened, skinned meshes are
baked by ``UsdSkel.BakeSkinning`` and measured by ``UsdGeom.BBoxCache``, a code path the
proxies do not use.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from typing import Any

import msgpack
import numpy as np
import pytest
from pxr import Usd, UsdGeom, UsdSkel

from conftest import STAGES, ServerProcess
from twinstudio.stage.composition import RoomStage
from twinstudio.stage.editor import StageEditor
from twinstudio.stage.ops import DeletePrim, SelectVariant, SetPose
from twinstudio.transport.proxies import (
    MESH_BUDGET,
    TOTAL_BUDGET,
    LayoutProxies,
    ProxyBuilder,
    ProxyCache,
)

SHOT = "default_shot.usda"


@pytest.fixture
def room_stage() -> RoomStage:
    return RoomStage(STAGES, SHOT)


def usd_world_bounds(stage: Usd.Stage, paths: list[str]) -> dict[str, np.ndarray]:
    """(2, 3) min/max per prim as USD computes it, with skinned meshes baked into points."""
    flat = Usd.Stage.Open(stage.Flatten())
    assert UsdSkel.BakeSkinning(flat.Traverse())
    cache = UsdGeom.BBoxCache(
        Usd.TimeCode.Default(), [UsdGeom.Tokens.default_, UsdGeom.Tokens.render]
    )
    out = {}
    for path in paths:
        r = cache.ComputeWorldBound(flat.GetPrimAtPath(path)).ComputeAlignedRange()
        out[path] = np.array([list(r.GetMin()), list(r.GetMax())])
    return out


def shown_gprims(stage: Usd.Stage) -> set[str]:
    """Every gprim a viewer would draw: visible, default or render purpose, active."""
    shown = set()
    for prim in stage.Traverse():
        if not prim.IsA(UsdGeom.Gprim):
            continue
        im = UsdGeom.Imageable(prim)
        if im.ComputeVisibility() == UsdGeom.Tokens.invisible:
            continue
        if im.ComputePurpose() in (UsdGeom.Tokens.default_, UsdGeom.Tokens.render):
            shown.add(str(prim.GetPath()))
    return shown


def by_path(proxies: LayoutProxies) -> dict[str, Any]:
    return {m.path: m for m in proxies.meshes}


def twin_root(stage: Usd.Stage) -> Usd.Prim:
    for prim in stage.Traverse():
        if prim.GetCustomData().get("twinstudio:identity") == "locked":
            return prim
    raise AssertionError("the shot has no twin")


def assert_bounds_match(stage: Usd.Stage, proxies: LayoutProxies) -> None:
    meshes = by_path(proxies)
    reference = usd_world_bounds(stage, list(meshes))
    for path, mesh in meshes.items():
        lo, hi = mesh.positions.min(axis=0), mesh.positions.max(axis=0)
        want = reference[path]
        # simplified vertices are source vertices: inside the bounds, and close to them
        tolerance = max(0.02, 0.03 * float(np.linalg.norm(want[1] - want[0])))
        assert np.all(lo >= want[0] - 1e-4) and np.all(hi <= want[1] + 1e-4), path
        assert np.allclose(lo, want[0], atol=tolerance), (path, lo, want[0])
        assert np.allclose(hi, want[1], atol=tolerance), (path, hi, want[1])


def test_proxies_cover_every_shown_mesh_in_world_space(room_stage: RoomStage) -> None:
    proxies = ProxyBuilder().build(room_stage.stage)
    assert set(by_path(proxies)) == shown_gprims(room_stage.stage)
    assert_bounds_match(room_stage.stage, proxies)
    twin = str(twin_root(room_stage.stage).GetPath())
    for mesh in proxies.meshes:
        assert mesh.triangles.max() < len(mesh.positions)
        assert all(0.0 <= c <= 1.0 for c in mesh.color)
        if mesh.path.startswith(twin + "/"):
            assert mesh.pick == twin  # a click on the body or a garment selects the twin
    assert any(m.skinned for m in proxies.meshes)
    assert proxies.skeletons and proxies.skeletons[0].root == twin
    skel = proxies.skeletons[0]
    assert skel.positions.shape == (len(skel.joints), 3)
    lights = [p for p in room_stage.stage.Traverse() if p.GetTypeName().endswith("Light")]
    for light in lights:  # every transformable prim has its frame
        frame = proxies.frames[str(light.GetPath())]
        world = np.array(UsdGeom.Xformable(light).ComputeLocalToWorldTransform(0)).ravel()
        assert np.allclose(frame["world"], world)


def test_a_pose_op_moves_the_skinned_proxies_and_they_still_match_usd(
    room_stage: RoomStage,
) -> None:
    builder = ProxyBuilder()
    before = by_path(builder.build(room_stage.stage))
    twin = twin_root(room_stage.stage)
    anim_joints = next(s for s in builder.build(room_stage.stage).skeletons).joints
    root_joint = anim_joints[0]
    half = math.sqrt(0.5)  # a quarter turn about Y of the root joint turns the whole body
    StageEditor(room_stage).apply(
        SetPose(str(twin.GetPath()), ((root_joint, (half, 0.0, half, 0.0)),))
    )
    after_proxies = builder.build(room_stage.stage)
    after = by_path(after_proxies)
    moved = [p for p, m in after.items() if m.skinned]
    assert moved
    for path in moved:
        assert after[path].positions.shape == before[path].positions.shape  # same topology
        assert not np.allclose(after[path].positions, before[path].positions, atol=1e-3)
    assert_bounds_match(room_stage.stage, after_proxies)
    still = [p for p, m in after.items() if not m.skinned]
    for path in still:
        assert np.array_equal(after[path].positions, before[path].positions)


def test_a_wardrobe_switch_changes_the_set_of_proxies(room_stage: RoomStage) -> None:
    builder = ProxyBuilder()
    before = set(by_path(builder.build(room_stage.stage)))
    twin = twin_root(room_stage.stage)
    wardrobe = twin.GetVariantSets().GetVariantSet("wardrobe")
    current = wardrobe.GetVariantSelection()
    other = next(v for v in wardrobe.GetVariantNames() if v != current)
    StageEditor(room_stage).apply(SelectVariant(str(twin.GetPath()), "wardrobe", other))
    proxies = builder.build(room_stage.stage)
    after = set(by_path(proxies))
    assert after != before
    assert after == shown_gprims(room_stage.stage)
    assert_bounds_match(room_stage.stage, proxies)


def test_hidden_and_deactivated_prims_have_no_proxy(room_stage: RoomStage) -> None:
    builder = ProxyBuilder()
    paths = set(by_path(builder.build(room_stage.stage)))
    twin = str(twin_root(room_stage.stage).GetPath())
    outside = sorted(p for p in paths if not p.startswith(twin + "/"))
    assert outside, "the shot has a set"
    hidden = room_stage.stage.GetPrimAtPath(outside[0])
    UsdGeom.Imageable(hidden).MakeInvisible()  # into the edit layer (the edit target)
    assert outside[0] not in by_path(builder.build(room_stage.stage))
    UsdGeom.Imageable(hidden).MakeVisible()
    model = room_stage.stage.GetPrimAtPath(outside[0]).GetParent()
    StageEditor(room_stage).apply(DeletePrim(str(model.GetPath())))  # a shot prim: deactivated
    left = set(by_path(builder.build(room_stage.stage)))
    assert not any(p.startswith(str(model.GetPath()) + "/") for p in left)
    assert left and left < paths


def test_budgets_are_respected_and_small_meshes_are_kept_whole(room_stage: RoomStage) -> None:
    proxies = ProxyBuilder().build(room_stage.stage)
    assert proxies.triangle_count <= TOTAL_BUDGET
    for mesh in proxies.meshes:
        assert len(mesh.triangles) <= MESH_BUDGET
        if mesh.source_triangles <= MESH_BUDGET:
            assert len(mesh.triangles) == mesh.source_triangles
    big = [m for m in proxies.meshes if m.source_triangles > MESH_BUDGET]
    assert big, "the default shot has a mesh over budget"
    for mesh in big:
        assert len(mesh.triangles) >= MESH_BUDGET * 0.9  # simplified, not gutted

    tight = ProxyBuilder(mesh_budget=400, total_budget=900).build(room_stage.stage)
    assert tight.triangle_count <= 900
    assert all(len(m.triangles) <= 400 for m in tight.meshes)
    assert_bounds_match(room_stage.stage, tight)


def test_the_cache_rebuilds_only_after_an_edit(room_stage: RoomStage) -> None:
    cache = ProxyCache()
    first = cache.packed("default", 0, room_stage.stage)
    assert cache.packed("default", 0, room_stage.stage) is first
    twin = twin_root(room_stage.stage)
    joint = ProxyBuilder().build(room_stage.stage).skeletons[0].joints[0]
    StageEditor(room_stage).apply(SetPose(str(twin.GetPath()), ((joint, (0.0, 0.0, 1.0, 0.0)),)))
    second = cache.packed("default", 1, room_stage.stage)
    assert second != first
    decoded = msgpack.unpackb(second, raw=False)
    assert decoded["seq"] == 1
    mesh = decoded["meshes"][0]
    positions = np.frombuffer(mesh["positions"], dtype="<f4").reshape(-1, 3)
    indices = np.frombuffer(mesh["indices"], dtype="<u4").reshape(-1, 3)
    assert len(positions) == mesh["vertices"] and len(indices) == mesh["triangles"]


def _get(server: ServerProcess, path: str, token: str | None) -> tuple[int, bytes, str]:
    req = urllib.request.Request(server.url + path)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")


def test_the_endpoint_serves_proxies_to_members_only(server: ServerProcess) -> None:
    url = "/api/rooms/default/proxies"
    status, body, _ = _get(server, url, None)
    assert status == 401 and json.loads(body)["code"] == "token_missing"
    status, body, _ = _get(server, url, server.token("reviewer", room="other"))
    assert status == 403
    status, body, kind = _get(server, url, server.token("reviewer"))
    assert status == 200 and kind == "application/msgpack"
    listing = msgpack.unpackb(body, raw=False)
    assert listing["seq"] == 0
    assert {m["path"] for m in listing["meshes"]} == shown_gprims(RoomStage(STAGES, SHOT).stage)
    assert listing["triangles"] <= TOTAL_BUDGET


def test_gprims_get_proxies_of_their_shape(room_stage: RoomStage) -> None:
    stage = room_stage.stage  # authored straight into the edit layer (the edit target)
    shapes = {
        "/Props/Cube": ("Cube", {"size": 0.5}),
        "/Props/Ball": ("Sphere", {"radius": 0.3}),
        "/Props/Post": ("Cylinder", {"radius": 0.1, "height": 2.0, "axis": "X"}),
        "/Props/Cone": ("Cone", {"radius": 0.2, "height": 0.6, "axis": "Z"}),
        "/Props/Pill": ("Capsule", {"radius": 0.1, "height": 0.4, "axis": "Y"}),
    }
    for i, (path, (kind, attrs)) in enumerate(shapes.items()):
        prim = stage.DefinePrim(path, kind)
        for name, value in attrs.items():
            prim.GetAttribute(name).Set(value)
        UsdGeom.Xformable(prim).AddTranslateOp().Set((i * 1.5, 1.0, -0.5))
        # quarter turns: USD's bound of a turned extent box would be looser than the shape
        UsdGeom.Xformable(prim).AddRotateXYZOp().Set((0.0, 90.0 * i, 90.0 * (i % 2)))
    proxies = ProxyBuilder().build(stage)
    assert set(shapes) <= set(by_path(proxies))
    assert_bounds_match(stage, proxies)


def test_sets_name_their_backdrop_shader(room_stage: RoomStage) -> None:
    stage = room_stage.stage
    found = ProxyBuilder().build(stage).backdrops
    for backdrop in found:  # the shot's own sets (if any) name a real, colourable shader
        shader = stage.GetPrimAtPath(backdrop["shader"])
        assert shader.GetAttribute("inputs:diffuseColor").IsValid()
        assert backdrop["shader"].startswith(backdrop["set"] + "/")
    # (SetCustomDataByKey would read the ":" as a nested key)
    stage.DefinePrim("/Props/Paper", "Xform").SetCustomData(
        {"twinstudio:backdrop": "Looks/Paper/Surface"}
    )
    stage.DefinePrim("/Props/Paper/Looks/Paper/Surface", "Shader")
    stage.DefinePrim("/Props/Broken", "Xform").SetCustomData(
        {"twinstudio:backdrop": "No/Such/Shader"}
    )
    after = ProxyBuilder().build(stage).backdrops
    assert {"set": "/Props/Paper", "shader": "/Props/Paper/Looks/Paper/Surface"} in after
    assert not any(b["set"] == "/Props/Broken" for b in after)
    assert len(after) == len(found) + 1
