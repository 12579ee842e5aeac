"""The studio: every room's durable home in the data directory.

Layout of ``DATA/rooms/<room>/``::

    room.json            the shot the room was opened on
    journal/             write-ahead journal segments (see journal.py)
    checkpoints/         the edit layer as .usdc + notes/takes state, and CURRENT

Opening a room recovers it: the latest checkpoint, then a replay of every
journal record after it. A room is checkpointed every ``checkpoint_every``
events, after which older journal segments are compacted away.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from twinstudio.auth import ROOM_NAME_RE
from twinstudio.rooms.checkpoint import edit_layer_text, load_latest_checkpoint, save_checkpoint
from twinstudio.rooms.journal import FileJournal, FsyncPolicy
from twinstudio.rooms.room import Room
from twinstudio.stage.composition import RoomStage

log = logging.getLogger(__name__)

DEFAULT_SHOT = "default_shot.usda"


class Studio:
    """Opens, recovers and checkpoints rooms under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        library_root: Path,
        *,
        default_shot: str = DEFAULT_SHOT,
        fsync: FsyncPolicy = FsyncPolicy.ALWAYS,
        checkpoint_every: int = 1000,
        max_members: int = 64,
        group_commit: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.library_root = library_root
        self.default_shot = default_shot
        self.fsync = fsync
        self.checkpoint_every = checkpoint_every
        self.max_members = max_members
        self.group_commit = group_commit  # the server fsyncs in batches off the event loop
        self.rooms: dict[str, Room] = {}
        self._checkpointed: dict[str, int] = {}
        (data_dir / "rooms").mkdir(parents=True, exist_ok=True)

    def room_dir(self, name: str) -> Path:
        return self.data_dir / "rooms" / name

    def existing_rooms(self) -> list[str]:
        found = {p.name for p in (self.data_dir / "rooms").iterdir() if (p / "room.json").exists()}
        return sorted(found | self.rooms.keys())

    def room(self, name: str) -> Room:
        """The open room ``name``, recovering it from disk (or creating it) on first use."""
        if name in self.rooms:
            return self.rooms[name]
        if not ROOM_NAME_RE.match(name):
            raise ValueError(f"invalid room name {name!r}")
        directory = self.room_dir(name)
        meta = directory / "room.json"
        if meta.exists():
            shot = json.loads(meta.read_text())["shot"]
        else:
            directory.mkdir(parents=True, exist_ok=True)
            shot = self.default_shot
            tmp = meta.with_suffix(".tmp")
            tmp.write_text(json.dumps({"shot": shot}))
            os.replace(tmp, meta)
        checkpoint = load_latest_checkpoint(directory / "checkpoints")
        text = edit_layer_text(checkpoint) if checkpoint is not None else None
        room_stage = RoomStage(self.library_root, shot, text)
        journal = FileJournal(
            directory / "journal", fsync=self.fsync, group_commit=self.group_commit
        )
        room = Room(name, room_stage, journal, max_members=self.max_members)
        start = 0
        if checkpoint is not None:
            room.load_state(checkpoint.seq, checkpoint.state)
            start = checkpoint.seq
        replayed = 0
        for record in journal.records_after(start):
            room.replay(record)
            replayed += 1
        log.info(
            "room %s recovered at seq %d (%d journal records replayed)", name, room.seq, replayed
        )
        self.rooms[name] = room
        self._checkpointed[name] = start
        return room

    def after_change(self, room: Room) -> None:
        """Call after a room committed events: checkpoints it when enough have piled up."""
        if room.seq - self._checkpointed.get(room.name, 0) >= self.checkpoint_every:
            self.checkpoint(room)

    def checkpoint(self, room: Room) -> None:
        """Write the room's edit layer and state, then drop journal segments it covers."""
        directory = self.room_dir(room.name) / "checkpoints"
        save_checkpoint(directory, room.seq, room.room_stage.edit_layer, room.checkpoint_state())
        room.journal.compact(room.seq)
        self._checkpointed[room.name] = room.seq

    def sync_journals(self) -> None:
        """Flush journals to disk now (for the ``interval`` policy when a room goes idle)."""
        for room in self.rooms.values():
            room.journal.sync_pending()

    def close(self) -> None:
        for room in self.rooms.values():
            room.journal.close()
        self.rooms.clear()
