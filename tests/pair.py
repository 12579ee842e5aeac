"""A pair harness for the sans-I/O room: members exchange messages through a Room, no sockets.

Like h11's test helpers: what one member sends goes through the room, and the
test checks exactly what every member receives.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from twinstudio.auth import Grant
from twinstudio.client.replica import Replica
from twinstudio.rooms.journal import Journal, MemoryJournal
from twinstudio.rooms.room import Room
from twinstudio.rooms.types import Send
from twinstudio.stage.composition import RoomStage

STAGES = Path(__file__).resolve().parents[1] / "stages"
SHOT = "default_shot.usda"


class Harness:
    """One room and its members' inboxes. Each member keeps a replica fed by what it receives."""

    def __init__(self, journal: Journal | None = None, library: Path = STAGES, shot: str = SHOT):
        self.journal = journal if journal is not None else MemoryJournal()
        self.room = Room("test", RoomStage(library, shot), self.journal, clock=lambda: 1000.0)
        self.library = library
        self.inbox: dict[str, list[dict[str, Any]]] = {}
        self.replicas: dict[str, Replica] = {}
        self._ids = itertools.count(1)

    def join(
        self, role: str, user: str | None = None, replica: Replica | None = None, **hello: Any
    ) -> str:
        """Join a new connection; pass the ``replica`` of an earlier one to model a reconnect."""
        conn = f"c{next(self._ids)}"
        grant = Grant("test", role, user or f"u-{conn}", f"{role}-{conn}", 2e9)
        self.inbox[conn] = []
        self.replicas[conn] = replica if replica is not None else Replica()
        self.deliver(self.room.join(conn, grant, {"type": "hello", "protocol": 1, **hello}))
        return conn

    def leave(self, conn: str) -> None:
        self.deliver(self.room.leave(conn))
        del self.inbox[conn]

    def send(self, conn: str, msg: dict[str, Any]) -> list[dict[str, Any]]:
        """Send ``msg`` from ``conn``; return what ``conn`` itself received in reply."""
        before = len(self.inbox[conn])
        self.deliver(self.room.receive(conn, msg))
        return self.inbox[conn][before:]

    def op(self, conn: str, op: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """Send an op; return the ack or the error addressed to the sender."""
        ident = f"{conn}-{next(self._ids)}"
        replies = self.send(conn, {"type": "op", "id": ident, "op": op, **extra})
        return next(m for m in replies if m.get("id") == ident and m["type"] in ("ack", "error"))

    def deliver(self, sends: list[Send]) -> None:
        for send in sends:
            targets = send.to if send.to is not None else tuple(self.room.members)
            for conn in targets:
                if conn not in self.inbox:
                    continue
                self.inbox[conn].append(send.message)
                self._feed(conn, send.message)

    def _feed(self, conn: str, msg: dict[str, Any]) -> None:
        replica = self.replicas[conn]
        if msg["type"] == "snapshot":
            replica.load_snapshot(msg, self.library)
        elif msg["type"] == "op":
            replica.apply(msg)

    def of_type(self, conn: str, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.inbox[conn] if m["type"] == kind]

    def value(self, path: str, attr: str) -> Any:
        from twinstudio.stage.values import to_wire

        return to_wire(self.room.room_stage.stage.GetAttributeAtPath(f"{path}.{attr}").Get())
