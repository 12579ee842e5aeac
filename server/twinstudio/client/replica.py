"""A read-only replica of a room's stage, fed by the server's messages. No I/O.

Feed it the ``snapshot`` message (after mirroring the asset library it lists)
and then every ``op`` message in the order received. Seqs may skip: the server
drops a queued value a newer one of the same property replaced, and never
drops anything structural, so applying what arrives gives the server's state.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pxr import Usd

from twinstudio.stage.composition import RoomStage
from twinstudio.stage.editor import StageEditor
from twinstudio.stage.ops import op_from_wire
from twinstudio.stage.values import to_wire

log = logging.getLogger(__name__)


class ReplicaDiverged(Exception):
    """An op from the server did not apply here: resync from a snapshot."""


class Replica:
    def __init__(self) -> None:
        self.seq = 0
        self._room_stage: RoomStage | None = None
        self._editor: StageEditor | None = None

    @property
    def stage(self) -> Usd.Stage:
        if self._room_stage is None:
            raise RuntimeError("the replica has no snapshot yet")
        return self._room_stage.stage

    @property
    def room_stage(self) -> RoomStage:
        if self._room_stage is None:
            raise RuntimeError("the replica has no snapshot yet")
        return self._room_stage

    def load_snapshot(self, snapshot: dict[str, Any], library_root: Path) -> None:
        """Rebuild the stage from ``snapshot``; ``library_root`` mirrors the server's library."""
        self._room_stage = RoomStage(library_root, snapshot["shot"], snapshot["edit_layer"])
        self._editor = StageEditor(self._room_stage)
        self.seq = snapshot["seq"]

    def apply(self, message: dict[str, Any]) -> bool:
        """Apply an ``op`` message; False if it is one the replica already has."""
        if message["seq"] <= self.seq:
            return False
        if self._editor is None:
            raise RuntimeError("the replica has no snapshot yet")
        try:
            self._editor.apply(op_from_wire(message["op"], allow_internal=True), trusted=True)
        except Exception as exc:
            raise ReplicaDiverged(f"op {message['seq']} did not apply: {exc}") from exc
        self.seq = message["seq"]
        return True

    def advance(self, seq: int) -> None:
        """Note that a non-stage event (note, take) at ``seq`` was seen."""
        self.seq = max(self.seq, seq)

    def get(self, path: str, attr: str) -> Any:
        """The composed value of ``path.attr`` in wire form (lists, floats, strings)."""
        prim = self.stage.GetPrimAtPath(path)
        if not prim:
            raise KeyError(f"no prim at {path}")
        attribute = prim.GetAttribute(attr)
        if not attribute:
            raise KeyError(f"{path} has no attribute {attr!r}")
        return to_wire(attribute.Get())
