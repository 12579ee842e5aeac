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
from dataclasses import asdict, replace
from typing import Any

from twinstudio.auth import Grant
from twinstudio.rooms import roles
from twinstudio.rooms.desk import RenderDesk
from twinstudio.rooms.history import History
from twinstudio.rooms.jobs import JobBoard, RenderJob
from twinstudio.rooms.journal import Journal
from twinstudio.rooms.notes import NoteBoard, NoteRejected, ReviewNote
from twinstudio.rooms.review import ReviewRejected, ReviewSettings, check_frame
from twinstudio.rooms.takes import MAX_TAKES, Take, diff_layers
from twinstudio.rooms.types import Lock, Member, Send, error, with_id
from twinstudio.stage.composition import RoomStage
from twinstudio.stage.editor import StageEditor
from twinstudio.stage.library import AssetLibrary, LibraryFile
from twinstudio.stage.ops import (
    Batch,
    EditOp,
    OpRejected,
    RestoreSpec,
    SetPose,
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
MAX_SELECTION = 256
RECENT_EVENTS = 10_000
SEEN_OP_IDS = 1024


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
        self.desk = RenderDesk(self)
        self.last_frame: dict[str, Any] | None = None

    # -- membership --------------------------------------------------------------------

    def join(self, conn: str, grant: Grant, hello: dict[str, Any]) -> list[Send]:
        """Admit ``conn`` after its ``hello``: welcome, then a snapshot or the missed events."""
        to = (conn,)
        if hello.get("protocol") != PROTOCOL_VERSION:
            return [
                error(
                    to,
                    "protocol_unsupported",
                    f"this server speaks protocol {PROTOCOL_VERSION}; update the client",
                    close=True,
                )
            ]
        if len(self.members) >= self.max_members:
            return [
                error(to, "room_full", f"room {self.name} is full ({self.max_members})", close=True)
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
        return out + self.desk.schedule()

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
        return out + self.desk.node_left(conn)

    def library_manifest(self) -> list[dict[str, Any]]:
        """The asset library's files with their sha256 (read once: the library is read-only)."""
        if self._manifest is None:
            self._manifest = self.library.manifest()
        return [asdict(f) for f in self._manifest]

    def snapshot(self) -> dict[str, Any]:
        """Everything a new client needs, consistent at ``seq``."""
        return {
            "type": "snapshot",
            "seq": self.seq,
            "shot": self.room_stage.shot,
            "edit_layer": self.room_stage.edit_layer_text(),
            "library": self.library_manifest(),
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
            return [error((conn,), "not_joined", "send 'hello' first", close=True)]
        kind = msg.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return [error((conn,), "unknown_message", f"unknown message type {kind!r}", msg)]
        return handler(self, member, msg)

    def receive_as(self, grant: Grant, msg: dict[str, Any]) -> list[Send]:
        """Handle a message from outside the live session (REST): the sender is not a member.

        Replies addressed to the sender carry the connection id ``rest:<user>``.
        """
        member = Member(f"rest:{grant.user}", grant.user, grant.name, grant.role, "#888888")
        kind = msg.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None or kind == "presence":
            return [error((member.conn,), "unknown_message", f"unknown message type {kind!r}", msg)]
        return handler(self, member, msg)

    def _need(self, member: Member, action: str, msg: dict[str, Any]) -> list[Send] | None:
        if roles.allowed(member.role, action):
            return None
        return [
            error(
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
            return [error((member.conn,), "malformed_op", "an op message needs a string 'id'", msg)]
        seen = self._seen_ops.get(member.user, OrderedDict()).get(client_id)
        if seen is not None:  # a resend after a reconnect: it is already durable
            return [Send({"type": "ack", "id": client_id, "seq": seen}, (member.conn,))]
        try:
            asked = op_from_wire(msg.get("op"))
            self._check_locks(member, asked)
            # Presets become concrete rotations here, so the journal never needs the library;
            # decoded again from the wire, they are exactly what every replica will apply.
            op = self.editor.expand_presets(asked)
            if op is not asked:
                op = op_from_wire(to_wire(op))
        except OpRejected as exc:
            return [error((member.conn,), exc.code, exc.message, msg, index=exc.index)]
        merge = msg.get("merge") if isinstance(msg.get("merge"), str) else None
        label = op.label if isinstance(op, Batch) else _label(asked)
        return self._commit_op(member, op, client_id, "do", label, merge=merge, trusted=False)

    def _on_undo(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        if denied := self._need(member, "edit", msg):
            return denied
        redo = msg.get("type") == "redo"
        history = self.histories.get(member.user, History())
        stack = history.redo if redo else history.undo
        if not stack:
            what = "redo" if redo else "undo"
            return [error((member.conn,), f"nothing_to_{what}", f"you have nothing to {what}", msg)]
        step = stack[-1]
        try:
            self._check_locks(member, step.revert)
        except OpRejected as exc:
            return [error((member.conn,), exc.code, exc.message, msg)]
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
                    error(to, exc.code, f"can't {step} '{label}': {exc.message}", {"id": client_id})
                ]
            return [error(to, exc.code, exc.message, {"id": client_id}, index=exc.index)]
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
                error(
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
        self.histories.setdefault(user, History()).record(step, label, inverse, merge, key)

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
                error(
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
            return [error((member.conn,), "bad_path", "lock needs a prim 'path'", msg)]
        if msg["type"] == "lock":
            if not self.room_stage.stage.GetPrimAtPath(path):
                return [error((member.conn,), "prim_not_found", f"no prim at {path}", msg)]
            for lock in self.locks.values():
                overlaps = (
                    path == lock.path
                    or path.startswith(lock.path + "/")
                    or lock.path.startswith(path + "/")
                )
                if overlaps and lock.user != member.user:
                    return [
                        error(
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
                return [error((member.conn,), "not_locked", f"{path} is not locked", msg)]
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
            return [error((member.conn,), "journal_failed", message, msg)]
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
            return [error((member.conn,), exc.code, exc.message, msg)]
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
                    with_id(
                        {"type": "takes", "takes": [t.summary() for t in self.takes.values()]}, msg
                    ),
                    to,
                )
            ]
        if action == "diff":
            return self._take_diff(member, msg)
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            return [error(to, "malformed_take", "a take needs a 'name'", msg)]
        if action == "save":
            if denied := self._need(member, "take_save", msg):
                return denied
            if name in self.takes:
                return [error(to, "take_exists", f"take {name!r} exists: pick another name", msg)]
            if len(self.takes) >= MAX_TAKES:
                return [error(to, "too_many_takes", "delete old takes first", msg)]
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
            return [error(to, "take_not_found", f"no take {name!r} in this room", msg)]
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
                return [error(to, exc.code, exc.message, msg)]
            cid = msg.get("id") if isinstance(msg.get("id"), str) else None
            return self._commit_op(member, op, cid, "do", op.label, trusted=True)
        return [
            error(
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
                    error((member.conn,), "take_not_found", f"no take {name!r} in this room", msg)
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
            return [error((member.conn,), "malformed_settings", "send {'review': {...}}", msg)]
        try:
            settings = self.review.updated(changes)
        except (ReviewRejected, TypeError) as exc:
            code = getattr(exc, "code", "malformed_settings")
            return [error((member.conn,), code, getattr(exc, "message", str(exc)), msg)]
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
            return [error((member.conn,), exc.code, exc.message, msg)]
        frame["node"] = member.name
        self.last_frame = frame
        viewers = tuple(c for c, m in self.members.items() if m.role != "render")
        return [Send(frame, viewers, key="frame")]

    def _on_ping(self, member: Member, msg: dict[str, Any]) -> list[Send]:
        return [
            Send(with_id({"type": "pong", "t": msg.get("t"), "seq": self.seq}, msg), (member.conn,))
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
        "job": lambda room, member, msg: room.desk.on_job(member, msg),
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
            self.desk.replay(record)
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
    if isinstance(op, SetPose) and op.preset is not None:
        return f"Pose {op.preset.replace('_', ' ')}"
    attr = getattr(op, "attr", None)
    path = getattr(op, "path", "")
    return f"{op.kind} {path.rsplit('/', 1)[-1]}" + (f".{attr}" if attr else "")
