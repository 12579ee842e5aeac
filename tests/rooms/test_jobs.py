"""Final render jobs in the room: submit, spread over nodes, retry, complete, recover."""

from __future__ import annotations

from pathlib import Path

from pair import Harness
from twinstudio.auth import Grant
from twinstudio.rooms.jobs import MAX_ATTEMPTS
from twinstudio.rooms.journal import FileJournal
from twinstudio.rooms.room import Room
from twinstudio.stage.composition import RoomStage


def grant_of(h: Harness, conn: str) -> Grant:
    m = h.room.members[conn]
    return Grant("test", m.role, m.user, m.name, 2e9)


def test_a_batch_is_cameras_times_looks_spread_over_idle_nodes() -> None:
    h = Harness()
    owner = h.join("owner")
    a, b = h.join("render"), h.join("render")
    batch = {
        **{"type": "job", "action": "submit", "id": "s", "width": 640, "height": 360},
        "cameras": ["/Studio/Cameras/Hero", "/Studio/Cameras/Detail"],
        "looks": ["studio_basics", "evening"],
    }
    reply = h.send(owner, batch)
    assert any(m["type"] == "ack" for m in reply)
    jobs = h.room.jobs.jobs
    assert len(jobs) == 4 and len({j.batch for j in jobs.values()}) == 1
    assigned = {conn: h.of_type(conn, "job_assign") for conn in (a, b)}
    assert [len(v) for v in assigned.values()] == [1, 1]  # one job each, at a time
    job = assigned[a][0]["job"]
    assert job["layer"] == h.room.room_stage.edit_layer_text() and job["width"] == 640
    h.deliver(h.room.desk.complete_job(grant_of(h, a), job["id"], f"{job['id']}.png"))
    assert jobs[job["id"]].state == "done"
    assert len(h.of_type(a, "job_assign")) == 2  # the freed node took the next one


def test_a_job_whose_node_leaves_is_retried_then_fails() -> None:
    h = Harness()
    owner = h.join("owner")
    h.send(owner, {"type": "job", "action": "submit", "width": 64, "height": 64})
    (job_id,) = h.room.jobs.jobs
    for attempt in range(MAX_ATTEMPTS):
        node = h.join("render")
        assert h.room.jobs.jobs[job_id].state == "running"
        h.leave(node)
        assert h.room.jobs.jobs[job_id].attempts == attempt + 1
    assert h.room.jobs.jobs[job_id].state == "failed"


def test_only_the_assigned_node_reports_and_reviewers_cannot_submit() -> None:
    h = Harness()
    owner, reviewer = h.join("owner"), h.join("reviewer")
    assert h.send(reviewer, {"type": "job", "action": "submit"})[0]["code"] == "forbidden"
    assert (
        h.send(owner, {"type": "job", "action": "submit", "width": 99999})[0]["code"]
        == "out_of_range"
    )
    assert (
        h.send(owner, {"type": "job", "action": "submit", "camera": "/Nope"})[0]["code"]
        == "prim_not_found"
    )
    h.send(owner, {"type": "job", "action": "submit", "width": 64, "height": 64})
    (job_id,) = h.room.jobs.jobs
    node, intruder = h.join("render"), h.join("render")
    assert (
        h.send(intruder, {"type": "job", "action": "progress", "job_id": job_id, "progress": 0.5})[
            0
        ]["code"]
        == "job_not_yours"
    )
    h.send(node, {"type": "job", "action": "progress", "job_id": job_id, "progress": 0.5})
    assert h.of_type(owner, "job_update")[-1]["job"]["progress"] == 0.5
    h.send(node, {"type": "job", "action": "fail", "job_id": job_id, "error": "GL lost"})
    job = h.room.jobs.jobs[job_id]
    assert job.attempts == 1 and job.error == "GL lost" and job.state == "running"  # re-assigned
    h.send(owner, {"type": "job", "action": "cancel", "job_id": job_id})
    assert h.room.jobs.jobs[job_id].state == "cancelled"


def test_jobs_survive_a_restart(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "j")
    h = Harness(journal=journal)
    owner, node = h.join("owner"), h.join("render")
    h.send(
        owner, {"type": "job", "action": "submit", "width": 64, "height": 64, "looks": ["a", "b"]}
    )
    first = h.of_type(node, "job_assign")[0]["job"]["id"]
    h.deliver(h.room.desk.complete_job(grant_of(h, node), first, "first.png"))
    journal.close()
    room = Room("test", RoomStage(h.library, "default_shot.usda"), FileJournal(tmp_path / "j"))
    for record in room.journal.records_after(0):
        room.replay(record)
    states = {j.id: j.state for j in room.jobs.jobs.values()}
    assert states[first] == "done" and room.jobs.jobs[first].result == "first.png"
    assert sorted(states.values()) == ["done", "queued"]  # the running one is queued again
