"""Posing the twin on the real default shot (usda and usdc): presets, joint limits, policy.

A preset expands to concrete rotations of every joint; a pose beyond the joint limits is
refused with ``joint_limit`` and changes nothing; only the bound animation can be edited.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from pxr import Sdf, Usd, UsdSkel, Vt

from twinstudio.assets.joint_limits import euler_offset, from_euler_offset, rest_rotations
from twinstudio.stage import posing
from twinstudio.stage.composition import RoomStage
from twinstudio.stage.editor import StageEditor
from twinstudio.stage.ops import OpRejected, SetPose, op_from_wire, to_wire

STAGES = Path(__file__).resolve().parents[2] / "stages"
TWIN = "/Studio/Twin"
POSE = "/Studio/Twin/Pose"
PRESETS = {"a_pose", "relaxed", "contrapposto", "hand_on_hip", "walking", "leaning"}


@pytest.fixture(params=["usda", "usdc"])
def editor(request: pytest.FixtureRequest, tmp_path: Path) -> StageEditor:
    if request.param == "usda":
        return StageEditor(RoomStage(STAGES, "default_shot.usda"))
    library = tmp_path / "stages"
    shutil.copytree(STAGES, library)
    Sdf.Layer.FindOrOpen(str(library / "default_shot.usda")).Export(
        str(library / "default_shot.usdc")
    )
    return StageEditor(RoomStage(library, "default_shot.usdc"))


def rotations(editor: StageEditor, path: str = POSE) -> list[Any]:
    return list(UsdSkel.Animation(editor.stage.GetPrimAtPath(path)).GetRotationsAttr().Get())


def bend(editor: StageEditor, joint: str, x: float, y: float = 0.0, z: float = 0.0) -> list[float]:
    """The quaternion that puts ``joint`` at Euler offset (x, y, z) from its rest."""
    skel = UsdSkel.Skeleton(editor.stage.GetPrimAtPath(f"{TWIN}/Skel"))
    rest = rest_rotations(skel)
    token = next(t for t in rest if t.rsplit("/", 1)[-1] == joint)
    return list(from_euler_offset(rest[token], x, y, z))


def test_the_shot_has_the_pose_library(editor: StageEditor) -> None:
    presets = posing.presets(editor.stage.GetPrimAtPath(TWIN))
    assert {p.name for p in presets} == PRESETS
    assert all(p.path.startswith(f"{TWIN}/Poses/") and p.label for p in presets)
    # The live Pose starts at the relaxed preset.
    assert rotations(editor) == rotations(editor, f"{TWIN}/Poses/relaxed")


def test_a_preset_expands_to_every_joint_before_it_is_applied(editor: StageEditor) -> None:
    asked = op_from_wire({"op": "pose", "path": TWIN, "preset": "walking"})
    expanded = editor.expand_presets(asked)
    assert isinstance(expanded, SetPose) and expanded.preset is None
    assert len(expanded.rotations) == 53
    assert "preset" not in to_wire(expanded)
    before = editor.layer.ExportToString()
    inverse = editor.apply(expanded)
    walking = rotations(editor, f"{TWIN}/Poses/walking")
    assert rotations(editor) == walking
    editor.apply(inverse, trusted=True)
    assert editor.layer.ExportToString() == before
    assert rotations(editor) == rotations(editor, f"{TWIN}/Poses/relaxed")


def test_rotations_given_with_a_preset_win(editor: StageEditor) -> None:
    knee = bend(editor, "calf_r", 60)
    editor.apply(
        op_from_wire(
            {"op": "pose", "path": TWIN, "preset": "a_pose", "rotations": {"calf_r": knee}}
        )
    )
    anim = UsdSkel.Animation(editor.stage.GetPrimAtPath(POSE))
    tokens = [str(t) for t in anim.GetJointsAttr().Get()]
    i = next(i for i, t in enumerate(tokens) if t.endswith("/calf_r"))
    j = next(i for i, t in enumerate(tokens) if t.endswith("/lowerarm_l"))
    q = rotations(editor)[i]
    assert [q.GetReal(), *q.GetImaginary()] == pytest.approx(knee, abs=1e-6)
    assert rotations(editor)[j] == rotations(editor, f"{TWIN}/Poses/a_pose")[j]


def test_an_unknown_preset_names_the_ones_there_are(editor: StageEditor) -> None:
    with pytest.raises(OpRejected) as err:
        editor.expand_presets(op_from_wire({"op": "pose", "path": TWIN, "preset": "moonwalk"}))
    assert err.value.code == "preset_not_found"
    assert "relaxed" in err.value.message and "moonwalk" in err.value.message


def test_a_knee_bent_backwards_is_refused_and_changes_nothing(editor: StageEditor) -> None:
    before = editor.layer.ExportToString()
    with pytest.raises(OpRejected) as err:
        editor.apply(
            op_from_wire(
                {"op": "pose", "path": TWIN, "rotations": {"calf_l": bend(editor, "calf_l", -40)}}
            )
        )
    assert err.value.code == "joint_limit"
    assert err.value.message.startswith("calf_l bends 40° the wrong way: X must stay within")
    assert editor.layer.ExportToString() == before


def test_a_batch_with_one_impossible_joint_rolls_back(editor: StageEditor) -> None:
    before = editor.layer.ExportToString()
    good = {"op": "pose", "path": TWIN, "preset": "contrapposto"}
    bad = {
        "op": "pose",
        "path": TWIN,
        "rotations": {"lowerarm_r": bend(editor, "lowerarm_r", 0, 0, 60)},
    }
    batch = editor.expand_presets(
        op_from_wire({"op": "batch", "label": "Pose", "ops": [good, bad]})
    )
    with pytest.raises(OpRejected) as err:
        editor.apply(batch)
    assert err.value.code == "joint_limit" and err.value.index == 1
    assert "lowerarm_r" in err.value.message and "Z must stay within" in err.value.message
    assert editor.layer.ExportToString() == before


def test_setting_the_rotations_array_is_checked_too(editor: StageEditor) -> None:
    values = [[q.GetReal(), *q.GetImaginary()] for q in rotations(editor)]
    tokens = [
        str(t) for t in UsdSkel.Animation(editor.stage.GetPrimAtPath(POSE)).GetJointsAttr().Get()
    ]
    head = next(i for i, t in enumerate(tokens) if t.endswith("/head"))
    values[head] = bend(editor, "head", 0, 90, 0)  # an owl's turn
    before = editor.layer.ExportToString()
    with pytest.raises(OpRejected) as err:
        editor.apply(
            op_from_wire({"op": "set", "path": POSE, "attr": "rotations", "value": values})
        )
    assert err.value.code == "joint_limit" and err.value.message.startswith("head twists")
    with pytest.raises(OpRejected) as err:
        editor.apply(
            op_from_wire({"op": "set", "path": POSE, "attr": "rotations", "value": values[:5]})
        )
    assert err.value.code == "out_of_range"
    assert editor.layer.ExportToString() == before
    values[head] = bend(editor, "head", 0, 20, 0)
    editor.apply(op_from_wire({"op": "set", "path": POSE, "attr": "rotations", "value": values}))
    skel = UsdSkel.Skeleton(editor.stage.GetPrimAtPath(f"{TWIN}/Skel"))
    token = tokens[head]
    q = rotations(editor)[head]
    assert euler_offset(rest_rotations(skel)[token], (q.GetReal(), *q.GetImaginary()))[
        1
    ] == pytest.approx(20, abs=0.01)


def test_trusted_restores_skip_the_limits(editor: StageEditor) -> None:
    impossible = op_from_wire(
        {"op": "pose", "path": TWIN, "rotations": {"calf_l": bend(editor, "calf_l", -40)}}
    )
    inverse = editor.apply(impossible, trusted=True)
    editor.apply(inverse, trusted=True)
    assert rotations(editor) == rotations(editor, f"{TWIN}/Poses/relaxed")


@pytest.mark.parametrize(
    "op",
    [
        {"op": "pose", "path": f"{TWIN}/Poses/relaxed", "rotations": {"head": [1, 0, 0, 0]}},
        {
            "op": "set",
            "path": f"{TWIN}/Poses/relaxed",
            "attr": "rotations",
            "value": [[1, 0, 0, 0]] * 53,
        },
        {"op": "set", "path": POSE, "attr": "translations", "value": [[0, 0, 0]] * 53},
        {"op": "clear", "path": f"{TWIN}/Poses/walking", "attr": "rotations"},
    ],
)
def test_the_pose_library_is_read_only(editor: StageEditor, op: dict[str, Any]) -> None:
    before = editor.layer.ExportToString()
    with pytest.raises(OpRejected) as err:
        editor.apply(op_from_wire(op))
    assert err.value.code == "identity_locked"
    assert editor.layer.ExportToString() == before


def test_a_brand_skeleton_without_limits_is_not_limited(tmp_path: Path) -> None:
    library = tmp_path / "stages"
    library.mkdir()
    stage = Usd.Stage.CreateNew(str(library / "brand.usda"))
    root = UsdSkel.Root.Define(stage, "/Shot/Brand")
    root.GetPrim().SetCustomData({"twinstudio:identity": "locked"})
    skel = UsdSkel.Skeleton.Define(stage, "/Shot/Brand/Skel")
    skel.CreateJointsAttr(Vt.TokenArray(["hips", "hips/knee"]))
    anim = UsdSkel.Animation.Define(stage, "/Shot/Brand/Pose")
    anim.CreateJointsAttr(Vt.TokenArray(["hips", "hips/knee"]))
    anim.CreateRotationsAttr(Vt.QuatfArray(2))
    UsdSkel.BindingAPI.Apply(skel.GetPrim()).CreateAnimationSourceRel().SetTargets([anim.GetPath()])
    stage.Save()
    editor = StageEditor(RoomStage(library, "brand.usda"))
    anything = from_euler_offset((1, 0, 0, 0), -170, 0, 0)
    editor.apply(
        op_from_wire({"op": "pose", "path": "/Shot/Brand", "rotations": {"knee": list(anything)}})
    )
    assert rotations(editor, "/Shot/Brand/Pose")[1].GetReal() == pytest.approx(
        anything[0], abs=1e-6
    )


def test_describe_poses_lists_joints_limits_and_presets(editor: StageEditor) -> None:
    [twin] = posing.describe_poses(editor.stage)
    assert twin["skeleton"] == f"{TWIN}/Skel" and twin["animation"] == POSE
    joints = {j["name"]: j for j in twin["joints"]}
    assert len(joints) == 53 and joints["Root"]["parent"] is None
    knee = joints["calf_l"]
    assert knee["parent"].endswith("/thigh_l") and knee["limits"]["x"] == [-8.0, 145.0]
    assert len(knee["rest"]) == 4 and len(knee["rotation"]) == 4
    assert {p["name"] for p in twin["presets"]} == PRESETS
    assert dict((p["name"], p["label"]) for p in twin["presets"])["hand_on_hip"] == "Hand on hip"
