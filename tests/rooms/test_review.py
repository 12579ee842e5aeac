"""The review picture in the room: settings are journaled room state; frames go latest-first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg

from pair import Harness
from twinstudio.rooms.journal import FileJournal
from twinstudio.rooms.room import Room
from twinstudio.stage.composition import RoomStage

JPEG = simplejpeg.encode_jpeg(np.zeros((8, 8, 3), np.uint8))


def frame(seq: int, **extra: Any) -> dict[str, Any]:
    return {"type": "frame", "seq": seq, "camera": "/Studio/Cameras/Hero", "width": 8, "height": 8,
            "render_ms": 1.0, "encode_ms": 0.1, "jpeg": JPEG, **extra}  # fmt: skip


def test_frames_reach_viewers_not_render_nodes_and_late_joiners_get_the_last() -> None:
    h = Harness()
    owner, node, other_node = h.join("owner"), h.join("render"), h.join("render")
    h.op(
        owner, {"op": "set", "path": "/Studio/Lights/Key", "attr": "inputs:intensity", "value": 3.0}
    )
    h.send(node, frame(1))
    assert h.of_type(owner, "frame")[-1]["seq"] == 1
    assert h.of_type(other_node, "frame") == []
    late = h.join("reviewer")
    assert h.of_type(late, "frame")[0]["node"] == "render-c2"


def test_frames_never_go_backwards_and_only_render_nodes_publish() -> None:
    h = Harness()
    owner, node = h.join("owner"), h.join("render")
    for v in (1.0, 2.0):
        h.op(
            owner,
            {"op": "set", "path": "/Studio/Lights/Key", "attr": "inputs:intensity", "value": v},
        )
    h.send(node, frame(2))
    assert h.send(node, frame(1))[0]["code"] == "stale_frame"
    assert h.send(node, frame(3))[0]["code"] == "malformed_frame"  # beyond the room's seq
    assert h.send(node, frame(2, jpeg=b"not a jpeg"))[0]["code"] == "malformed_frame"
    assert h.send(owner, frame(2))[0]["code"] == "forbidden"
    assert [f["seq"] for f in h.of_type(owner, "frame")] == [2]


def test_review_settings_are_validated_journaled_and_recovered(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "j")
    h = Harness(journal=journal)
    owner, reviewer = h.join("owner"), h.join("reviewer")
    assert h.send(reviewer, {"type": "settings", "review": {"fps": 5}})[0]["code"] == "forbidden"
    assert h.send(owner, {"type": "settings", "review": {"fps": 0}})[0]["code"] == "out_of_range"
    assert (
        h.send(owner, {"type": "settings", "review": {"zoom": 2}})[0]["code"]
        == "malformed_settings"
    )
    h.send(
        owner, {"type": "settings", "id": "s", "review": {"fps": 24, "width": 960, "height": 540}}
    )
    assert h.of_type(reviewer, "settings")[-1]["review"]["fps"] == 24.0
    journal.close()
    room = Room("test", RoomStage(h.library, "default_shot.usda"), FileJournal(tmp_path / "j"))
    for record in room.journal.records_after(0):
        room.replay(record)
    assert (room.review.fps, room.review.width) == (24.0, 960)
    assert room.snapshot()["review"]["height"] == 540
