"""Mirror a room's asset library locally, fetching only files whose sha256 changed.

The mirror lives in ``$TWINSTUDIO_CACHE`` (default ``~/.cache/twinstudio``),
one directory per server, so a replica (or a render node) needs no filesystem
shared with the server. Files are written atomically, so several sessions in
one process or on one machine can share a mirror.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

_verified: set[tuple[str, str]] = set()  # (file path, sha256) already checked in this process


def cache_root() -> Path:
    return Path(os.environ.get("TWINSTUDIO_CACHE", Path.home() / ".cache" / "twinstudio"))


def mirror_dir(base_url: str, room: str) -> Path:
    netloc = re.sub(r"[^A-Za-z0-9_.-]", "_", urlsplit(base_url).netloc)
    return cache_root() / "library" / netloc / room


def _fresh(path: Path, sha256: str) -> bool:
    key = (str(path), sha256)
    if key in _verified:
        return True
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
        _verified.add(key)
        return True
    return False


async def mirror_library(
    base_url: str, room: str, token: str, manifest: list[dict[str, Any]]
) -> Path:
    """Download what is missing or stale in the local mirror; return its root."""
    root = mirror_dir(base_url, room)
    root.mkdir(parents=True, exist_ok=True)
    todo = [f for f in manifest if not _fresh(root / f["path"], f["sha256"])]
    if not todo:
        return root
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for f in todo:
            url = f"{base_url}/api/rooms/{room}/files/{quote(f['path'])}"
            async with http.get(url) as resp:
                resp.raise_for_status()
                data = await resp.read()
            if hashlib.sha256(data).hexdigest() != f["sha256"]:
                raise OSError(f"{f['path']} changed on the server while it was being fetched")
            target = root / f["path"]
            if not target.resolve().is_relative_to(root.resolve()):
                raise OSError(f"server listed a file outside the library: {f['path']!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
            _verified.add((str(target), f["sha256"]))
    return root
