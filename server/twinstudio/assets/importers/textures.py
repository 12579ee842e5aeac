"""Textures of imported assets, written next to the asset so its directory stands alone.

The importers copy each image they keep into ``textures/`` and point the asset at it
relatively (``./textures/<name>``), so the library serves the directory as is.
"""

from __future__ import annotations

from pathlib import Path

TEXTURES = "textures"


def write_texture(asset_dir: Path, stem: str, data: bytes, suffix: str) -> str:
    """Write image bytes under ``textures/`` (a new name if ``stem`` is taken) and return
    the asset-relative path to put in a UsdUVTexture's ``file``."""
    folder = asset_dir / TEXTURES
    folder.mkdir(exist_ok=True)
    name = f"{stem}{suffix}"
    n = 1
    while (folder / name).exists():
        n += 1
        name = f"{stem}_{n}{suffix}"
    (folder / name).write_bytes(data)
    return f"./{TEXTURES}/{name}"
