"""The room's asset library: the only files a room's stage may reference.

Every asset path an op names is checked here: it must be relative, stay inside
the library root (also after following symlinks), exist, and be a USD layer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from twinstudio.stage.values import ValueRejected, check_asset_path

USD_SUFFIXES = (".usd", ".usda", ".usdc", ".usdz")
SERVED_SUFFIXES = (*USD_SUFFIXES, ".png", ".jpg", ".jpeg", ".exr", ".hdr", ".tx")


@dataclass(frozen=True)
class LibraryFile:
    path: str  # library-relative, forward slashes
    size: int
    sha256: str


class AssetLibrary:
    """A directory of USD assets and textures, addressed by library-relative paths."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, rel: str, *, usd_only: bool = True) -> Path:
        """The file for ``rel``; raise ValueRejected if it is outside the library or missing."""
        check_asset_path(rel)
        rel = rel.removeprefix("./")
        target = (self.root / rel).resolve()
        if not target.is_relative_to(self.root):
            raise ValueRejected(
                "asset_path_outside_library", f"asset {rel!r} resolves outside the asset library"
            )
        suffixes = USD_SUFFIXES if usd_only else SERVED_SUFFIXES
        if target.suffix.lower() not in suffixes:
            raise ValueRejected(
                "asset_type_unsupported", f"asset {rel!r} must be one of {', '.join(suffixes)}"
            )
        if not target.is_file():
            raise ValueRejected("asset_not_found", f"asset {rel!r} is not in the asset library")
        return target

    def manifest(self) -> list[LibraryFile]:
        """Every servable file, with its sha256, so clients can fetch and cache what changed."""
        out = []
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in SERVED_SUFFIXES:
                continue
            rel = path.relative_to(self.root).as_posix()
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            data = path.read_bytes()
            out.append(LibraryFile(rel, len(data), hashlib.sha256(data).hexdigest()))
        return out
