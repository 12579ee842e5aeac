"""Posing in a room, through the pair harness: a preset is one undoable step, recorded as
concrete rotations; an impossible pose is refused and nobody sees anything."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pxr import Sdf, UsdSkel

from pair import STAGES, Harness
from twinstudio.assets.joint_limits import from_euler_offset, rest_rotations
from twinstudio.rooms.journal import MemoryJournal
from twinstudio.rooms.room import Room
from twinstudio.stage.composition import RoomStage

TWIN = "/Studio/Twin"
POSE = "/Studio/Twin/Pose"


def pose_of(stage: Any, path: str = POSE) -> list[tuple[float, ...]]:
    rotations = UsdSkel.Animation(stage.GetPrimAtPath(path)).GetRotationsAttr().Get()
    return [(q.GetReal(), *q.GetImaginary()) for q in rotations]


def test_a_preset_is_one_undo_step_that_everyone_sees() -> None:
    h = Harness()
    stylist, client = h.join("editor"), h.join("reviewer")
    stage = h.room.room_stage.stage
    relaxed, before = pose_of(stage), h.room.room_stage.edit_layer_text()

    ack = h.op(stylist, {"op": "pose", "path": TWIN, "preset": "walking"})
    assert ack["type"] == "ack"
    walking = pose_of(stage, f"{TWIN}/Poses/walking")
    assert pose_of(stage) == walking != relaxed
    [record] = h.of_type(client, "op")
    assert record["label"] == "Pose walking"
    assert "preset" not in record["op"] and len(record["op"]["rotations"]) == 53
    for conn in (stylist, client):
        assert pose_of(h.replicas[conn].stage) == walking

    undo = h.send(stylist, {"type": "undo", "id": "u1"})
    assert [(m["type"], m.get("step")) for m in undo if m.get("id") == "u1"] == [
        ("op", "undo"),
        ("ack", None),
    ]
    assert pose_of(stage) == relaxed
    assert h.room.room_stage.edit_layer_text() == before
    assert pose_of(h.replicas[client].stage) == relaxed
    assert h.send(stylist, {"type": "undo", "id": "u2"})[-1]["code"] == "nothing_to_undo"


def test_a_forged_impossible_pose_is_refused_and_changes_nothing() -> None:
    h = Harness()
    stylist, client = h.join("editor"), h.join("reviewer")
    stage = h.room.room_stage.stage
    before, seq = h.room.room_stage.edit_layer_text(), h.room.seq
    skel = UsdSkel.Skeleton(stage.GetPrimAtPath(f"{TWIN}/Skel"))
    rest = rest_rotations(skel)
    elbow = next(t for t in rest if t.endswith("/lowerarm_l"))
    forged = list(from_euler_offset(rest[elbow], -90, 0, 0))  # an elbow bent 50° backwards

    error = h.op(stylist, {"op": "pose", "path": TWIN, "rotations": {elbow: forged}})
    assert error["type"] == "error" and error["code"] == "joint_limit"
    assert "lowerarm_l" in error["message"] and "X must stay within" in error["message"]
    batch = {
        "op": "batch",
        "label": "Sneaky",
        "ops": [
            {"op": "pose", "path": TWIN, "preset": "a_pose"},
            {"op": "set", "path": "/Studio/Lights/Key", "attr": "inputs:intensity", "value": 5.0},
            {"op": "pose", "path": TWIN, "rotations": {"lowerarm_l": forged}},
        ],
    }
    error = h.op(stylist, batch)
    assert error["code"] == "joint_limit" and error["index"] == 2
    assert h.room.seq == seq and h.of_type(client, "op") == []
    assert h.room.room_stage.edit_layer_text() == before
    assert h.send(stylist, {"type": "undo", "id": "u"})[-1]["code"] == "nothing_to_undo"


def test_replay_does_not_need_the_pose_library(tmp_path: Path) -> None:
    """The journal holds rotations, so a room replays the same pose even if the library changed."""
    journal = MemoryJournal()
    h = Harness(journal)
    owner = h.join("owner")
    h.op(owner, {"op": "pose", "path": TWIN, "preset": "hand_on_hip"})
    posed = pose_of(h.room.room_stage.stage)

    library = tmp_path / "stages"
    shutil.copytree(STAGES, library)
    poses = Sdf.Layer.FindOrOpen(str(library / "twin" / "poses.usda"))
    spec = poses.GetAttributeAtPath("/Poses/hand_on_hip.rotations")
    spec.default = poses.GetAttributeAtPath("/Poses/a_pose.rotations").default  # a changed library
    poses.Save()
    recovered = Room("test", RoomStage(library, "default_shot.usda"), MemoryJournal())
    for record in journal.records_after(0):
        recovered.replay(record)
    stage = recovered.room_stage.stage
    assert pose_of(stage, f"{TWIN}/Poses/hand_on_hip") != posed  # the library did change
    assert pose_of(stage) == posed
