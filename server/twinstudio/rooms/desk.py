"""The render desk: final render jobs in a room, from submission to stored PNG.

The job lifecycle and its table live in :mod:`twinstudio.rooms.jobs`; this is the room
side: who may submit, what is journaled (submissions, completions, failures,
cancellations; not assignments or progress), and how jobs reach idle render nodes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from twinstudio.auth import Grant
from twinstudio.rooms.jobs import TRANSITIONS, JobRejected, RenderJob, plan_jobs
from twinstudio.rooms.types import Member, Send, error

if TYPE_CHECKING:
    from twinstudio.rooms.room import Room


class RenderDesk:
    """Handles ``job`` messages and node arrivals/departures for ``room``."""

    def __init__(self, room: Room) -> None:
        self.room = room

    def on_job(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        action = msg.get("action")
        to = (member.conn,)
        try:
            if action == "submit":
                if denied := self.room._need(member, "edit", msg):
                    return denied
                return self._submit_jobs(member, msg)
            job_id = msg.get("job_id")
            if not isinstance(job_id, str):
                return [error(to, "malformed_job", "name the job with 'job_id'", msg)]
            if action == "cancel":
                if denied := self.room._need(member, "edit", msg):
                    return denied
                return [*self._journal_job("cancel", job_id, member, msg), *self.schedule()]
            if denied := self.room._need(member, "render", msg):
                return denied
            job = self.room.jobs.jobs.get(job_id)
            if job is None or job.node != member.conn:
                return [error(to, "job_not_yours", f"job {job_id} is not assigned to you", msg)]
            if action == "progress":
                updated = self.room.jobs.transition(
                    job_id, "progress", progress=msg.get("progress")
                )
                return [Send(self._job_message(updated), None, key=f"job:{job_id}")]
            if action == "fail":
                reason = str(msg.get("error", "the render failed"))[:1000]
                return [
                    *self._journal_job("fail", job_id, member, msg, error=reason),
                    *self.schedule(),
                ]
        except JobRejected as exc:
            return [error(to, exc.code, exc.message, msg)]
        return [
            error(to, "malformed_job", "job 'action' must be submit, cancel, progress or fail", msg)
        ]

    def _check_job_event(self, event: str, job_id: str) -> None:
        """Raise JobRejected unless ``event`` may happen to ``job_id`` now (jobs.TRANSITIONS)."""
        job = self.room.jobs.jobs.get(job_id)
        if job is None:
            raise JobRejected("job_not_found", f"no job {job_id!r} in this room")
        if job.state not in TRANSITIONS[event][0]:
            raise JobRejected("job_state", f"job {job_id} is {job.state}: it can't {event}")

    def _submit_jobs(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        camera = (
            self.room.review.camera
            or self.room.room_stage.review_camera()
            or "/Studio/Cameras/Hero"
        )
        jobs = plan_jobs(
            msg,
            seq=self.room.seq,
            layer=self.room.room_stage.edit_layer_text(),
            default_camera=camera,
            author=member.user,
            now=self.room.clock(),
        )
        for job in jobs:
            if not self.room.room_stage.stage.GetPrimAtPath(job.camera):
                raise JobRejected("prim_not_found", f"no camera at {job.camera}")
        record = {
            "type": "job",
            "seq": self.room.seq + 1,
            "action": "submit",
            "jobs": [j.to_record() for j in jobs],
        }
        broadcast = {**record, "jobs": [j.summary() for j in jobs]}

        def add() -> None:
            for job in jobs:
                self.room.jobs.add(job)

        return [*self.room._commit_event(member, msg, record, broadcast, add), *self.schedule()]

    def _journal_job(
        self, event: str, job_id: str, member: Member, msg: dict[str, Any], **changes: Any
    ) -> list[Send]:
        self._check_job_event(event, job_id)  # before journaling: the record must replay
        record = {
            "type": "job",
            "seq": self.room.seq + 1,
            "action": event,
            "job_id": job_id,
            **changes,
        }
        out: list[RenderJob] = []

        def apply() -> None:
            out.append(self.room.jobs.transition(job_id, event, **changes))

        sends = self.room._commit_event(member, msg, record, record, apply)
        return [*sends, *(self._job_update(j) for j in out)]

    def complete_job(self, grant: Grant, job_id: str, result: str) -> list[Send]:
        """A node uploaded ``job_id``'s image, stored as ``result``: journal it, then schedule."""
        member = Member(f"rest:{grant.user}", grant.user, grant.name, grant.role, "#888888")
        job = self.room.jobs.jobs.get(job_id)
        node = self.room.members.get(job.node) if job and job.node else None
        if job is None or node is None or node.user != grant.user or job.state != "running":
            raise JobRejected("job_not_yours", f"job {job_id} is not running on your node")
        msg = {"type": "job"}
        return [
            *self._journal_job("complete", job_id, member, msg, result=result),
            *self.schedule(),
        ]

    def _job_message(self, job: RenderJob) -> dict[str, Any]:
        return {"type": "job_update", "job": job.summary()}

    def node_left(self, conn: str) -> list[Send]:
        """Queue again what ``conn`` was rendering, then hand out work."""
        lost = [self.room.jobs.transition(j.id, "lost") for j in self.room.jobs.running_on(conn)]
        return [*(self._job_update(j) for j in lost), *self.schedule()]

    def _job_update(self, job: RenderJob) -> Send:
        return Send(self._job_message(job), None)

    def schedule(self) -> list[Send]:
        """Give each idle render node the oldest queued job."""
        out: list[Send] = []
        while True:
            busy = {j.node for j in self.room.jobs.jobs.values() if j.state == "running"}
            idle = [c for c, m in self.room.members.items() if m.role == "render" and c not in busy]
            pick = self.room.jobs.next_for(idle)
            if pick is None:
                return out
            job, node = pick
            job = self.room.jobs.transition(job.id, "assign", node=node)
            out.append(Send({"type": "job_assign", "job": job.to_record()}, (node,)))
            out.append(self._job_update(job))

    def replay(self, record: dict[str, Any]) -> None:
        """Jobs after a restart: assignments were not journaled, so running jobs are queued."""
        action = record["action"]
        if action == "submit":
            for j in record["jobs"]:
                self.room.jobs.add(RenderJob(**j))
            return
        job = self.room.jobs.jobs[record["job_id"]]
        if action == "complete":
            self.room.jobs.jobs[job.id] = replace(
                job, state="done", progress=1.0, result=record["result"]
            )
        elif action == "cancel":
            self.room.jobs.jobs[job.id] = replace(job, state="cancelled")
        elif action == "fail":
            self.room.jobs.jobs[job.id] = replace(job, state="running")
            self.room.jobs.transition(job.id, "fail", error=record.get("error"))
