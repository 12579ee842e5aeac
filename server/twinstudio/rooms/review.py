"""The room's live review picture: what render nodes render, and the frames they publish.

Review settings (camera, resolution, frame-rate cap) are room state: changed by
editors, journaled like notes, and followed by every render node. Frames are not
journaled: each member gets the newest one (a queued older frame is replaced),
and a late joiner gets the last one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from twinstudio.errors import Refused

MAX_FRAME_BYTES = 6 * 1024 * 1024
MIN_SIZE, MAX_SIZE = 64, 7680
MAX_FPS = 60.0


class ReviewRejected(Refused):
    """A review setting or a frame that was refused."""


@dataclass(frozen=True)
class ReviewSettings:
    """How the live review picture is made. ``camera`` None means the shot's review camera."""

    camera: str | None = None
    width: int = 1280
    height: int = 720
    fps: float = 15.0  # cap: render nodes never publish faster
    preview_scale: float = 0.5  # resolution factor while edits stream in (a drag)

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> ReviewSettings:
        """A copy with ``changes`` applied; raise ReviewRejected naming the bad field."""
        known = set(self.__dataclass_fields__)
        unknown = set(changes) - known
        if unknown:
            raise ReviewRejected(
                "malformed_settings",
                f"unknown setting {sorted(unknown)[0]!r}; known: {sorted(known)}",
            )
        out = replace(self, **changes)
        if out.camera is not None and (
            not isinstance(out.camera, str) or not out.camera.startswith("/")
        ):
            raise ReviewRejected("malformed_settings", "camera must be a prim path or null")
        for name in ("width", "height"):
            v = getattr(out, name)
            if isinstance(v, bool) or not isinstance(v, int) or not MIN_SIZE <= v <= MAX_SIZE:
                raise ReviewRejected(
                    "out_of_range", f"{name} must be an integer in [{MIN_SIZE}, {MAX_SIZE}]"
                )
        for name, lo, hi in (("fps", 0.0, MAX_FPS), ("preview_scale", 0.0, 1.0)):
            v = getattr(out, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ReviewRejected("malformed_settings", f"{name} must be a number")
            if not lo < v <= hi:
                raise ReviewRejected("out_of_range", f"{name} must be in ({lo:g}, {hi:g}]")
        return replace(out, fps=float(out.fps), preview_scale=float(out.preview_scale))


FRAME_FIELDS = ("seq", "camera", "width", "height", "render_ms", "encode_ms", "refined", "jpeg")


def check_frame(msg: dict[str, Any], room_seq: int, last_seq: int) -> dict[str, Any]:
    """Validate a render node's frame; return the message members receive.

    Frames never go backwards: one older than the last published frame is refused.
    """
    jpeg = msg.get("jpeg")
    if not isinstance(jpeg, bytes) or not jpeg.startswith(b"\xff\xd8"):
        raise ReviewRejected("malformed_frame", "a frame carries JPEG bytes in 'jpeg'")
    if len(jpeg) > MAX_FRAME_BYTES:
        raise ReviewRejected("too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    seq = msg.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= room_seq:
        raise ReviewRejected("malformed_frame", f"frame seq must be an edit seq in [0, {room_seq}]")
    if seq < last_seq:
        raise ReviewRejected(
            "stale_frame", f"frame of seq {seq} is older than the last ({last_seq})"
        )
    for name in ("width", "height"):
        v = msg.get(name)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_SIZE:
            raise ReviewRejected("malformed_frame", f"frame {name} must be a positive integer")
    for name in ("render_ms", "encode_ms"):
        v = msg.get(name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise ReviewRejected("malformed_frame", f"frame {name} must be a non-negative number")
    camera = msg.get("camera")
    if not isinstance(camera, str) or len(camera) > 1024:
        raise ReviewRejected("malformed_frame", "frame camera must be a prim path")
    return {
        "type": "frame",
        "seq": seq,
        "camera": camera,
        "width": msg["width"],
        "height": msg["height"],
        "render_ms": float(msg["render_ms"]),
        "encode_ms": float(msg["encode_ms"]),
        "refined": bool(msg.get("refined", True)),
        "jpeg": jpeg,
    }
