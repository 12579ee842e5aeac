"""The sans-I/O edit core on the real default shot, in both usda and usdc.

Every accepted op must be undone exactly by its inverse, and every refused op
must leave the edit layer byte-for-byte as it was.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from pxr import Sdf, UsdGeom, UsdSkel

from twinstudio.stage.composition import RoomStage
from twinstudio.stage.editor import StageEditor
from twinstudio.stage.ops import OpRejected, op_from_wire, to_wire
from twinstudio.stage.values import to_wire as value_wire

STAGES = Path(__file__).resolve().parents[2] / "stages"
KEY = "/Studio/Lights/Key"
HERO = "/Studio/Cameras/Hero"
TWIN = "/Studio/Twin"


@pytest.fixture(params=["usda", "usdc"])
def room(request: pytest.FixtureRequest, tmp_path: Path) -> RoomStage:
    if request.param == "usda":
        return RoomStage(STAGES, "default_shot.usda")
    library = tmp_path / "stages"
    shutil.copytree(STAGES, library)
    Sdf.Layer.FindOrOpen(str(library / "default_shot.usda")).Export(
        str(library / "default_shot.usdc")
    )
    return RoomStage(library, "default_shot.usdc")


@pytest.fixture
def editor(room: RoomStage) -> StageEditor:
    return StageEditor(room)


def value(editor: StageEditor, path: str, attr: str) -> Any:
    return value_wire(editor.stage.GetAttributeAtPath(f"{path}.{attr}").Get())


def apply(editor: StageEditor, op: dict[str, Any]) -> Any:
    return editor.apply(op_from_wire(op))


ACCEPTED = [
    {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 42.0},
    {"op": "set", "path": KEY, "attr": "inputs:color", "value": [1.0, 0.5, 0.25]},
    {"op": "set", "path": KEY, "attr": "inputs:exposure", "value": -1.5},
    {"op": "set", "path": HERO, "attr": "focalLength", "value": 85.0},
    {"op": "set", "path": HERO, "attr": "clippingRange", "value": [0.5, 50.0]},
    {"op": "clear", "path": KEY, "attr": "inputs:intensity"},
    {"op": "xform", "path": KEY, "translate": [2.0, 2.5, 3.0], "rotate": [-20.0, 40.0, 0.0]},
    {"op": "xform", "path": TWIN, "rotate": [0.0, 30.0, 0.0]},
    {"op": "create", "path": "/Studio/Lights/Kicker", "type": "SphereLight"},
    {
        "op": "create",
        "path": "/Studio/Set/AppleBox",
        "type": "Xform",
        "reference": "props/apple_box.usda",
    },
    {"op": "delete", "path": "/Studio/Lights/Fill"},
    {"op": "variant", "path": TWIN, "set": "wardrobe", "selection": "evening"},
    {"op": "pose", "path": TWIN, "preset": "walking"},
    {
        "op": "batch",
        "label": "Moody",
        "ops": [
            {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 5.0},
            {"op": "create", "path": "/Studio/Lights/Practical", "type": "DiskLight"},
            {
                "op": "set",
                "path": "/Studio/Lights/Practical",
                "attr": "inputs:radius",
                "value": 0.2,
            },
        ],
    },
]


@pytest.mark.parametrize(
    "op", ACCEPTED, ids=lambda o: o["op"] + ":" + o.get("attr", o.get("path", ""))
)
def test_inverse_restores_the_edit_layer_exactly(editor: StageEditor, op: dict[str, Any]) -> None:
    apply(editor, {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 11.0})
    before = editor.room_stage.edit_layer_text()
    inverse = apply(editor, op)
    assert editor.room_stage.edit_layer_text() != before
    # the inverse survives the wire, as it must to be broadcast as an undo
    editor.apply(op_from_wire(to_wire(inverse), allow_internal=True), trusted=True)
    assert _opinions(editor) == _opinions_of(before)


def _opinions(editor: StageEditor) -> dict[str, Any]:
    return _opinions_of(editor.room_stage.edit_layer_text())


def _opinions_of(text: str) -> dict[str, Any]:
    from twinstudio.rooms.takes import layer_opinions

    return layer_opinions(text)


def test_set_changes_the_composed_value_and_not_the_shot(editor: StageEditor) -> None:
    shot_before = editor.room_stage.shot_layer.ExportToString()
    apply(editor, {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 7.0})
    assert value(editor, KEY, "inputs:intensity") == 7.0
    assert editor.room_stage.shot_layer.ExportToString() == shot_before
    assert not editor.room_stage.shot_layer.dirty


REFUSED = [
    ({"op": "set", "path": KEY, "attr": "inputs:intensity", "value": -1.0}, "out_of_range"),
    ({"op": "set", "path": KEY, "attr": "inputs:intensity", "value": math.nan}, "not_finite"),
    ({"op": "set", "path": KEY, "attr": "inputs:intensity", "value": math.inf}, "not_finite"),
    ({"op": "set", "path": KEY, "attr": "inputs:intensity", "value": "loud"}, "type_mismatch"),
    ({"op": "set", "path": KEY, "attr": "inputs:color", "value": [1.0, 1.0]}, "type_mismatch"),
    ({"op": "set", "path": KEY, "attr": "inputs:nonsense", "value": 1.0}, "property_not_found"),
    ({"op": "set", "path": "/Studio/Nope", "attr": "x", "value": 1.0}, "prim_not_found"),
    ({"op": "set", "path": HERO, "attr": "fStop", "value": 0.0}, "out_of_range"),
    ({"op": "set", "path": HERO, "attr": "focalLength", "value": -35.0}, "out_of_range"),
    ({"op": "set", "path": HERO, "attr": "clippingRange", "value": [10.0, 1.0]}, "out_of_range"),
    ({"op": "set", "path": KEY, "attr": "xformOpOrder", "value": []}, "op_not_allowed"),
    ({"op": "xform", "path": KEY, "scale": [0.0, 1.0, 1.0]}, "out_of_range"),
    ({"op": "xform", "path": KEY, "translate": [1e9, 0.0, 0.0]}, "out_of_range"),
    ({"op": "create", "path": "/Studio/Lights/Key", "type": "RectLight"}, "prim_exists"),
    ({"op": "create", "path": "/Studio/Blob", "type": "Mesh"}, "type_not_allowed"),
    (
        {"op": "create", "path": "/Studio/P", "type": "Xform", "reference": "../x.usda"},
        "asset_path_outside_library",
    ),
    (
        {"op": "create", "path": "/Studio/P", "type": "Xform", "reference": "/etc/passwd"},
        "asset_path_outside_library",
    ),
    (
        {"op": "create", "path": "/Studio/P", "type": "Xform", "reference": "http://x/y.usda"},
        "asset_path_outside_library",
    ),
    (
        {"op": "create", "path": "/Studio/P", "type": "Xform", "reference": "props/missing.usda"},
        "asset_not_found",
    ),
    ({"op": "create", "path": "/Studio/Nope/P", "type": "Xform"}, "prim_not_found"),
    (
        {"op": "create", "path": "/Studio/Twin2", "type": "Xform", "reference": "twin/twin.usdc"},
        "type_mismatch",
    ),
    ({"op": "delete", "path": "/Studio"}, "op_not_allowed"),
    ({"op": "rename", "path": KEY, "name": "Main"}, "prim_from_shot"),
    (
        {"op": "variant", "path": TWIN, "set": "wardrobe", "selection": "pyjamas"},
        "variant_not_found",
    ),
    (
        {"op": "variant", "path": "/Studio/Set", "set": "paper", "selection": "red"},
        "variant_set_not_found",
    ),
    ({"op": "variant", "path": TWIN, "set": "face", "selection": "other"}, "identity_locked"),
    ({"op": "pose", "path": TWIN, "rotations": {"Tail": [1.0, 0.0, 0.0, 0.0]}}, "joint_not_found"),
    (
        {"op": "pose", "path": KEY, "rotations": {"pelvis": [1.0, 0.0, 0.0, 0.0]}},
        "pose_unavailable",
    ),
    # the twin's identity is locked: only placement, wardrobe and pose may change
    ({"op": "set", "path": f"{TWIN}/Body", "attr": "points", "value": []}, "identity_locked"),
    ({"op": "xform", "path": f"{TWIN}/Body", "translate": [0.0, 1.0, 0.0]}, "identity_locked"),
    ({"op": "create", "path": f"{TWIN}/Horn", "type": "Xform"}, "identity_locked"),
    ({"op": "delete", "path": f"{TWIN}/Body"}, "identity_locked"),
    (
        {
            "op": "batch",
            "ops": [
                {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 3.0},
                {"op": "create", "path": "/Studio/Lights/Extra", "type": "RectLight"},
                {"op": "set", "path": HERO, "attr": "fStop", "value": -2.0},
            ],
        },
        "out_of_range",
    ),
]


@pytest.mark.parametrize(
    ("op", "code"), REFUSED, ids=lambda x: x if isinstance(x, str) else x["op"]
)
def test_refused_ops_change_nothing(editor: StageEditor, op: dict[str, Any], code: str) -> None:
    apply(editor, {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 11.0})
    before = editor.room_stage.edit_layer_text()
    with pytest.raises(OpRejected) as info:
        apply(editor, op)
    assert info.value.code == code
    assert info.value.message
    assert editor.room_stage.edit_layer_text() == before


def test_failed_batch_reports_the_culprit(editor: StageEditor) -> None:
    op = REFUSED[-1][0]
    with pytest.raises(OpRejected) as info:
        apply(editor, op)
    assert info.value.index == 2
    assert "batch op 2" in info.value.message
    assert not editor.stage.GetPrimAtPath("/Studio/Lights/Extra")


@pytest.mark.parametrize(
    ("op", "code"),
    [
        ({"op": "explode", "path": KEY}, "unknown_op"),
        ({"path": KEY}, "unknown_op"),
        ("set", "malformed_op"),
        ({"op": "set", "path": "Studio/Key", "attr": "a", "value": 1}, "bad_path"),
        ({"op": "set", "path": "/Studio/Key.attr", "attr": "a", "value": 1}, "bad_path"),
        ({"op": "set", "path": KEY, "attr": "a"}, "malformed_op"),
        ({"op": "restore", "path": KEY, "layer": None}, "op_not_allowed"),
        ({"op": "batch", "ops": []}, "malformed_op"),
        (
            {"op": "batch", "ops": [{"op": "batch", "ops": [{"op": "delete", "path": KEY}]}]},
            "malformed_op",
        ),
        (
            {"op": "pose", "path": TWIN, "rotations": {"pelvis": [0.0, 0.0, 0.0, 0.0]}},
            "out_of_range",
        ),
        (
            {"op": "pose", "path": TWIN, "rotations": {"pelvis": [1.0, math.nan, 0.0, 0.0]}},
            "not_finite",
        ),
        ({"op": "xform", "path": KEY}, "malformed_op"),
        ({"op": "batch", "ops": [{"op": "delete", "path": KEY}] * 2001}, "too_large"),
    ],
)
def test_malformed_ops_are_refused_before_the_stage(op: object, code: str) -> None:
    with pytest.raises(OpRejected) as info:
        op_from_wire(op)
    assert info.value.code == code


def test_rename_and_reparent_a_room_created_prim(editor: StageEditor) -> None:
    apply(
        editor,
        {
            "op": "create",
            "path": "/Studio/Set/Box",
            "type": "Xform",
            "reference": "props/apple_box.usda",
        },
    )
    inv_rename = apply(editor, {"op": "rename", "path": "/Studio/Set/Box", "name": "Crate"})
    assert editor.stage.GetPrimAtPath("/Studio/Set/Crate")
    inv_move = apply(
        editor, {"op": "reparent", "path": "/Studio/Set/Crate", "parent": "/Studio/Lights"}
    )
    assert editor.stage.GetPrimAtPath("/Studio/Lights/Crate")
    assert not editor.stage.GetPrimAtPath("/Studio/Set/Crate")
    editor.apply(inv_move, trusted=True)
    editor.apply(inv_rename, trusted=True)
    assert editor.stage.GetPrimAtPath("/Studio/Set/Box").GetTypeName() == "Xform"
    with pytest.raises(OpRejected) as info:
        apply(editor, {"op": "reparent", "path": "/Studio/Set", "parent": "/Studio/Set/Box"})
    assert info.value.code in ("bad_parent", "prim_from_shot")


def test_delete_of_a_shot_prim_deactivates_it(editor: StageEditor) -> None:
    inverse = apply(editor, {"op": "delete", "path": "/Studio/Lights/Rim"})
    prim = editor.stage.GetPrimAtPath("/Studio/Lights/Rim")
    assert prim and not prim.IsActive()
    with pytest.raises(OpRejected) as info:  # a deleted prim can't be edited
        apply(
            editor,
            {"op": "set", "path": "/Studio/Lights/Rim", "attr": "inputs:intensity", "value": 1.0},
        )
    assert info.value.code == "prim_not_found"
    editor.apply(inverse, trusted=True)
    assert editor.stage.GetPrimAtPath("/Studio/Lights/Rim").IsActive()


@pytest.mark.parametrize(
    "path",
    [
        "/Studio/Set/Cyclorama",  # defined inside the shot's ``set`` variant
        "/Studio/Set/Cyclorama/Cove",  # inside a reference, inside that variant
    ],
)
def test_delete_of_a_prim_the_shot_brings_through_a_variant_or_reference(
    editor: StageEditor, path: str
) -> None:
    inverse = apply(editor, {"op": "delete", "path": path})
    assert not editor.stage.GetPrimAtPath(path).IsActive()
    editor.apply(inverse, trusted=True)
    assert editor.stage.GetPrimAtPath(path).IsActive()


def test_a_referenced_asset_keeps_its_own_type(editor: StageEditor) -> None:
    asset = Sdf.Layer.FindOrOpen(str(Path(editor.room_stage.library_root) / "twin/twin.usdc"))
    asset_type = asset.GetPrimAtPath(asset.defaultPrim).typeName
    inverse = apply(
        editor, {"op": "create", "path": "/Studio/Twin2", "reference": "twin/twin.usdc"}
    )
    prim = editor.stage.GetPrimAtPath("/Studio/Twin2")
    assert prim.GetTypeName() == asset_type  # a twin stays a SkelRoot, so it still skins
    assert UsdSkel.Root(prim)
    wire = to_wire(op_from_wire({"op": "create", "path": "/P", "reference": "twin/twin.usdc"}))
    assert "type" not in wire  # the wire form leaves it out too
    editor.apply(inverse, trusted=True)
    assert not editor.stage.GetPrimAtPath("/Studio/Twin2")


def test_xform_writes_the_standard_stack(editor: StageEditor) -> None:
    apply(
        editor,
        {
            "op": "xform",
            "path": KEY,
            "translate": [1.0, 2.0, 3.0],
            "rotate": [10.0, 20.0, 30.0],
            "scale": [2.0, 2.0, 2.0],
        },
    )
    xf = UsdGeom.Xformable(editor.stage.GetPrimAtPath(KEY))
    names = [op.GetOpName() for op in xf.GetOrderedXformOps()]
    assert names == ["xformOp:translate", "xformOp:rotateXYZ", "xformOp:scale"]
    t, r, s, _, _ = UsdGeom.XformCommonAPI(xf).GetXformVectors(0)
    assert (
        list(t) == [1.0, 2.0, 3.0]
        and list(r) == pytest.approx([10.0, 20.0, 30.0])
        and list(s) == [2.0, 2.0, 2.0]
    )


def test_partial_xform_keeps_the_other_components(editor: StageEditor) -> None:
    before = UsdGeom.XformCommonAPI(editor.stage.GetPrimAtPath(KEY)).GetXformVectors(0)
    apply(editor, {"op": "xform", "path": KEY, "rotate": [0.0, 90.0, 0.0]})
    after = UsdGeom.XformCommonAPI(editor.stage.GetPrimAtPath(KEY)).GetXformVectors(0)
    assert list(after[0]) == pytest.approx(list(before[0]))
    assert list(after[1]) == pytest.approx([0.0, 90.0, 0.0])


def test_pose_changes_only_the_named_joint(editor: StageEditor) -> None:
    anim = UsdSkel.Animation(editor.stage.GetPrimAtPath(f"{TWIN}/Pose"))
    before = list(anim.GetRotationsAttr().Get())
    joints = [str(j) for j in anim.GetJointsAttr().Get()]
    arm = "Root/pelvis/spine_01/spine_02/spine_03/clavicle_l/upperarm_l"
    walking = UsdSkel.Animation(editor.stage.GetPrimAtPath(f"{TWIN}/Poses/walking"))
    q = walking.GetRotationsAttr().Get()[joints.index(arm)]  # (within the joint's limits)
    apply(
        editor, {"op": "pose", "path": TWIN, "rotations": {arm: [q.GetReal(), *q.GetImaginary()]}}
    )
    after = list(anim.GetRotationsAttr().Get())
    changed = [joints[i] for i in range(len(joints)) if after[i] != before[i]]
    assert changed == [arm]


def test_variant_switch_changes_the_wardrobe(editor: StageEditor) -> None:
    def garments() -> set[str]:
        wardrobe = editor.stage.GetPrimAtPath(f"{TWIN}/Wardrobe")
        return {p.GetName() for p in wardrobe.GetAllChildren()} if wardrobe else set()

    before = garments()
    apply(editor, {"op": "variant", "path": TWIN, "set": "wardrobe", "selection": "evening"})
    assert garments() != before
