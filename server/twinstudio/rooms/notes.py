"""Review notes: threaded comments pinned to a prim and/or a point on the review image."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from twinstudio.errors import Refused

MAX_TEXT = 4000
MAX_NOTES = 10_000


class NoteRejected(Refused):
    """A note action that was refused."""


@dataclass(frozen=True)
class Anchor:
    """Where a note points: a prim, and/or normalised x/y on ``camera``'s frame ``frame_seq``."""

    path: str | None = None
    camera: str | None = None
    x: float | None = None
    y: float | None = None
    frame_seq: int | None = None

    @classmethod
    def from_wire(cls, d: object) -> Anchor:
        if not isinstance(d, dict):
            raise NoteRejected("malformed_note", "a note needs an 'anchor' map")
        out = cls(
            path=_opt_str(d, "path"),
            camera=_opt_str(d, "camera"),
            x=_opt_unit(d, "x"),
            y=_opt_unit(d, "y"),
            frame_seq=_opt_int(d, "frame_seq"),
        )
        if out.path is None and (out.x is None or out.y is None):
            raise NoteRejected("malformed_note", "anchor a note to a prim 'path' or to 'x' and 'y'")
        if (out.x is None) != (out.y is None):
            raise NoteRejected("malformed_note", "a point anchor needs both 'x' and 'y'")
        return out


@dataclass(frozen=True)
class Reply:
    id: str
    author: str
    name: str
    text: str
    created_at: float


@dataclass(frozen=True)
class ReviewNote:
    id: str
    author: str
    name: str
    text: str
    anchor: Anchor
    created_at: float
    resolved: bool = False
    replies: tuple[Reply, ...] = field(default_factory=tuple)

    def to_wire(self) -> dict[str, Any]:
        d = asdict(self)
        d["replies"] = [asdict(r) for r in self.replies]
        return d

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> ReviewNote:
        return cls(
            id=d["id"],
            author=d["author"],
            name=d["name"],
            text=d["text"],
            anchor=Anchor(**d["anchor"]),
            created_at=d["created_at"],
            resolved=d["resolved"],
            replies=tuple(Reply(**r) for r in d["replies"]),
        )


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or len(v) > 1024:
        raise NoteRejected("malformed_note", f"anchor {key!r} must be a string")
    return v


def _opt_unit(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise NoteRejected("malformed_note", f"anchor {key!r} must be a number")
    if not 0.0 <= v <= 1.0:
        raise NoteRejected("out_of_range", f"anchor {key!r} is normalised: it must be in [0, 1]")
    return float(v)


def _opt_int(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise NoteRejected("malformed_note", f"anchor {key!r} must be a non-negative integer")
    return v


def check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise NoteRejected("malformed_note", "a note needs some 'text'")
    if len(text) > MAX_TEXT:
        raise NoteRejected("too_large", f"notes are limited to {MAX_TEXT} characters")
    return text


class NoteBoard:
    """The room's notes, changed only through ``apply`` so replay gives the same board."""

    def __init__(self) -> None:
        self.notes: dict[str, ReviewNote] = {}

    def prepare(
        self, action: object, msg: dict[str, Any], *, author: str, name: str, seq: int, now: float
    ) -> ReviewNote:
        """Validate a note action and return the note as it will be after it (not yet stored)."""
        if action == "add":
            if len(self.notes) >= MAX_NOTES:
                raise NoteRejected("too_many_notes", "this room has reached its note limit")
            return ReviewNote(
                id=f"n{seq}",
                author=author,
                name=name,
                text=check_text(msg.get("text")),
                anchor=Anchor.from_wire(msg.get("anchor")),
                created_at=now,
            )
        note = self.notes.get(msg.get("note_id"))  # type: ignore[arg-type]
        if note is None:
            raise NoteRejected("note_not_found", f"no note {msg.get('note_id')!r} in this room")
        if action == "reply":
            reply = Reply(f"r{seq}", author, name, check_text(msg.get("text")), now)
            return replace(note, replies=(*note.replies, reply))
        if action in ("resolve", "reopen"):
            return replace(note, resolved=action == "resolve")
        raise NoteRejected("malformed_note", "note 'action' must be add, reply, resolve or reopen")

    def apply(self, note: ReviewNote) -> None:
        self.notes[note.id] = note

    def to_wire(self) -> list[dict[str, Any]]:
        return [n.to_wire() for n in self.notes.values()]
