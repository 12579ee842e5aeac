"""Per-member undo and redo: each step is the op that reverts it, recorded as edits commit.

Undo applies a step's revert op as a new edit (so everyone sees it in order) and
moves the step to redo; an edit that is not an undo or redo clears redo. Edits sent
with the same ``merge`` id to the same property (a drag) fold into one step whose
revert restores the state before the drag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twinstudio.stage.ops import EditOp

MAX_UNDO = 200


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

    def record(
        self, step: str, label: str, inverse: EditOp, merge: str | None, key: str | None
    ) -> None:
        """Record an applied ``step`` ("do", "undo" or "redo") whose inverse is ``inverse``."""
        if step == "do":
            self.redo.clear()
            top = self.undo[-1] if self.undo else None
            if top is not None and merge is not None and top.merge == merge and top.key == key:
                return  # same drag, same property: the first inverse already restores the start
            self.undo.append(Step(label, inverse, merge, key))
            del self.undo[:-MAX_UNDO]
        elif step == "undo":
            self.undo.pop()
            self.redo.append(Step(label, inverse))
        else:
            self.redo.pop()
            self.undo.append(Step(label, inverse))
