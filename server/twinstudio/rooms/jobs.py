"""Final renders (the shutter press): jobs, their lifecycle, and how they are spread over nodes.

A job renders the stage *as it was when the job was submitted*: it carries the
edit layer of that moment, so later edits never leak into a final image. A batch
is cameras x looks; each pair is one job.

Lifecycle, as a table (event -> allowed from -> to)::

    assign    queued               -> running    a render node takes it
    progress  running              -> running    the node reports a fraction
    complete  running              -> done       the node uploaded the PNG
    fail      running              -> queued     retried while attempts < MAX_ATTEMPTS
                                   -> failed     otherwise
    lost      running              -> queued     its node left the room (same retry rule)
    cancel    queued, running      -> cancelled

Nodes get jobs one at a time: the idle render node that has done the fewest
jobs gets the oldest queued job.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from twinstudio.errors import Refused

MAX_ATTEMPTS = 3
MAX_PIXELS = 7680 * 4320
MAX_BATCH = 64

TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "assign": (frozenset({"queued"}), "running"),
    "progress": (frozenset({"running"}), "running"),
    "complete": (frozenset({"running"}), "done"),
    "fail": (frozenset({"running"}), "queued"),  # or "failed": see retry rule
    "lost": (frozenset({"running"}), "queued"),
    "cancel": (frozenset({"queued", "running"}), "cancelled"),
}


class JobRejected(Refused):
    """A render job request or state change that was refused."""


@dataclass(frozen=True)
class RenderJob:
    id: str
    batch: str
    camera: str
    look: str | None  # a wardrobe selection for this job, or None for the room's current look
    width: int
    height: int
    supersample: int
    shadows: bool
    depth_of_field: bool
    transparent: bool
    seq: int  # the room's seq when it was submitted
    submitted_by: str
    created_at: float
    layer: str = field(repr=False)  # the edit layer at submission
    state: str = "queued"
    progress: float = 0.0
    node: str | None = None  # the member conn rendering it
    attempts: int = 0
    error: str | None = None
    result: str | None = None  # the stored file name once done

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        del d["layer"]
        return d

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def _int(msg: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    v = msg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise JobRejected("out_of_range", f"{key} must be an integer in [{lo}, {hi}]")
    return v


def _bool(msg: dict[str, Any], key: str, default: bool) -> bool:
    v = msg.get(key, default)
    if not isinstance(v, bool):
        raise JobRejected("malformed_job", f"{key} must be true or false")
    return v


def _strings(msg: dict[str, Any], key: str) -> list[Any]:
    v = msg.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(s, str) and len(s) <= 1024 for s in v):
        raise JobRejected("malformed_job", f"{key} must be a list of strings")
    return v


def plan_jobs(
    msg: dict[str, Any],
    *,
    seq: int,
    layer: str,
    default_camera: str,
    author: str,
    now: float,
) -> list[RenderJob]:
    """Validate a submit message and expand it to jobs (cameras x looks)."""
    width = _int(msg, "width", 3840, 16, 7680)
    height = _int(msg, "height", 2160, 16, 7680)
    if width * height > MAX_PIXELS:
        raise JobRejected("too_large", f"at most {MAX_PIXELS} pixels per image")
    supersample = _int(msg, "supersample", 2, 1, 4)
    cameras = _strings(msg, "cameras") or [msg.get("camera") or default_camera]
    if not all(isinstance(c, str) and c.startswith("/") for c in cameras):
        raise JobRejected("malformed_job", "cameras are prim paths")
    looks: list[str | None] = list(_strings(msg, "looks")) or [None]
    if len(cameras) * len(looks) > MAX_BATCH:
        raise JobRejected("too_large", f"a batch holds at most {MAX_BATCH} images")
    common = {
        "batch": f"b{seq + 1}",
        "width": width,
        "height": height,
        "supersample": supersample,
        "shadows": _bool(msg, "shadows", True),
        "depth_of_field": _bool(msg, "depth_of_field", True),
        "transparent": _bool(msg, "transparent", False),
        "seq": seq,
        "submitted_by": author,
        "created_at": now,
        "layer": layer,
    }
    jobs = []
    for i, (camera, look) in enumerate((c, lk) for c in cameras for lk in looks):
        jobs.append(RenderJob(id=f"j{seq + 1}-{i}", camera=camera, look=look, **common))  # type: ignore[arg-type]
    return jobs


class JobBoard:
    """The room's jobs. Changed only through ``transition`` so replay rebuilds the same board."""

    def __init__(self) -> None:
        self.jobs: dict[str, RenderJob] = {}
        self.done_by: dict[str, int] = {}  # node name -> jobs completed (for fair spreading)

    def add(self, job: RenderJob) -> None:
        self.jobs[job.id] = job

    def transition(self, job_id: str, event: str, **changes: Any) -> RenderJob:
        """Apply ``event`` to a job per TRANSITIONS; raise JobRejected if it is not allowed now."""
        job = self.jobs.get(job_id)
        if job is None:
            raise JobRejected("job_not_found", f"no job {job_id!r} in this room")
        allowed, target = TRANSITIONS[event]
        if job.state not in allowed:
            raise JobRejected("job_state", f"job {job_id} is {job.state}: it can't {event}")
        if event in ("fail", "lost"):
            attempts = job.attempts + 1
            target = "queued" if attempts < MAX_ATTEMPTS else "failed"
            changes = {**changes, "attempts": attempts, "node": None, "progress": 0.0}
        if event == "progress":
            p = changes.get("progress")
            if isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p):
                raise JobRejected("malformed_job", "progress is a number in [0, 1]")
            changes["progress"] = min(1.0, max(0.0, float(p)))
        if event == "complete":
            changes = {**changes, "progress": 1.0}
            if job.node:
                self.done_by[job.node] = self.done_by.get(job.node, 0) + 1
        updated = replace(job, state=target, **changes)
        self.jobs[job_id] = updated
        return updated

    def next_for(self, idle_nodes: list[str]) -> tuple[RenderJob, str] | None:
        """The oldest queued job and the idle node that should take it, if any."""
        if not idle_nodes:
            return None
        queued = [j for j in self.jobs.values() if j.state == "queued"]
        if not queued:
            return None
        node = min(idle_nodes, key=lambda n: (self.done_by.get(n, 0), n))
        return queued[0], node

    def running_on(self, node: str) -> list[RenderJob]:
        return [j for j in self.jobs.values() if j.state == "running" and j.node == node]

    def batch(self, batch: str) -> list[RenderJob]:
        return [j for j in self.jobs.values() if j.batch == batch]
