"""A room's stage: the shot, read-only, under the room's own edit layer.

The composed stage is ``root -> [edit layer, shot]``. Every live edit is
authored in the edit layer (the edit target); the shot and the assets it
references are never written. The two layers get identifiers inside the asset
library directory so that relative asset paths authored by edits (``./props/
apple_box.usda``) resolve the same way on the server and on every replica,
whose library is a local mirror.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from pxr import Sdf, Usd

_counter = itertools.count()
EMPTY_LAYER = "#usda 1.0\n"


class RoomStage:
    """Compose ``shot`` (library-relative) from ``library_root`` under an in-memory edit layer."""

    def __init__(self, library_root: Path, shot: str, edit_layer_text: str | None = None) -> None:
        self.library_root = library_root.resolve()
        self.shot = shot
        fmt = Sdf.FileFormat.FindById("usda")
        tag = f"{os.getpid()}-{next(_counter)}"
        # Identifiers that exist only in memory, anchored in the library so relative paths resolve.
        self.edit_layer: Sdf.Layer = Sdf.Layer.New(
            fmt, str(self.library_root / f".room-{tag}-edit.usda")
        )
        self.root_layer: Sdf.Layer = Sdf.Layer.New(
            fmt, str(self.library_root / f".room-{tag}.usda")
        )
        if edit_layer_text:
            self.edit_layer.ImportFromString(edit_layer_text)
        self.root_layer.subLayerPaths = [self.edit_layer.identifier, "./" + shot.removeprefix("./")]
        self.stage: Usd.Stage = Usd.Stage.Open(self.root_layer, Usd.Stage.LoadAll)
        self.stage.SetEditTarget(Usd.EditTarget(self.edit_layer))
        shot_layer = self.stage.GetLayerStack()[-1]
        # Adopt the shot's stage metadata so exports and replicas read the same units and axis.
        root = self.root_layer.pseudoRoot
        for key in ("metersPerUnit", "upAxis", "defaultPrim", "customLayerData"):
            if shot_layer.pseudoRoot.HasInfo(key):
                root.SetInfo(key, shot_layer.pseudoRoot.GetInfo(key))

    @property
    def shot_layer(self) -> Sdf.Layer:
        return Sdf.Layer.FindOrOpen(str(self.library_root / self.shot.removeprefix("./")))

    def edit_layer_text(self) -> str:
        """The edit layer as usda: what a snapshot, a take or a checkpoint carries."""
        return str(self.edit_layer.ExportToString())

    def load_edit_layer(self, text: str | None) -> None:
        """Replace the edit layer's whole content (a restore of a take or a snapshot)."""
        self.edit_layer.ImportFromString(text or EMPTY_LAYER)

    def review_camera(self) -> str | None:
        data = self.root_layer.customLayerData
        value = data.get("twinstudio:reviewCamera") if data else None
        return str(value) if value else None
