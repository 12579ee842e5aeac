"""A room: one shared stage, its members, and the ordered log of everything they did.

The room is sans-I/O. A transport feeds it decoded messages with
``join`` / ``receive`` / ``leave`` and gets back :class:`Send` values: which
message goes to which connections. It never touches a socket.

Ordering and durability rules:

1. Every change (op, note, take) gets the next ``seq``. Seqs start at 1 and
   never skip.
2. An op is validated by applying it to the stage. It is then appended to the
   journal (write-ahead), and only then acknowledged and broadcast. If the
   append fails, the op is rolled back and the sender gets an error.
3. Concurrent edits to one property: the last writer in ``seq`` order wins.
4. Undo reverts the member's own last step by applying its inverse as a new op.
   Later edits by others to other properties are kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from twinstudio.auth import Grant
from twinstudio.rooms import roles
from twinstudio.rooms.jobs import TRANSITIONS, JobBoard, JobRejected, RenderJob, plan_jobs
from twinstudio.rooms.journal import Journal
from twinstudio.rooms.notes import NoteBoard, NoteRejected, ReviewNote
from twinstudio.rooms.review import ReviewRejected, ReviewSettings, check_frame
from twinstudio.rooms.takes import MAX_TAKES, Take, diff_layers
from twinstudio.stage.composition import RoomStage
from twinstudio.stage.editor import StageEditor
from twinstudio.stage.library import AssetLibrary, LibraryFile
from twinstudio.stage.ops import (
    Batch,
    EditOp,
    OpRejected,
    RestoreSpec,
    coalesce_key,
    iter_leaf_ops,
    op_from_wire,
    to_wire,
    touched_paths,
)

PROTOCOL_VERSION = 1
PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0",
    "#f032e6", "#bcf60c", "#008080", "#e6beff", "#9a6324", "#800000",
)  # fmt: skip
STRUCTURAL = ("create", "delete", "rename", "reparent", "restore")
MAX_UNDO = 200
MAX_SELECTION = 256
RECENT_EVENTS = 10_000
SEEN_OP_IDS = 1024


@dataclass(frozen=True)
class Member:
    """One connection in the room, as everybody else sees it."""

    conn: str
    user: str
    name: str
    role: str
    colour: str
    selection: tuple[str, ...] = ()
    dragging: str | None = None

    def to_wire(self) -> dict[str, Any]:
        d = asdict(self)
        d["selection"] = list(self.selection)
        return d


@dataclass(frozen=True)
class Send:
    """Deliver ``message`` to the connections in ``to`` (all members when ``to`` is None).

    ``key``: a newer message with the same key may replace this one while it is
    still queued for a slow receiver. ``close``: close the connection after sending.
    """

    message: dict[str, Any]
    to: tuple[str, ...] | None = None
    key: str | None = None
    close: bool = False


@dataclass(frozen=True)
class Lock:
    path: str
    user: str
    name: str

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Step:
    """One undoable step of a member: what reverts it, and the drag it may merge with."""

    label: str
    revert: EditOp
    merge: str | None = None
    key: str | None = None


@dataclass
class History:
    undo: list[Step] = field(default_factory=list)
    redo: list[Step] = field(default_factory=list)


class Room:
    """The ordered, durable state of one shoot. See the module docstring for the rules."""

    def __init__(
        self,
        name: str,
        room_stage: RoomStage,
        journal: Journal,
        *,
        clock: Callable[[], float] = time.time,
        max_members: int = 64,
    ) -> None:
        self.name = name
        self.room_stage = room_stage
        self.editor = StageEditor(room_stage)
        self.library = AssetLibrary(room_stage.library_root)
        self.journal = journal
        self.clock = clock
        self.max_members = max_members
        self.seq = 0
        self.members: dict[str, Member] = {}
        self.locks: dict[str, Lock] = {}
        self.notes = NoteBoard()
        self.takes: dict[str, Take] = {}
        self.histories: dict[str, History] = {}
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self._seen_ops: dict[str, OrderedDict[str, int]] = {}
        self._manifest: list[LibraryFile] | None = None
        self.review = ReviewSettings()
        self.jobs = JobBoard()
        self.last_frame: dict[str, Any] | None = None

    # -- membership --------------------------------------------------------------------

    def join(self, conn: str, grant: Grant, hello: dict[str, Any]) -> list[Send]:
        """Admit ``conn`` after its ``hello``: welcome, then a snapshot or the missed events."""
        to = (conn,)
        if hello.get("protocol") != PROTOCOL_VERSION:
            return [
                _error(
                    to,
                    "protocol_unsupported",
                    f"this server speaks protocol {PROTOCOL_VERSION}; update the client",
                    close=True,
                )
            ]
        if len(self.members) >= self.max_members:
            return [
                _error(
                    to, "room_full", f"room {self.name} is full ({self.max_members})", close=True
                )
            ]
        name = hello.get("name")
        if not isinstance(name, str) or not name.strip():
            name = grant.name
        name = name.strip()[:64]
        used = {m.colour for m in self.members.values()}
        colour = next(
            (c for c in PALETTE if c not in used), PALETTE[len(self.members) % len(PALETTE)]
        )
        member = Member(conn, grant.user, name, grant.role, colour)
        self.members[conn] = member
        welcome = {
            "type": "welcome",
            "protocol": PROTOCOL_VERSION,
            "room": self.name,
            "member": member.to_wire(),
            "seq": self.seq,
        }
        out = [Send(welcome, to)]
        last = hello.get("last_seq")
        oldest = self._recent[0]["seq"] if self._recent else self.seq + 1
        if isinstance(last, int) and not isinstance(last, bool) and oldest - 1 <= last <= self.seq:
            out += [Send(e, to) for e in self._recent if e["seq"] > last]
            out.append(Send(self._side_state(), to))
        else:
            out.append(Send(self.snapshot(), to))
        if self.last_frame is not None and member.role != "render":
            out.append(Send(self.last_frame, to, key="frame"))
        out.append(self._presence())
        return out + self._schedule()

    def leave(self, conn: str) -> list[Send]:
        """Forget ``conn``; its user's locks go when their last connection does."""
        member = self.members.pop(conn, None)
        if member is None:
            return []
        out = [self._presence()]
        if not any(m.user == member.user for m in self.members.values()):
            released = [p for p, lock in self.locks.items() if lock.user == member.user]
            for path in released:
                del self.locks[path]
            if released:
                out.append(self._locks())
        for job in self.jobs.running_on(conn):  # its node vanished: queue it again
            out.append(self._job_update(self.jobs.transition(job.id, "lost")))
        return out + self._schedule()

    def snapshot(self) -> dict[str, Any]:
        """Everything a new client needs, consistent at ``seq``."""
        if self._manifest is None:
            self._manifest = self.library.manifest()
        return {
            "type": "snapshot",
            "seq": self.seq,
            "shot": self.room_stage.shot,
            "edit_layer": self.room_stage.edit_layer_text(),
            "library": [asdict(f) for f in self._manifest],
            "review_camera": self.room_stage.review_camera(),
            **{k: v for k, v in self._side_state().items() if k != "type"},
        }

    def _side_state(self) -> dict[str, Any]:
        return {
            "type": "state",
            "seq": self.seq,
            "locks": [lock.to_wire() for lock in self.locks.values()],
            "notes": self.notes.to_wire(),
            "takes": [t.summary() for t in self.takes.values()],
            "review": self.review.to_wire(),
            "jobs": [j.summary() for j in self.jobs.jobs.values()],
        }

    # -- messages ----------------------------------------------------------------------

    def receive(self, conn: str, msg: dict[str, Any]) -> list[Send]:
        """Handle one decoded message from a joined connection."""
        member = self.members.get(conn)
        if member is None:
            return [_error((conn,), "not_joined", "send 'hello' first", close=True)]
        kind = msg.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return [_error((conn,), "unknown_message", f"unknown message type {kind!r}", msg)]
        return handler(self, member, msg)

    def receive_as(self, grant: Grant, msg: dict[str, Any]) -> list[Send]:
        """Handle a message from outside the live session (REST): the sender is not a member.

        Replies addressed to the sender carry the connection id ``rest:<user>``.
        """
        member = Member(f"rest:{grant.user}", grant.user, grant.name, grant.role, "#888888")
        kind = msg.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None or kind == "presence":
            return [
                _error((member.conn,), "unknown_message", f"unknown message type {kind!r}", msg)
            ]
        return handler(self, member, msg)

    def _need(self, member: Member, action: str, msg: dict[str, Any]) -> list[Send] | None:
        if roles.allowed(member.role, action):
            return None
        return [
            _error(
                (member.conn,),
                "forbidden",
                f"a {member.role} can't {roles.WHAT.get(action, action)} in this room",
                msg,
            )
        ]

    def _on_op(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        if denied := self._need(member, "edit", msg):
            return denied
        client_id = msg.get("id")
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 128:
            return [
                _error((member.conn,), "malformed_op", "an op message needs a string 'id'", msg)
            ]
        seen = self._seen_ops.get(member.user, OrderedDict()).get(client_id)
        if seen is not None:  # a resend after a reconnect: it is already durable
            return [Send({"type": "ack", "id": client_id, "seq": seen}, (member.conn,))]
        try:
            op = op_from_wire(msg.get("op"))
            self._check_locks(member, op)
        except OpRejected as exc:
            return [_error((member.conn,), exc.code, exc.message, msg, index=exc.index)]
        merge = msg.get("merge") if isinstance(msg.get("merge"), str) else None
        label = op.label if isinstance(op, Batch) else _label(op)
        return self._commit_op(member, op, client_id, "do", label, merge=merge, trusted=False)

    def _on_undo(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        if denied := self._need(member, "edit", msg):
            return denied
        redo = msg.get("type") == "redo"
        history = self.histories.get(member.user, History())
        stack = history.redo if redo else history.undo
        if not stack:
            what = "redo" if redo else "undo"
            return [
                _error((member.conn,), f"nothing_to_{what}", f"you have nothing to {what}", msg)
            ]
        step = stack[-1]
        try:
            self._check_locks(member, step.revert)
        except OpRejected as exc:
            return [_error((member.conn,), exc.code, exc.message, msg)]
        client_id = msg.get("id") if isinstance(msg.get("id"), str) else None
        return self._commit_op(
            member, step.revert, client_id, "redo" if redo else "undo", step.label, trusted=True
        )

    def _commit_op(
        self,
        member: Member,
        op: EditOp,
        client_id: str | None,
        step: str,
        label: str,
        *,
        merge: str | None = None,
        trusted: bool,
    ) -> list[Send]:
        to = (member.conn,)
        try:
            inverse = self.editor.apply(op, trusted=trusted)
        except OpRejected as exc:
            if step != "do":  # the step can no longer be reverted: drop it, say why
                stack = self.histories[member.user]
                (stack.redo if step == "redo" else stack.undo).pop()
                return [
                    _error(
                        to, exc.code, f"can't {step} '{label}': {exc.message}", {"id": client_id}
                    )
                ]
            return [_error(to, exc.code, exc.message, {"id": client_id}, index=exc.index)]
        record = {
            "type": "op",
            "seq": self.seq + 1,
            "author": member.user,
            "name": member.name,
            "id": client_id,
            "op": to_wire(op),
            "step": step,
            "label": label,
            "merge": merge,
        }
        try:
            self.journal.append(record)
        except Exception as exc:  # nothing may be acknowledged that is not durable
            self.editor.apply(inverse, trusted=True)
            return [
                _error(
                    to,
                    "journal_failed",
                    f"the edit was not saved ({exc}); try again",
                    {"id": client_id},
                )
            ]
        self.seq += 1
        self._recent.append(record)
        self._record_step(member.user, step, label, inverse, merge, coalesce_key(op))
        if client_id is not None:
            self._remember_op(member.user, client_id)
        key = coalesce_key(op)
        out = [Send(record, None, key=f"op:{key}" if key else None)]
        if client_id is not None:  # after the broadcast: the sender sees its edit, then the ack
            out.append(Send({"type": "ack", "id": client_id, "seq": self.seq}, to))
        return out

    def _record_step(
        self, user: str, step: str, label: str, inverse: EditOp, merge: str | None, key: str | None
    ) -> None:
        history = self.histories.setdefault(user, History())
        if step == "do":
            history.redo.clear()
            top = history.undo[-1] if history.undo else None
            if top is not None and merge is not None and top.merge == merge and top.key == key:
                return  # same drag, same property: the first inverse already restores the start
            history.undo.append(Step(label, inverse, merge, key))
            del history.undo[:-MAX_UNDO]
        elif step == "undo":
            history.undo.pop()
            history.redo.append(Step(label, inverse))
        else:
            history.redo.pop()
            history.undo.append(Step(label, inverse))

    def _remember_op(self, user: str, client_id: str) -> None:
        seen = self._seen_ops.setdefault(user, OrderedDict())
        seen[client_id] = self.seq
        while len(seen) > SEEN_OP_IDS:
            seen.popitem(last=False)

    def _check_locks(self, member: Member, op: EditOp) -> None:
        if not self.locks:
            return
        structural = any(leaf.kind in STRUCTURAL for leaf in iter_leaf_ops(op))
        for path in touched_paths(op):
            for lock in self.locks.values():
                if lock.user == member.user:
                    continue
                inside = path == lock.path or path.startswith(lock.path.rstrip("/") + "/")
                contains = structural and (
                    lock.path.startswith(path.rstrip("/") + "/") or path == "/"
                )
                if inside or contains:
                    raise OpRejected(
                        "locked",
                        f"{lock.path} is locked by {lock.name}: ask them to release it, "
                        "or ask the owner to break the lock",
                    )

    # -- presence and locks ------------------------------------------------------------

    def _on_presence(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        selection = msg.get("selection", list(member.selection))
        dragging = msg.get("dragging")
        if (
            not isinstance(selection, list)
            or len(selection) > MAX_SELECTION
            or not all(isinstance(p, str) and len(p) <= 1024 for p in selection)
            or not (dragging is None or (isinstance(dragging, str) and len(dragging) <= 1024))
        ):
            return [
                _error(
                    (member.conn,), "malformed_presence", "selection is a list of prim paths", msg
                )
            ]
        self.members[member.conn] = replace(member, selection=tuple(selection), dragging=dragging)
        return [self._presence()]

    def _presence(self) -> Send:
        members = [m.to_wire() for m in self.members.values()]
        return Send({"type": "presence", "members": members}, None, key="presence")

    def _locks(self) -> Send:
        return Send({"type": "locks", "locks": [x.to_wire() for x in self.locks.values()]}, None)

    def _on_lock(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        if denied := self._need(member, "lock", msg):
            return denied
        path = msg.get("path")
        if not isinstance(path, str) or not path.startswith("/") or len(path) > 1024:
            return [_error((member.conn,), "bad_path", "lock needs a prim 'path'", msg)]
        if msg["type"] == "lock":
            if not self.room_stage.stage.GetPrimAtPath(path):
                return [_error((member.conn,), "prim_not_found", f"no prim at {path}", msg)]
            for lock in self.locks.values():
                overlaps = (
                    path == lock.path
                    or path.startswith(lock.path + "/")
                    or lock.path.startswith(path + "/")
                )
                if overlaps and lock.user != member.user:
                    return [
                        _error(
                            (member.conn,),
                            "locked",
                            f"{lock.path} is already locked by {lock.name}",
                            msg,
                        )
                    ]
            self.locks[path] = Lock(path, member.user, member.name)
        else:
            held = self.locks.get(path)
            if held is None:
                return [_error((member.conn,), "not_locked", f"{path} is not locked", msg)]
            if held.user != member.user and (denied := self._need(member, "break_lock", msg)):
                return denied
            del self.locks[path]
        return [self._locks(), *self._ack(member, msg)]

    # -- notes and takes ---------------------------------------------------------------

    def _commit_event(
        self,
        member: Member,
        msg: dict[str, Any],
        record: dict[str, Any],
        broadcast: dict[str, Any],
        apply: Callable[[], object],
    ) -> list[Send]:
        """Journal ``record``, then apply it, broadcast it and ack the sender (in that order)."""
        try:
            self.journal.append(record)
        except Exception as exc:
            message = f"it was not saved ({exc}); try again"
            return [_error((member.conn,), "journal_failed", message, msg)]
        self.seq = record["seq"]
        self._recent.append(broadcast)
        apply()
        return [Send(broadcast, None), *self._ack(member, msg)]

    def _on_note(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        if denied := self._need(member, "note", msg):
            return denied
        try:
            note = self.notes.prepare(
                msg.get("action"),
                msg,
                author=member.user,
                name=member.name,
                seq=self.seq + 1,
                now=self.clock(),
            )
        except NoteRejected as exc:
            return [_error((member.conn,), exc.code, exc.message, msg)]
        record = {
            "type": "note",
            "seq": self.seq + 1,
            "action": msg["action"],
            "note": note.to_wire(),
        }
        return self._commit_event(member, msg, record, record, lambda: self.notes.apply(note))

    def _ack(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        if isinstance(msg.get("id"), str):
            return [Send({"type": "ack", "id": msg["id"], "seq": self.seq}, (member.conn,))]
        return []

    def _on_take(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        action = msg.get("action")
        name = msg.get("name")
        to = (member.conn,)
        if action == "list":
            return [
                Send(
                    _with_id(
                        {"type": "takes", "takes": [t.summary() for t in self.takes.values()]}, msg
                    ),
                    to,
                )
            ]
        if action == "diff":
            return self._take_diff(member, msg)
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            return [_error(to, "malformed_take", "a take needs a 'name'", msg)]
        if action == "save":
            if denied := self._need(member, "take_save", msg):
                return denied
            if name in self.takes:
                return [_error(to, "take_exists", f"take {name!r} exists: pick another name", msg)]
            if len(self.takes) >= MAX_TAKES:
                return [_error(to, "too_many_takes", "delete old takes first", msg)]
            take = Take(
                name, self.seq, member.user, self.clock(), self.room_stage.edit_layer_text()
            )
            record = {
                "type": "take",
                "seq": self.seq + 1,
                "action": "save",
                "take": {**take.summary(), "layer": take.layer},
            }
            broadcast = {
                "type": "take",
                "seq": self.seq + 1,
                "action": "save",
                "take": take.summary(),
            }
            return self._commit_event(
                member, msg, record, broadcast, lambda: self.takes.__setitem__(name, take)
            )
        needs = {"delete": "take_delete", "restore": "take_save"}.get(str(action))
        if needs and (denied := self._need(member, needs, msg)):
            return denied
        existing = self.takes.get(name)
        if existing is None and needs:
            return [_error(to, "take_not_found", f"no take {name!r} in this room", msg)]
        if action == "delete" and existing is not None:
            record = {
                "type": "take",
                "seq": self.seq + 1,
                "action": "delete",
                "take": existing.summary(),
            }
            return self._commit_event(member, msg, record, record, lambda: self.takes.pop(name))
        if action == "restore" and existing is not None:
            op = Batch(f"Restore take {name}", (RestoreSpec("/", existing.layer),))
            try:
                self._check_locks(member, op)
            except OpRejected as exc:
                return [_error(to, exc.code, exc.message, msg)]
            cid = msg.get("id") if isinstance(msg.get("id"), str) else None
            return self._commit_op(member, op, cid, "do", op.label, trusted=True)
        return [
            _error(
                to,
                "malformed_take",
                "take 'action' must be save, restore, delete, list or diff",
                msg,
            )
        ]

    def _take_diff(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        layers = []
        for key in ("a", "b"):
            name = msg.get(key)
            if name is None:
                layers.append(self.room_stage.edit_layer_text())
            elif isinstance(name, str) and name in self.takes:
                layers.append(self.takes[name].layer)
            else:
                return [
                    _error((member.conn,), "take_not_found", f"no take {name!r} in this room", msg)
                ]
        reply = {
            "type": "take_diff",
            "a": msg.get("a"),
            "b": msg.get("b"),
            "changes": diff_layers(*layers),
        }
        if isinstance(msg.get("id"), str):
            reply["id"] = msg["id"]
        return [Send(reply, (member.conn,))]

    # -- the review picture -------------------------------------------------------------

    def _on_settings(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        if denied := self._need(member, "edit", msg):
            return denied
        changes = msg.get("review")
        if not isinstance(changes, dict) or not changes:
            return [_error((member.conn,), "malformed_settings", "send {'review': {...}}", msg)]
        try:
            settings = self.review.updated(changes)
        except (ReviewRejected, TypeError) as exc:
            code = getattr(exc, "code", "malformed_settings")
            return [_error((member.conn,), code, getattr(exc, "message", str(exc)), msg)]
        record = {"type": "settings", "seq": self.seq + 1, "review": settings.to_wire()}
        return self._commit_event(
            member, msg, record, record, lambda: setattr(self, "review", settings)
        )

    def _on_frame(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        if denied := self._need(member, "render", msg):
            return denied
        last = self.last_frame["seq"] if self.last_frame is not None else 0
        try:
            frame = check_frame(msg, self.seq, last)
        except ReviewRejected as exc:
            return [_error((member.conn,), exc.code, exc.message, msg)]
        frame["node"] = member.name
        self.last_frame = frame
        viewers = tuple(c for c, m in self.members.items() if m.role != "render")
        return [Send(frame, viewers, key="frame")]

    # -- final renders ---------------------------------------------------------------

    def _on_job(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        action = msg.get("action")
        to = (member.conn,)
        try:
            if action == "submit":
                if denied := self._need(member, "edit", msg):
                    return denied
                return self._submit_jobs(member, msg)
            job_id = msg.get("job_id")
            if not isinstance(job_id, str):
                return [_error(to, "malformed_job", "name the job with 'job_id'", msg)]
            if action == "cancel":
                if denied := self._need(member, "edit", msg):
                    return denied
                return [*self._journal_job("cancel", job_id, member, msg), *self._schedule()]
            if denied := self._need(member, "render", msg):
                return denied
            job = self.jobs.jobs.get(job_id)
            if job is None or job.node != member.conn:
                return [_error(to, "job_not_yours", f"job {job_id} is not assigned to you", msg)]
            if action == "progress":
                updated = self.jobs.transition(job_id, "progress", progress=msg.get("progress"))
                return [Send(self._job_message(updated), None, key=f"job:{job_id}")]
            if action == "fail":
                reason = str(msg.get("error", "the render failed"))[:1000]
                return [
                    *self._journal_job("fail", job_id, member, msg, error=reason),
                    *self._schedule(),
                ]
        except JobRejected as exc:
            return [_error(to, exc.code, exc.message, msg)]
        return [
            _error(
                to, "malformed_job", "job 'action' must be submit, cancel, progress or fail", msg
            )
        ]

    def _check_job_event(self, event: str, job_id: str) -> None:
        """Raise JobRejected unless ``event`` may happen to ``job_id`` now (jobs.TRANSITIONS)."""
        job = self.jobs.jobs.get(job_id)
        if job is None:
            raise JobRejected("job_not_found", f"no job {job_id!r} in this room")
        if job.state not in TRANSITIONS[event][0]:
            raise JobRejected("job_state", f"job {job_id} is {job.state}: it can't {event}")

    def _submit_jobs(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        camera = self.review.camera or self.room_stage.review_camera() or "/Studio/Cameras/Hero"
        jobs = plan_jobs(
            msg,
            seq=self.seq,
            layer=self.room_stage.edit_layer_text(),
            default_camera=camera,
            author=member.user,
            now=self.clock(),
        )
        for job in jobs:
            if not self.room_stage.stage.GetPrimAtPath(job.camera):
                raise JobRejected("prim_not_found", f"no camera at {job.camera}")
        record = {
            "type": "job",
            "seq": self.seq + 1,
            "action": "submit",
            "jobs": [j.to_record() for j in jobs],
        }
        broadcast = {**record, "jobs": [j.summary() for j in jobs]}

        def add() -> None:
            for job in jobs:
                self.jobs.add(job)

        return [*self._commit_event(member, msg, record, broadcast, add), *self._schedule()]

    def _journal_job(
        self, event: str, job_id: str, member: Member, msg: dict[str, Any], **changes: Any
    ) -> list[Send]:
        self._check_job_event(event, job_id)  # before journaling: the record must replay
        record = {"type": "job", "seq": self.seq + 1, "action": event, "job_id": job_id, **changes}
        out: list[RenderJob] = []

        def apply() -> None:
            out.append(self.jobs.transition(job_id, event, **changes))

        sends = self._commit_event(member, msg, record, record, apply)
        return [*sends, *(self._job_update(j) for j in out)]

    def complete_job(self, grant: Grant, job_id: str, result: str) -> list[Send]:
        """A node uploaded ``job_id``'s image, stored as ``result``: journal it, then schedule."""
        member = Member(f"rest:{grant.user}", grant.user, grant.name, grant.role, "#888888")
        job = self.jobs.jobs.get(job_id)
        node = self.members.get(job.node) if job and job.node else None
        if job is None or node is None or node.user != grant.user or job.state != "running":
            raise JobRejected("job_not_yours", f"job {job_id} is not running on your node")
        msg = {"type": "job"}
        return [
            *self._journal_job("complete", job_id, member, msg, result=result),
            *self._schedule(),
        ]

    def _job_message(self, job: RenderJob) -> dict[str, Any]:
        return {"type": "job_update", "job": job.summary()}

    def _job_update(self, job: RenderJob) -> Send:
        return Send(self._job_message(job), None)

    def _schedule(self) -> list[Send]:
        """Give each idle render node the oldest queued job."""
        out: list[Send] = []
        while True:
            busy = {j.node for j in self.jobs.jobs.values() if j.state == "running"}
            idle = [c for c, m in self.members.items() if m.role == "render" and c not in busy]
            pick = self.jobs.next_for(idle)
            if pick is None:
                return out
            job, node = pick
            job = self.jobs.transition(job.id, "assign", node=node)
            out.append(Send({"type": "job_assign", "job": job.to_record()}, (node,)))
            out.append(self._job_update(job))

    def _on_ping(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        return [
            Send(
                _with_id({"type": "pong", "t": msg.get("t"), "seq": self.seq}, msg), (member.conn,)
            )
        ]

    _handlers: dict[str, Callable[[Room, Member, dict[str, Any]], list[Send]]] = {
        "op": _on_op,
        "undo": _on_undo,
        "redo": _on_undo,
        "presence": _on_presence,
        "lock": _on_lock,
        "unlock": _on_lock,
        "note": _on_note,
        "take": _on_take,
        "ping": _on_ping,
        "settings": _on_settings,
        "frame": _on_frame,
        "job": _on_job,
    }

    # -- recovery ----------------------------------------------------------------------

    def replay(self, record: dict[str, Any]) -> None:
        """Re-apply one journal record during recovery (the stage is at ``record.seq - 1``)."""
        if record["seq"] != self.seq + 1:
            raise ValueError(f"journal gap: room at seq {self.seq}, record {record['seq']}")
        kind = record["type"]
        if kind == "op":
            op = op_from_wire(record["op"], allow_internal=True)
            inverse = self.editor.apply(op, trusted=True)
            self._record_step(
                record["author"],
                record["step"],
                record["label"],
                inverse,
                record.get("merge"),
                coalesce_key(op),
            )
            if record.get("id"):
                self._remember_op(record["author"], record["id"])
        elif kind == "note":
            self.notes.apply(ReviewNote.from_wire(record["note"]))
        elif kind == "settings":
            self.review = ReviewSettings(**record["review"])
        elif kind == "job":
            self._replay_job(record)
        elif kind == "take":
            t = record["take"]
            if record["action"] == "save":
                self.takes[t["name"]] = Take(
                    t["name"], t["seq"], t["author"], t["created_at"], t["layer"]
                )
            else:
                self.takes.pop(t["name"], None)
            record = {**record, "take": {k: v for k, v in t.items() if k != "layer"}}
        self.seq = record["seq"]
        self._recent.append(record)

    def _replay_job(self, record: dict[str, Any]) -> None:
        """Jobs after a restart: assignments were not journaled, so running jobs are queued."""
        action = record["action"]
        if action == "submit":
            for j in record["jobs"]:
                self.jobs.add(RenderJob(**j))
            return
        job = self.jobs.jobs[record["job_id"]]
        if action == "complete":
            self.jobs.jobs[job.id] = replace(
                job, state="done", progress=1.0, result=record["result"]
            )
        elif action == "cancel":
            self.jobs.jobs[job.id] = replace(job, state="cancelled")
        elif action == "fail":
            self.jobs.jobs[job.id] = replace(job, state="running")
            self.jobs.transition(job.id, "fail", error=record.get("error"))

    def checkpoint_state(self) -> dict[str, Any]:
        """The non-USD state a checkpoint stores beside the edit layer."""
        return {
            "seq": self.seq,
            "notes": self.notes.to_wire(),
            "takes": [{**t.summary(), "layer": t.layer} for t in self.takes.values()],
            "review": self.review.to_wire(),
            "jobs": [j.to_record() for j in self.jobs.jobs.values()],
        }

    def load_state(self, seq: int, state: dict[str, Any]) -> None:
        """Restore a checkpoint's state (the edit layer is loaded by the caller)."""
        self.seq = seq
        for n in state.get("notes", []):
            self.notes.apply(ReviewNote.from_wire(n))
        if "review" in state:
            self.review = ReviewSettings(**state["review"])
        for j in state.get("jobs", []):
            job = RenderJob(**j)
            self.jobs.add(
                replace(job, state="queued", node=None) if job.state == "running" else job
            )
        for t in state.get("takes", []):
            self.takes[t["name"]] = Take(
                t["name"], t["seq"], t["author"], t["created_at"], t["layer"]
            )


def _label(op: EditOp) -> str:
    attr = getattr(op, "attr", None)
    path = getattr(op, "path", "")
    return f"{op.kind} {path.rsplit('/', 1)[-1]}" + (f".{attr}" if attr else "")


def _with_id(reply: dict[str, Any], msg: dict[str, Any]) -> dict[str, Any]:
    """Echo the request's id so the sender can match the reply."""
    if isinstance(msg.get("id"), str):
        reply["id"] = msg["id"]
    return reply


def _error(
    to: tuple[str, ...],
    code: str,
    message: str,
    msg: dict[str, Any] | None = None,
    *,
    index: int | None = None,
    close: bool = False,
) -> Send:
    err: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if msg is not None and isinstance(msg.get("id"), str):
        err["id"] = msg["id"]
    if index is not None:
        err["index"] = index
    return Send(err, to, close=close)
