"""The room's small protocol types: who is in it, what it sends, and how errors look.

A :class:`Room` turns decoded messages into :class:`Send` values; transports deliver them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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


def with_id(reply: dict[str, Any], msg: dict[str, Any]) -> dict[str, Any]:
    """Echo the request's id so the sender can match the reply."""
    if isinstance(msg.get("id"), str):
        reply["id"] = msg["id"]
    return reply


def error(
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
