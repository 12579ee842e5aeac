"""The room, sans-I/O: ordering, roles, locks, undo, notes, takes, reconnect and recovery.

Members talk through the pair harness: what one sends goes through the Room and
the test checks what each member receives and what each member's replica holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pair import Harness
from twinstudio.auth import Grant
from twinstudio.rooms.journal import FileJournal, MemoryJournal
from twinstudio.rooms.room import Room
from twinstudio.stage.composition import RoomStage

KEY = "/Studio/Lights/Key"
FILL = "/Studio/Lights/Fill"
HERO = "/Studio/Cameras/Hero"
TWIN = "/Studio/Twin"


def set_op(path: str, attr: str, value: Any) -> dict[str, Any]:
    return {"op": "set", "path": path, "attr": attr, "value": value}


def test_edit_reaches_everyone_in_order_with_the_same_seq() -> None:
    h = Harness()
    a, b, c = h.join("owner"), h.join("editor"), h.join("reviewer")
    ack = h.op(a, set_op(KEY, "inputs:intensity", 30.0))
    assert ack["type"] == "ack" and ack["seq"] == 1
    h.op(b, set_op(KEY, "inputs:intensity", 40.0))
    for conn in (a, b, c):
        ops = h.of_type(conn, "op")
        assert [o["seq"] for o in ops] == [1, 2]
        assert h.replicas[conn].get(KEY, "inputs:intensity") == 40.0  # last writer in seq order
    assert h.value(KEY, "inputs:intensity") == 40.0


def test_the_sender_sees_its_edit_before_its_ack() -> None:
    h = Harness()
    a = h.join("owner")
    h.op(a, set_op(KEY, "inputs:intensity", 30.0))
    kinds = [m["type"] for m in h.inbox[a] if m["type"] in ("op", "ack")]
    assert kinds == ["op", "ack"]


def test_write_ahead_journal_holds_every_acked_edit_before_it_is_sent() -> None:
    h = Harness()
    a = h.join("owner")
    h.op(a, set_op(KEY, "inputs:intensity", 30.0))
    h.op(a, {"op": "create", "path": "/Studio/Lights/Kicker", "type": "SphereLight"})
    journaled = list(h.journal.records_after(0))
    assert [r["seq"] for r in journaled] == [1, 2]
    assert journaled == h.of_type(a, "op")


class FailingJournal(MemoryJournal):
    def append(self, record: Any) -> None:
        raise OSError("disk full")


def test_an_edit_that_cannot_be_journaled_is_rolled_back_and_not_sent() -> None:
    h = Harness(journal=FailingJournal())
    a, b = h.join("owner"), h.join("editor")
    before = h.value(KEY, "inputs:intensity")
    reply = h.op(a, set_op(KEY, "inputs:intensity", 99.0))
    assert reply["type"] == "error" and reply["code"] == "journal_failed"
    assert h.value(KEY, "inputs:intensity") == before
    assert h.of_type(b, "op") == [] and h.room.seq == 0


def test_reviewer_edit_is_refused_and_changes_nothing() -> None:
    h = Harness()
    owner, reviewer = h.join("owner"), h.join("reviewer")
    reply = h.op(reviewer, set_op(KEY, "inputs:intensity", 1.0))
    assert reply["code"] == "forbidden" and "reviewer" in reply["message"]
    assert h.room.seq == 0 and h.of_type(owner, "op") == []
    assert reviewer in h.room.members  # still connected


def test_bad_ops_get_an_error_and_others_see_nothing() -> None:
    h = Harness()
    a, b = h.join("owner"), h.join("editor")
    for op, code in [
        (set_op(KEY, "inputs:intensity", float("nan")), "not_finite"),
        (set_op(KEY, "inputs:intensity", "x"), "type_mismatch"),
        ({"op": "teleport", "path": KEY}, "unknown_op"),
        (
            {"op": "create", "path": "/Studio/P", "type": "Xform", "reference": "../../etc/x.usda"},
            "asset_path_outside_library",
        ),
        ({"op": "restore", "path": "/", "layer": None}, "op_not_allowed"),
    ]:
        assert h.op(a, op)["code"] == code
    assert h.of_type(b, "op") == [] and h.room.seq == 0
    assert h.send(a, {"type": "dance"})[0]["code"] == "unknown_message"
    assert (
        h.send(a, {"type": "op", "op": set_op(KEY, "inputs:intensity", 1.0)})[0]["code"]
        == "malformed_op"
    )


def test_resent_op_is_acknowledged_once() -> None:
    h = Harness()
    a = h.join("owner", user="u1")
    msg = {"type": "op", "id": "x-1", "op": set_op(KEY, "inputs:intensity", 3.0)}
    first = h.send(a, msg)
    second = h.send(a, msg)
    assert next(m for m in first if m["type"] == "ack")["seq"] == 1
    assert second == [{"type": "ack", "id": "x-1", "seq": 1}]
    assert h.room.seq == 1


# -- presence and locks ----------------------------------------------------------------


def test_presence_join_update_leave() -> None:
    h = Harness()
    a = h.join("owner", name="Ana")
    b = h.join("editor", name="Ben")
    members = h.of_type(a, "presence")[-1]["members"]
    assert [(m["name"], m["role"]) for m in members] == [("Ana", "owner"), ("Ben", "editor")]
    assert members[0]["colour"] != members[1]["colour"]
    h.send(b, {"type": "presence", "selection": [KEY], "dragging": KEY})
    ben = h.of_type(a, "presence")[-1]["members"][1]
    assert ben["selection"] == [KEY] and ben["dragging"] == KEY
    h.leave(b)
    assert [m["name"] for m in h.of_type(a, "presence")[-1]["members"]] == ["Ana"]


def test_soft_lock_refuses_others_until_released() -> None:
    h = Harness()
    stylist, photographer = h.join("editor", name="Sam"), h.join("editor", name="Pia")
    h.send(stylist, {"type": "lock", "path": TWIN})
    assert h.of_type(photographer, "locks")[-1]["locks"][0]["path"] == TWIN
    pose = {"op": "pose", "path": TWIN, "preset": "a_pose"}
    refused = h.op(photographer, pose)
    assert refused["code"] == "locked" and "Sam" in refused["message"]
    assert h.op(photographer, {"op": "delete", "path": "/Studio"})["code"] in (
        "locked",
        "op_not_allowed",
    )
    assert (
        h.op(photographer, set_op(KEY, "inputs:intensity", 2.0))["type"] == "ack"
    )  # elsewhere is fine
    assert h.op(stylist, pose)["type"] == "ack"  # the holder may edit
    assert h.send(photographer, {"type": "unlock", "path": TWIN})[0]["code"] == "forbidden"
    h.send(stylist, {"type": "unlock", "path": TWIN})
    assert h.op(photographer, pose)["type"] == "ack"


def test_owner_breaks_a_lock_and_locks_go_when_the_holder_leaves() -> None:
    h = Harness()
    owner, stylist = h.join("owner"), h.join("editor")
    h.send(stylist, {"type": "lock", "path": TWIN})
    h.send(owner, {"type": "unlock", "path": TWIN})
    assert h.room.locks == {}
    h.send(stylist, {"type": "lock", "path": TWIN})
    h.leave(stylist)
    assert h.room.locks == {} and h.of_type(owner, "locks")[-1]["locks"] == []


def test_reviewer_cannot_lock() -> None:
    h = Harness()
    r = h.join("reviewer")
    assert h.send(r, {"type": "lock", "path": TWIN})[0]["code"] == "forbidden"


# -- undo / redo -----------------------------------------------------------------------


def test_undo_reverts_my_last_step_and_keeps_others_edits() -> None:
    h = Harness()
    a, b = h.join("owner", user="ua"), h.join("editor", user="ub")
    shot_intensity = h.value(KEY, "inputs:intensity")
    h.op(a, set_op(KEY, "inputs:intensity", 50.0))
    h.op(b, set_op(HERO, "focalLength", 85.0))
    undo = h.send(a, {"type": "undo", "id": "u1"})
    assert any(m["type"] == "ack" for m in undo)
    assert h.value(KEY, "inputs:intensity") == shot_intensity
    assert h.value(HERO, "focalLength") == 85.0
    assert h.of_type(b, "op")[-1]["step"] == "undo"  # undo is a new op everyone applies
    assert h.replicas[b].get(KEY, "inputs:intensity") == shot_intensity
    h.send(a, {"type": "redo", "id": "r1"})
    assert h.value(KEY, "inputs:intensity") == 50.0
    assert h.send(b, {"type": "redo", "id": "r2"})[0]["code"] == "nothing_to_redo"


def test_a_drag_merges_into_one_undo_step() -> None:
    h = Harness()
    a = h.join("owner")
    start = h.value(KEY, "xformOp:translate")
    for x in range(10):
        h.op(a, {"op": "xform", "path": KEY, "translate": [float(x), 2.0, 3.0]}, merge="drag-1")
    h.send(a, {"type": "undo", "id": "u"})
    assert h.value(KEY, "xformOp:translate") == start
    assert h.send(a, {"type": "undo", "id": "u2"})[0]["code"] == "nothing_to_undo"


def test_batch_is_one_undo_step() -> None:
    h = Harness()
    a = h.join("owner")
    batch = {
        "op": "batch",
        "label": "Low key",
        "ops": [set_op(KEY, "inputs:intensity", 4.0), set_op(FILL, "inputs:intensity", 0.5)],
    }
    h.op(a, batch)
    h.send(a, {"type": "undo", "id": "u"})
    assert h.room.room_stage.edit_layer_text().count("intensity") == 0


def test_undo_of_something_deleted_since_is_refused_clearly() -> None:
    h = Harness()
    a, b = h.join("owner", user="ua"), h.join("owner", user="ub")
    h.op(a, {"op": "create", "path": "/Studio/Lights/Kicker", "type": "SphereLight"})
    h.op(a, set_op("/Studio/Lights/Kicker", "inputs:intensity", 5.0))
    h.op(b, {"op": "delete", "path": "/Studio/Lights/Kicker"})
    reply = h.send(a, {"type": "undo", "id": "u"})[0]
    assert reply["type"] == "error" and "can't undo" in reply["message"]


# -- notes and takes -------------------------------------------------------------------


def test_review_notes_thread_and_resolve() -> None:
    h = Harness()
    client, photographer = h.join("reviewer", name="Cleo"), h.join("owner")
    anchor = {"camera": HERO, "x": 0.25, "y": 0.75, "frame_seq": 0}
    ack = h.send(
        client, {"type": "note", "id": "n", "action": "add", "text": "Warmer?", "anchor": anchor}
    )
    note_id = f"n{next(m for m in ack if m['type'] == 'ack')['seq']}"
    h.send(photographer, {"type": "note", "action": "reply", "note_id": note_id, "text": "On it"})
    h.send(photographer, {"type": "note", "action": "resolve", "note_id": note_id})
    note = h.room.notes.notes[note_id]
    assert note.anchor.x == 0.25 and note.resolved and note.replies[0].text == "On it"
    assert h.of_type(client, "note")[-1]["note"]["resolved"] is True
    h.send(client, {"type": "note", "action": "reopen", "note_id": note_id})
    assert not h.room.notes.notes[note_id].resolved
    bad = h.send(
        client, {"type": "note", "action": "add", "text": "x", "anchor": {"x": 2.0, "y": 0.1}}
    )
    assert bad[0]["code"] == "out_of_range"


def test_takes_save_diff_restore_as_one_undoable_step() -> None:
    h = Harness()
    a = h.join("owner")
    h.op(a, set_op(KEY, "inputs:intensity", 10.0))
    h.send(a, {"type": "take", "action": "save", "name": "soft"})
    h.op(a, set_op(KEY, "inputs:intensity", 80.0))
    h.op(a, set_op(HERO, "focalLength", 35.0))
    diff = h.send(a, {"type": "take", "action": "diff", "a": "soft"})[0]
    keys = {c["key"]: (c["a"], c["b"]) for c in diff["changes"]}
    assert keys == {f"{KEY}.inputs:intensity": (10.0, 80.0), f"{HERO}.focalLength": (None, 35.0)}
    h.send(a, {"type": "take", "action": "restore", "name": "soft", "id": "t"})
    assert h.value(KEY, "inputs:intensity") == 10.0
    h.send(a, {"type": "undo", "id": "u"})
    assert h.value(KEY, "inputs:intensity") == 80.0 and h.value(HERO, "focalLength") == 35.0
    assert h.send(a, {"type": "take", "action": "save", "name": "soft"})[0]["code"] == "take_exists"


def test_reviewer_sees_takes_but_cannot_restore() -> None:
    h = Harness()
    a, r = h.join("owner"), h.join("reviewer")
    h.send(a, {"type": "take", "action": "save", "name": "one"})
    assert h.send(r, {"type": "take", "action": "list"})[0]["takes"][0]["name"] == "one"
    assert h.send(r, {"type": "take", "action": "restore", "name": "one"})[0]["code"] == "forbidden"


# -- join, reconnect, recovery ---------------------------------------------------------


def test_late_joiner_gets_a_snapshot_that_matches() -> None:
    h = Harness()
    a = h.join("owner")
    h.op(a, set_op(KEY, "inputs:intensity", 12.0))
    h.op(a, {"op": "variant", "path": TWIN, "set": "wardrobe", "selection": "evening"})
    late = h.join("reviewer")
    snap = h.of_type(late, "snapshot")[0]
    assert snap["seq"] == 2 and snap["shot"] == "default_shot.usda"
    assert h.replicas[late].get(KEY, "inputs:intensity") == 12.0
    assert any(f["path"] == "default_shot.usda" for f in snap["library"])


def test_reconnect_with_last_seq_gets_only_what_was_missed() -> None:
    h = Harness()
    a, b = h.join("owner"), h.join("editor", user="ub")
    h.op(a, set_op(KEY, "inputs:intensity", 1.0))
    replica = h.replicas[b]
    h.leave(b)
    h.op(a, set_op(KEY, "inputs:intensity", 2.0))
    h.op(a, {"op": "create", "path": "/Studio/Lights/Kicker", "type": "SphereLight"})
    back = h.join("editor", user="ub", replica=replica, last_seq=replica.seq)
    received = [m["type"] for m in h.inbox[back]]
    assert "snapshot" not in received
    assert [m["seq"] for m in h.of_type(back, "op")] == [2, 3]
    assert h.of_type(back, "state")  # locks, notes, takes as of now
    assert replica.get(KEY, "inputs:intensity") == 2.0
    assert replica.stage.GetPrimAtPath("/Studio/Lights/Kicker")


def test_reconnect_from_too_far_back_gets_a_snapshot() -> None:
    h = Harness()
    a = h.join("owner")
    h.op(a, set_op(KEY, "inputs:intensity", 1.0))
    h.room._recent.clear()  # the server no longer has what this client missed
    back = h.join("editor", last_seq=0)
    assert h.of_type(back, "snapshot")[0]["seq"] == 1


def test_protocol_mismatch_is_refused() -> None:
    h = Harness()
    h.inbox["x"] = []
    grant = Grant("test", "owner", "u", "U", 2e9)
    sends = h.room.join("x", grant, {"type": "hello", "protocol": 99})
    assert sends[0].message["code"] == "protocol_unsupported" and sends[0].close


def test_room_full() -> None:
    h = Harness()
    h.room.max_members = 2
    h.join("owner")
    h.join("owner")
    grant = Grant("test", "owner", "u", "U", 2e9)
    sends = h.room.join("c99", grant, {"type": "hello", "protocol": 1})
    assert sends[0].message["code"] == "room_full"


def test_replaying_the_journal_rebuilds_the_same_room(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "j")
    h = Harness(journal=journal)
    a, b = h.join("owner", user="ua"), h.join("reviewer", user="ub")
    h.op(a, set_op(KEY, "inputs:intensity", 12.0))
    h.op(a, {"op": "create", "path": "/Studio/Lights/Kicker", "type": "SphereLight"})
    h.op(a, {"op": "xform", "path": "/Studio/Lights/Kicker", "translate": [1.0, 2.0, 3.0]})
    h.send(a, {"type": "undo", "id": "u"})
    h.send(b, {"type": "note", "action": "add", "text": "hm", "anchor": {"path": KEY}})
    h.send(a, {"type": "take", "action": "save", "name": "t1"})
    before_pose = h.room.room_stage.edit_layer_text()
    h.op(a, {"op": "pose", "path": TWIN, "preset": "hand_on_hip"})
    journal.close()

    reopened = FileJournal(tmp_path / "j")
    room = Room("test", RoomStage(h.library, "default_shot.usda"), reopened)
    for record in reopened.records_after(0):
        room.replay(record)
    assert room.seq == h.room.seq
    assert room.room_stage.edit_layer_text() == h.room.room_stage.edit_layer_text()
    assert room.notes.to_wire() == h.room.notes.to_wire()
    assert list(room.takes) == ["t1"]
    # undo history survives too: the recovered room can undo a's pose
    room.members["c"] = h.room.members[a]
    replies = room.receive("c", {"type": "undo", "id": "u2"})
    assert replies[-1].message["type"] == "ack", replies
    assert room.room_stage.edit_layer_text() == before_pose
