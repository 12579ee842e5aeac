"""Where imported assets land: ``OUT/<name>/<name>.usdc`` plus its ``textures/``.

An import builds its files in a private staging directory (outside ``OUT``), checks the
written asset, and only then moves the directory into place with one rename. A refused
or crashed import leaves ``OUT`` exactly as it was; ``OUT`` itself is only created when
there is something to publish.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pxr import Tf

from twinstudio.assets.importers.report import ASSET_EXISTS, NAME_INVALID, ImportRefused

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


def check_name(name: str) -> str:
    """An asset name is a USD identifier (it names the root prim and the directory)."""
    if not _NAME.match(name):
        hint = Tf.MakeValidIdentifier(name)[:64] if name else "my_twin"
        raise ImportRefused(
            NAME_INVALID,
            f"name {name!r} must be letters, digits and underscores, not starting with a digit "
            f"(at most 64), e.g. {hint!r}",
        )
    return name


def asset_dir(out_dir: Path, name: str) -> Path:
    return out_dir / name


def asset_file(name: str) -> str:
    """The asset's main layer, relative to its directory."""
    return f"{name}.usdc"


def refuse_if_exists(out_dir: Path, name: str, replace: bool) -> None:
    target = asset_dir(out_dir, name)
    if target.exists() and not replace:
        raise ImportRefused(
            ASSET_EXISTS, f"{target} already exists: choose another --name or pass --replace"
        )


@contextmanager
def staging() -> Iterator[Path]:
    """A private directory to build the asset in; removed afterwards whatever happens."""
    with tempfile.TemporaryDirectory(prefix="twinstudio-import-") as tmp:
        yield Path(tmp)


def publish(staged: Path, out_dir: Path, name: str, replace: bool) -> Path:
    """Move ``staged`` to ``out_dir/name`` (replacing it if asked) and return the new path."""
    refuse_if_exists(out_dir, name, replace)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = asset_dir(out_dir, name)
    # Copy next to the target first (staging may be on another filesystem), then rename:
    # readers see either the old asset or the whole new one.
    partial = Path(tempfile.mkdtemp(prefix=f".{name}.importing-", dir=out_dir))
    try:
        shutil.copytree(staged, partial, dirs_exist_ok=True)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{name}.replaced-", dir=out_dir))
            target.rename(old / name)
            partial.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            partial.rename(target)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return target
