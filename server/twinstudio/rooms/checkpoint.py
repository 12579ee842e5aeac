"""Room checkpoints: the edit layer and the room's other state, as of one seq.

Recovery is the latest checkpoint plus a replay of the journal records with a seq above
the checkpoint's (:mod:`twinstudio.rooms.journal`). A checkpoint in ``directory`` is a
pair of files and a pointer::

    checkpoint-<seq:012d>.usdc   the edit layer, exported as usdc
    checkpoint-<seq:012d>.state  STATE_MAGIC, u32 LE crc32(payload), msgpack payload
                                 {"seq": seq, "state": {...}} (notes, takes: plain data)
    CURRENT                      "<seq>\\n", naming the pair to load

:func:`save_checkpoint` writes each file under a temporary name in the same directory,
fsyncs it and ``os.replace``-s it into place, fsyncs the directory, then replaces
``CURRENT`` the same way and fsyncs the directory again; only then are other checkpoint
files deleted. So at every instant the directory holds a complete checkpoint, and when
``save_checkpoint`` returns the new one is durable: the journal may be compacted up to
its seq. Temporary files (``.tmp-*``) left by a crash are ignored by
:func:`load_latest_checkpoint` and removed by the next save. One saver per directory.

:func:`load_latest_checkpoint` trusts ``CURRENT``; if it is missing, unreadable or names
files that are missing or damaged, it falls back to the newest complete, intact pair on
disk with a ``logging.warning``. It returns ``None`` when there is no checkpoint at all
and raises :class:`CheckpointCorrupt` when checkpoint pairs exist but none is intact
(starting empty then would silently lose the compacted part of the journal).

Reading the edit layer back: :func:`edit_layer_text` (usda text, for
``RoomStage.load_edit_layer``) or :func:`open_edit_layer` (an anonymous in-memory layer,
for ``TransferContent``). Neither keeps the usdc file open or memory-mapped. Asset paths
are stored verbatim (usdc export does not re-anchor them), so content moved back into a
room's library-anchored edit layer resolves as before.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
from pxr import Sdf

from twinstudio.rooms.journal import fsync_directory

__all__ = [
    "CURRENT_FILE",
    "STATE_MAGIC",
    "Checkpoint",
    "CheckpointCorrupt",
    "CheckpointError",
    "edit_layer_text",
    "load_latest_checkpoint",
    "open_edit_layer",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

STATE_MAGIC = b"TSCKPT\x00\x01"
"""The first 8 bytes of a ``.state`` file: format name and version 1."""
USDC_MAGIC = b"PXR-USDC"
CURRENT_FILE = "CURRENT"
_TMP_PREFIX = ".tmp-"
_CRC = struct.Struct("<I")
_PAIR_RE = re.compile(r"checkpoint-(\d{12,})\.(usdc|state)")
_CURRENT_RE = re.compile(rb"(\d{1,30})\n")


class CheckpointError(Exception):
    """A checkpoint could not be written or read."""


class CheckpointCorrupt(CheckpointError):
    """Checkpoint files exist but none of them can be trusted."""


@dataclass(frozen=True)
class Checkpoint:
    """A saved checkpoint: the room as of ``seq`` (every event up to and including it)."""

    seq: int
    edit_layer_path: Path
    state: dict[str, Any]


def _stem(seq: int) -> str:
    return f"checkpoint-{seq:012d}"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode_state(seq: int, state: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
    payload: bytes = msgpack.packb({"seq": seq, "state": dict(state)}, use_bin_type=True)
    decoded = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    blob = STATE_MAGIC + _CRC.pack(zlib.crc32(payload)) + payload
    return blob, decoded["state"]


def _decode_state(data: bytes, seq: int) -> dict[str, Any]:
    """The state of a ``.state`` file for ``seq``; ``ValueError`` saying what is wrong."""
    head = len(STATE_MAGIC) + _CRC.size
    if data[: len(STATE_MAGIC)] != STATE_MAGIC or len(data) < head:
        raise ValueError("not a checkpoint state file (bad magic)")
    (crc,) = _CRC.unpack_from(data, len(STATE_MAGIC))
    payload = data[head:]
    if zlib.crc32(payload) != crc:
        raise ValueError("CRC mismatch")
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception as exc:
        raise ValueError(f"undecodable msgpack ({exc})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("state"), dict):
        raise ValueError("payload is not {'seq': ..., 'state': {...}}")
    if obj.get("seq") != seq:
        raise ValueError(f"it is for seq {obj.get('seq')!r}, not {seq}")
    state: dict[str, Any] = obj["state"]
    return state


def save_checkpoint(
    directory: Path, seq: int, edit_layer: Sdf.Layer, state: Mapping[str, Any]
) -> Checkpoint:
    """Durably save ``edit_layer`` and ``state`` as the room at ``seq``; make it CURRENT.

    Other checkpoints in ``directory`` are deleted afterwards. Returns what
    :func:`load_latest_checkpoint` would now return (``state`` as msgpack round-trips
    it). Raises before touching the previous checkpoint if ``state`` cannot be encoded
    or the layer cannot be exported.
    """
    if type(seq) is not int or seq < 0:
        raise ValueError(f"checkpoint seq must be an int >= 0, not {seq!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state_blob, state_copy = _encode_state(seq, state)
    stem = _stem(seq)
    usdc_path = directory / f"{stem}.usdc"
    state_path = directory / f"{stem}.state"
    token = f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-"
    tmp_usdc = directory / f"{token}{stem}.usdc"  # Export picks the format by extension
    tmp_state = directory / f"{token}{stem}.state"
    tmp_current = directory / f"{token}{CURRENT_FILE}"
    try:
        try:
            exported = edit_layer.Export(str(tmp_usdc))
        except Exception as exc:
            raise CheckpointError(f"could not export the edit layer to {tmp_usdc}: {exc}") from exc
        if not exported or not tmp_usdc.is_file():
            raise CheckpointError(f"could not export the edit layer to {tmp_usdc}")
        _fsync_path(tmp_usdc)
        os.replace(tmp_usdc, usdc_path)
        _write_durably(tmp_state, state_blob)
        os.replace(tmp_state, state_path)
        fsync_directory(directory)  # both files are in place before CURRENT names them
        _write_durably(tmp_current, f"{seq}\n".encode())
        os.replace(tmp_current, directory / CURRENT_FILE)
        fsync_directory(directory)
    finally:
        for tmp in (tmp_usdc, tmp_state, tmp_current):
            tmp.unlink(missing_ok=True)
    _remove_other_checkpoints(directory, seq)
    return Checkpoint(seq, usdc_path, state_copy)


def _remove_other_checkpoints(directory: Path, keep_seq: int) -> None:
    for entry in directory.iterdir():
        match = _PAIR_RE.fullmatch(entry.name)
        stale = (match is not None and int(match.group(1)) != keep_seq) or entry.name.startswith(
            _TMP_PREFIX
        )
        if stale and entry.is_file():
            try:
                entry.unlink()
            except OSError as exc:  # a leftover is harmless; the next save retries
                log.warning("checkpoint: could not remove %s: %s", entry, exc)


def _read_current(directory: Path) -> tuple[int | None, str]:
    """(seq named by CURRENT, "") or (None, why not)."""
    try:
        data = (directory / CURRENT_FILE).read_bytes()
    except FileNotFoundError:
        return None, "CURRENT is missing"
    except OSError as exc:
        return None, f"CURRENT is unreadable ({exc})"
    match = _CURRENT_RE.fullmatch(data)
    if match is None:
        return None, f"CURRENT is corrupt ({data[:40]!r})"
    return int(match.group(1)), ""


@dataclass(frozen=True)
class _Unusable:
    reason: str
    missing: bool  # a file is absent (an interrupted save), rather than damaged


def _load_pair(directory: Path, seq: int) -> Checkpoint | _Unusable:
    """The checkpoint pair for ``seq``, or why it cannot be used."""
    usdc_path = directory / f"{_stem(seq)}.usdc"
    state_path = directory / f"{_stem(seq)}.state"
    try:
        with open(usdc_path, "rb") as f:
            usdc_head = f.read(len(USDC_MAGIC))
        state_data = state_path.read_bytes()
    except FileNotFoundError as exc:
        return _Unusable(f"{Path(str(exc.filename)).name} is missing", True)
    except OSError as exc:
        return _Unusable(f"it is unreadable ({exc})", False)
    if usdc_head != USDC_MAGIC:
        return _Unusable(f"{usdc_path.name} is not a usdc file", False)
    try:
        state = _decode_state(state_data, seq)
    except ValueError as exc:
        return _Unusable(f"{state_path.name} is damaged: {exc}", False)
    return Checkpoint(seq, usdc_path, state)


def _pairs_on_disk(directory: Path) -> list[int]:
    """Seqs that have both a .usdc and a .state file, newest first."""
    kinds: dict[int, set[str]] = {}
    for entry in directory.iterdir():
        match = _PAIR_RE.fullmatch(entry.name)
        if match:
            kinds.setdefault(int(match.group(1)), set()).add(match.group(2))
    return sorted((seq for seq, k in kinds.items() if k == {"usdc", "state"}), reverse=True)


def load_latest_checkpoint(directory: Path) -> Checkpoint | None:
    """The checkpoint named by CURRENT, else the newest intact pair (with a warning), else None.

    Raises :class:`CheckpointCorrupt` when pairs exist but none is intact.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    current_seq, why = _read_current(directory)
    damaged: list[str] = []
    if current_seq is not None:
        loaded = _load_pair(directory, current_seq)
        if isinstance(loaded, Checkpoint):
            return loaded
        why = f"CURRENT names checkpoint {current_seq}, but {loaded.reason}"
        if not loaded.missing:
            damaged.append(f"{_stem(current_seq)}: {loaded.reason}")
    for seq in _pairs_on_disk(directory):
        if seq == current_seq:
            continue
        loaded = _load_pair(directory, seq)
        if isinstance(loaded, Checkpoint):
            log.warning(
                "checkpoint directory %s: %s; falling back to checkpoint %d", directory, why, seq
            )
            return loaded
        damaged.append(f"{_stem(seq)}: {loaded.reason}")
    if damaged:
        raise CheckpointCorrupt(
            f"checkpoint directory {directory}: {why}, and no intact checkpoint is left: "
            + "; ".join(damaged)
        )
    if current_seq is not None or why != "CURRENT is missing":
        log.warning("checkpoint directory %s: %s; no checkpoint to fall back to", directory, why)
    return None


def edit_layer_text(cp: Checkpoint) -> str:
    """The checkpoint's edit layer as usda text (what ``RoomStage.load_edit_layer`` takes).

    The usdc file is opened, converted and released before this returns: nothing keeps
    it open or mapped, so a later save may replace or delete it.
    """
    try:
        source = Sdf.Layer.OpenAsAnonymous(str(cp.edit_layer_path))
    except Exception as exc:
        raise CheckpointCorrupt(f"cannot open {cp.edit_layer_path}: {exc}") from exc
    if source is None:
        raise CheckpointCorrupt(f"cannot open {cp.edit_layer_path}")
    try:
        return str(source.ExportToString())
    finally:
        del source  # the last reference: USD closes and unmaps the crate file


def open_edit_layer(cp: Checkpoint) -> Sdf.Layer:
    """A new anonymous, in-memory usda layer with the checkpoint's edit layer content.

    Nothing in it refers to the checkpoint file (see :func:`edit_layer_text`). Move the
    content into the room's edit layer with ``room_layer.TransferContent(layer)``.

    (It is deliberately not ``TransferContent`` from the opened usdc: crate files are
    memory-mapped and large arrays are zero-copy views of the mapping, so the copy would
    keep the file mapped, and truncating or rewriting it in place would crash the process
    with SIGBUS. Going through usda text copies every value; floats round-trip exactly.)
    """
    text = edit_layer_text(cp)
    layer = Sdf.Layer.CreateAnonymous(f"{_stem(cp.seq)}.usda")
    if not layer.ImportFromString(text):
        raise CheckpointCorrupt(f"cannot read the edit layer in {cp.edit_layer_path}")
    return layer
