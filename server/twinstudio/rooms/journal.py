"""The room's write-ahead journal: every event, in order, on disk before anyone hears of it.

A room is an ordered log of events (ops, notes, takes). Each event is a msgpack-able
dict with an int ``"seq"`` that goes 1, 2, 3, ... with no gaps. The room appends an
event to its journal *before* it broadcasts or acknowledges it (the write-ahead rule),
so a restart after ``kill -9`` at any moment serves every event whose
:meth:`Journal.append` returned. Recovery is the latest checkpoint
(:mod:`twinstudio.rooms.checkpoint`) plus a replay of the journal records with a seq
above the checkpoint's; :meth:`Journal.compact` then drops what the checkpoint covers.
Compact only *after* :func:`~twinstudio.rooms.checkpoint.save_checkpoint` has returned.

Durability policy
-----------------
:class:`FileJournal` writes every frame with one ``os.write`` on an ``O_APPEND`` file
descriptor. Once ``write()`` has returned the bytes are in the operating system's page
cache: they survive the death of *this process* in any way (``kill -9``, a crash, an
OOM kill) whatever the fsync policy, because the kernel writes them out on its own.
What the policy decides is what survives a *power failure or kernel crash*:

``FsyncPolicy.ALWAYS`` (the default)
    ``fdatasync`` (``fsync`` where that is missing) after every append, before
    ``append()`` returns. An acknowledged record survives process death *and* power loss.
``FsyncPolicy.INTERVAL``
    ``fdatasync`` at most every ``fsync_interval_s``: on the first append after the
    interval has elapsed, when a segment is rotated, on :meth:`FileJournal.sync` and on
    :meth:`FileJournal.close`. Records acknowledged within the last interval (or since
    the last append, if the room then goes idle without calling ``sync()``) **can be
    lost on power failure, but not on process kill**.
``FsyncPolicy.NEVER``
    No fsync at all. Same ``kill -9`` guarantee as the others; no power-loss guarantee.
    For tests, benchmarks and tmpfs.

New segment files, truncations and compactions also fsync the directory, except
under ``NEVER``.

On-disk format
--------------
The journal directory holds segment files ``journal-<first_seq:012d>.wal``; a segment's
name is the seq of its first record. A segment starts with the 8-byte magic
:data:`MAGIC` (so a foreign file is recognised) and continues with frames::

    <u32 little-endian payload length> <u32 little-endian zlib.crc32(payload)> <payload>

where the payload is ``msgpack.packb(record, use_bin_type=True)``. A new segment is
started once the active one reaches ``max_segment_bytes`` (default 64 MiB); the first
frame of a segment is written together with its header in the same ``write()``.
Records come back as msgpack decodes them: tuples become lists, ``bytes`` stay
``bytes``.

Opening a journal validates every frame of every segment. A torn or corrupt frame at the
end of the *last* segment is what a crash mid-write leaves behind: the file is truncated
to the last good frame with a ``logging.warning`` naming the file, the offset and the
bytes dropped (:attr:`FileJournal.dropped_tail_bytes`). Anything else is real damage and
raises :class:`JournalCorrupt`: a bad frame in an older segment, a gap between segments,
a seq out of order, a wrong magic, or a bad frame in the last segment that is followed
by an intact later record (bit rot in the middle, not a torn tail).

One process at a time: a :class:`FileJournal` holds an exclusive ``flock`` on
``journal.lock`` in its directory (POSIX only); a second opener gets
:class:`JournalLocked`. The kernel drops the lock when the holder dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol, Self, runtime_checkable

import msgpack

__all__ = [
    "DEFAULT_MAX_SEGMENT_BYTES",
    "MAGIC",
    "FileJournal",
    "FsyncPolicy",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "MemoryJournal",
    "fsync_directory",
    "segment_name",
]

log = logging.getLogger(__name__)

MAGIC = b"TSWAL\x00\x01\x00"
"""The first 8 bytes of every segment: format name and version 1.0."""
HEADER_LEN = len(MAGIC)
_FRAME_HEADER = struct.Struct("<II")
FRAME_HEADER_LEN = _FRAME_HEADER.size
MAX_PAYLOAD_BYTES = 0xFFFF_FFFF
DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024
LOCK_FILE = "journal.lock"
_SEGMENT_RE = re.compile(r"journal-(\d{12,})\.wal")
# Where an intact frame could start: 8 header bytes, then a msgpack map (fixmap, map16, map32).
_FRAME_START_RE = re.compile(rb"(?=.{8}[\x80-\x8f\xde\xdf])", re.DOTALL)


class FsyncPolicy(StrEnum):
    """When a :class:`FileJournal` forces appended bytes to stable storage (see module doc)."""

    ALWAYS = "always"
    INTERVAL = "interval"
    NEVER = "never"


class JournalError(Exception):
    """A journal cannot be used as asked."""


class JournalCorrupt(JournalError):
    """The journal on disk is damaged somewhere other than a torn tail; nothing was changed."""


class JournalLocked(JournalError):
    """Another open :class:`FileJournal` (in this or another process) owns the directory."""


@runtime_checkable
class Journal(Protocol):
    """What a room depends on: an append-only, seq-ordered record log."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Store ``record`` (``record["seq"]`` must be ``last_seq + 1``) durably per policy."""
        ...

    def records_after(self, seq: int) -> Iterator[dict[str, Any]]:
        """Every retained record with a seq above ``seq``, in order."""
        ...

    def compact(self, upto_seq: int) -> None:
        """Drop records with seq <= ``upto_seq`` (call after a checkpoint covering them)."""
        ...

    @property
    def synced_seq(self) -> int:
        """Records up to this seq are durable (group commit: acknowledge only those)."""
        ...

    def sync_pending(self) -> int:
        """Make every record written so far durable; returns the new ``synced_seq``."""
        ...

    def close(self) -> None:
        """Release resources; idempotent."""
        ...


def segment_name(first_seq: int) -> str:
    """The file name of the segment whose first record has seq ``first_seq``."""
    return f"journal-{first_seq:012d}.wal"


def fsync_directory(directory: Path) -> None:
    """Make creations, renames and deletions inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _datasync(fd: int) -> None:
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # pragma: no cover - macOS
        os.fsync(fd)


def _record_seq(record: Mapping[str, Any]) -> int:
    try:
        seq = record["seq"]
    except KeyError:
        raise ValueError("a journal record needs an int 'seq'") from None
    if type(seq) is not int:
        raise ValueError(f"a journal record's 'seq' must be an int, not {type(seq).__name__}")
    return seq


def _encode_payload(record: Mapping[str, Any]) -> bytes:
    payload: bytes = msgpack.packb(dict(record), use_bin_type=True)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"journal record seq {record['seq']} is too large ({len(payload)} bytes)")
    return payload


def _frame(payload: bytes) -> bytes:
    return _FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _decode_payload(payload: bytes) -> dict[str, Any]:
    """Decode a CRC-checked payload; ``ValueError`` when it is not a journal record."""
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception as exc:
        raise ValueError(f"undecodable msgpack payload ({exc})") from None
    if not isinstance(obj, dict) or type(obj.get("seq")) is not int:
        raise ValueError("payload is not a record with an int 'seq'")
    return obj


@dataclass(frozen=True)
class _Good:
    end: int
    record: dict[str, Any]


@dataclass(frozen=True)
class _Bad:
    reason: str
    torn: bool  # could a crash mid-write have produced this? (False: CRC ok, content bad)


def _parse_frame(buf: bytes, pos: int) -> _Good | _Bad:
    remaining = len(buf) - pos
    if remaining < FRAME_HEADER_LEN:
        return _Bad(f"truncated frame header ({remaining} of {FRAME_HEADER_LEN} bytes)", True)
    length, crc = _FRAME_HEADER.unpack_from(buf, pos)
    if length == 0:
        return _Bad("zero-length frame", True)
    start = pos + FRAME_HEADER_LEN
    end = start + length
    if end > len(buf):
        return _Bad(f"truncated payload ({len(buf) - start} of {length} bytes)", True)
    payload = buf[start:end]
    if zlib.crc32(payload) != crc:
        return _Bad("CRC mismatch", True)
    try:
        record = _decode_payload(payload)
    except ValueError as exc:
        return _Bad(f"CRC-valid frame with bad content: {exc}", False)
    return _Good(end, record)


def _find_intact_frame(buf: bytes, start: int, min_seq: int) -> tuple[int, int] | None:
    """The first (offset, seq) from ``start`` on that holds an intact record, seq >= min_seq."""
    for match in _FRAME_START_RE.finditer(buf, start):
        found = _parse_frame(buf, match.start())
        if isinstance(found, _Good) and found.record["seq"] >= min_seq:
            return match.start(), found.record["seq"]
    return None


@dataclass
class _Segment:
    path: Path
    first_seq: int
    last_seq: int  # first_seq - 1 while the segment holds no record
    size: int


class MemoryJournal:
    """An in-memory :class:`Journal` with the same rules, for sans-I/O tests.

    Records are stored msgpack-encoded, so what comes back is exactly what a
    :class:`FileJournal` would return (tuples become lists) and an unencodable record
    fails at ``append`` here too. ``compact`` drops individual records.
    """

    def __init__(self) -> None:
        self._records: list[tuple[int, bytes]] = []
        self._last_seq = 0
        self._closed = False
        self._lock = threading.Lock()

    @property
    def last_seq(self) -> int:
        """The seq of the last appended record; 0 when nothing was ever appended."""
        return self._last_seq

    def append(self, record: Mapping[str, Any]) -> None:
        seq = _record_seq(record)
        payload = _encode_payload(record)
        with self._lock:
            if self._closed:
                raise ValueError("journal is closed")
            if seq != self._last_seq + 1:
                raise ValueError(
                    f"journal append out of order: got seq {seq}, expected {self._last_seq + 1}"
                )
            self._records.append((seq, payload))
            self._last_seq = seq

    def records_after(self, seq: int) -> Iterator[dict[str, Any]]:
        with self._lock:
            if self._closed:
                raise ValueError("journal is closed")
            snapshot = [payload for s, payload in self._records if s > seq]
        return (_decode_payload(payload) for payload in snapshot)

    def compact(self, upto_seq: int) -> None:
        with self._lock:
            if self._closed:
                raise ValueError("journal is closed")
            self._records = [(s, p) for s, p in self._records if s > upto_seq]

    @property
    def synced_seq(self) -> int:
        return self.last_seq

    def sync_pending(self) -> int:
        """Nothing to do in memory."""
        return self.last_seq

    def sync(self) -> None:
        """Nothing to do in memory."""

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FileJournal:
    """A segmented, CRC-framed, append-only journal in ``directory`` (see the module doc).

    Thread-safe; one instance per directory (enforced with ``flock``). If a write or an
    fsync fails the journal refuses further appends (:class:`JournalError`): the room must
    stop and be reopened, which validates the files again. A write that fails before any
    byte reached the file (e.g. ``ENOSPC``) is rolled back and leaves the journal usable.
    """

    dropped_tail_bytes: int
    """How many bytes of torn/corrupt tail opening dropped from the last segment."""

    def __init__(
        self,
        directory: Path,
        fsync: FsyncPolicy = FsyncPolicy.ALWAYS,
        fsync_interval_s: float = 0.05,
        *,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        group_commit: bool = False,
    ) -> None:
        """``group_commit`` (with ``ALWAYS``): ``append`` only writes; the caller makes
        records durable with :meth:`sync_pending` (from a worker thread, covering every
        record written so far) and must not acknowledge a record before
        ``synced_seq >= seq``. A process kill loses nothing either way: written bytes are
        in the OS page cache.
        """
        if fsync_interval_s < 0:
            raise ValueError("fsync_interval_s must be >= 0")
        if max_segment_bytes <= HEADER_LEN:
            raise ValueError(f"max_segment_bytes must be > {HEADER_LEN}")
        self.directory = Path(directory)
        self.fsync_policy = FsyncPolicy(fsync)
        self.fsync_interval_s = float(fsync_interval_s)
        self.max_segment_bytes = int(max_segment_bytes)
        self.group_commit = bool(group_commit) and self.fsync_policy is FsyncPolicy.ALWAYS
        self.dropped_tail_bytes = 0
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._fd: int | None = None  # the active segment, None until the next append starts one
        self._last_seq = 0
        self._dirty = False  # bytes written since the last fsync
        self._synced_seq = 0  # every record up to this seq has been fsynced
        self._last_sync = float("-inf")
        self._closed = False
        self._failed: BaseException | None = None

        created = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        if created and self._durable:
            fsync_directory(self.directory.parent)
        self._lock_fd = self._acquire_lock()
        try:
            self._recover()
            self._synced_seq = self._last_seq  # what recovery found is on disk
        except BaseException:
            self._release()
            raise

    # -- public API -----------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The seq of the last record on disk; 0 when the journal is empty."""
        return self._last_seq

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` (seq must be ``last_seq + 1``); durable per policy on return."""
        seq = _record_seq(record)
        frame = _frame(_encode_payload(record))
        with self._lock:
            self._check_usable()
            if seq != self._last_seq + 1:
                raise ValueError(
                    f"journal append out of order: got seq {seq}, expected {self._last_seq + 1}"
                )
            try:
                if self._fd is None:
                    self._start_segment(seq, frame)
                else:
                    self._write_frame(self._fd, frame)
                segment = self._segments[-1]
                segment.last_seq = seq
                self._last_seq = seq
                self._dirty = True
                self._sync_per_policy()
                if segment.size >= self.max_segment_bytes:
                    self._rotate()
            except _RolledBack as rolled_back:
                raise rolled_back.error from None
            except BaseException as exc:
                self._failed = exc
                raise

    def records_after(self, seq: int) -> Iterator[dict[str, Any]]:
        """Every retained record with a seq above ``seq``, in order.

        The set of records is fixed when this is called: later appends are not seen.
        Do not ``compact`` while iterating.
        """
        with self._lock:
            if self._closed:
                raise ValueError("journal is closed")
            snapshot = [
                _Segment(s.path, s.first_seq, s.last_seq, s.size)
                for s in self._segments
                if s.last_seq > seq
            ]
        return self._iter_records(snapshot, seq)

    def compact(self, upto_seq: int) -> None:
        """Delete whole segments whose records all have seq <= ``upto_seq``.

        The last (active) segment is always kept, so ``last_seq`` survives a reopen.
        """
        with self._lock:
            self._check_usable()
            removed = False
            while len(self._segments) > 1 and self._segments[0].last_seq <= upto_seq:
                segment = self._segments.pop(0)
                segment.path.unlink(missing_ok=True)
                removed = True
            if removed and self._durable:
                fsync_directory(self.directory)

    @property
    def synced_seq(self) -> int:
        """Records up to this seq are on stable storage (for ``NEVER``: as far as it goes)."""
        return self._last_seq if not self._durable else self._synced_seq

    def sync_pending(self) -> int:
        """fsync every record written so far without holding the lock while the disk works,
        so appends continue meanwhile. Safe to call from a worker thread. Returns the seq
        now known durable."""
        with self._lock:
            self._check_usable()
            if not self._dirty or self._fd is None or not self._durable:
                return self.synced_seq
            target = self._last_seq
            fd = os.dup(self._fd)  # a rotation may close the original meanwhile
        try:
            _datasync(fd)
        except BaseException as exc:
            with self._lock:
                self._failed = exc
            raise
        finally:
            os.close(fd)
        with self._lock:
            self._synced_seq = max(self._synced_seq, target)
            if self._last_seq == target:
                self._dirty = False
            self._last_sync = time.monotonic()
            return self._synced_seq

    def sync(self) -> None:
        """fsync what was appended since the last fsync (a no-op under ``NEVER``).

        Under ``INTERVAL``, call this from a timer to bound the power-loss window when
        the room goes idle.
        """
        self.sync_pending()

    def close(self) -> None:
        """fsync pending bytes (unless ``NEVER``), close the files and release the lock."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._fd is not None and self._dirty and self._durable and self._failed is None:
                    self._fsync_now(self._fd)
            finally:
                self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"FileJournal({str(self.directory)!r}, fsync={self.fsync_policy.value!r}, "
            f"last_seq={self._last_seq}, segments={len(self._segments)})"
        )

    # -- opening ----------------------------------------------------------------------

    @property
    def _durable(self) -> bool:
        return self.fsync_policy is not FsyncPolicy.NEVER

    def _acquire_lock(self) -> int:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLocked(
                f"journal {self.directory} is already open (by this or another process)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        try:
            if fd is not None:
                os.close(fd)
        finally:
            lock_fd, self._lock_fd = self._lock_fd, -1
            if lock_fd >= 0:
                os.close(lock_fd)  # closing the descriptor drops the flock

    def _list_segments(self) -> list[tuple[int, Path]]:
        found: list[tuple[int, Path]] = []
        for entry in self.directory.iterdir():
            match = _SEGMENT_RE.fullmatch(entry.name)
            if match and entry.is_file():
                found.append((int(match.group(1)), entry))
        found.sort()
        return found

    def _recover(self) -> None:
        found = self._list_segments()
        for index, (first_seq, path) in enumerate(found):
            is_last = index == len(found) - 1
            if self._segments:
                previous = self._segments[-1]
                if first_seq != previous.last_seq + 1:
                    raise JournalCorrupt(
                        f"journal segment {path} starts at seq {first_seq} but the previous "
                        f"segment {previous.path.name} ends at seq {previous.last_seq}: "
                        "records are missing or duplicated"
                    )
            self._segments.append(self._scan_segment(path, first_seq, is_last))
        if self._segments:
            last = self._segments[-1]
            self._last_seq = last.last_seq
            if last.size < self.max_segment_bytes:
                self._fd = os.open(last.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def _scan_segment(self, path: Path, first_seq: int, is_last: bool) -> _Segment:
        data = path.read_bytes()
        if data[:HEADER_LEN] != MAGIC:
            torn_header = (len(data) < HEADER_LEN and MAGIC.startswith(data)) or not any(data)
            if not (is_last and torn_header):
                raise JournalCorrupt(
                    f"journal segment {path} is not a Twin Studio journal segment "
                    f"(header {data[:HEADER_LEN]!r}, expected {MAGIC!r})"
                )
            # A crash while the segment was being created: nothing in it was ever acked.
            self._truncate_tail(path, 0, len(data), "torn segment header", first_seq - 1)
            with open(path, "ab") as f:
                f.write(MAGIC)
                f.flush()
                if self._durable:
                    _datasync(f.fileno())
            return _Segment(path, first_seq, first_seq - 1, HEADER_LEN)

        pos = HEADER_LEN
        expected = first_seq
        while pos < len(data):
            parsed = _parse_frame(data, pos)
            if isinstance(parsed, _Bad):
                where = f"journal segment {path} at offset {pos} (record seq {expected})"
                if not parsed.torn:
                    raise JournalCorrupt(f"{where}: {parsed.reason}")
                if not is_last:
                    raise JournalCorrupt(
                        f"{where}: {parsed.reason} in a segment that is not the last one; "
                        "this is not a torn tail, refusing to drop records"
                    )
                later = _find_intact_frame(data, pos + 1, expected)
                if later is not None:
                    raise JournalCorrupt(
                        f"{where}: {parsed.reason}, followed by an intact record seq {later[1]} "
                        f"at offset {later[0]}; this is corruption, not a torn tail (to accept "
                        f"losing every record from seq {expected} on, truncate the file to "
                        f"{pos} bytes)"
                    )
                self._truncate_tail(path, pos, len(data) - pos, parsed.reason, expected - 1)
                return _Segment(path, first_seq, expected - 1, pos)
            got = parsed.record["seq"]
            if got != expected:
                raise JournalCorrupt(
                    f"journal segment {path} at offset {pos}: record has seq {got}, "
                    f"expected {expected}"
                )
            expected += 1
            pos = parsed.end
        return _Segment(path, first_seq, expected - 1, pos)

    def _truncate_tail(
        self, path: Path, offset: int, dropped: int, reason: str, last_good_seq: int
    ) -> None:
        log.warning(
            "journal %s: dropping torn tail at offset %d (%d bytes, %s); "
            "last intact record is seq %d",
            path,
            offset,
            dropped,
            reason,
            last_good_seq,
        )
        os.truncate(path, offset)
        if self._durable:
            with open(path, "rb+") as f:
                _datasync(f.fileno())
        self.dropped_tail_bytes += dropped

    # -- writing ----------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise ValueError("journal is closed")
        if self._failed is not None:
            raise JournalError(
                f"journal {self.directory} is unusable after an earlier I/O failure "
                f"({self._failed!r}); reopen it"
            )

    def _write_frame(self, fd: int, frame: bytes) -> None:
        segment = self._segments[-1]
        written = 0
        try:
            # One write per frame; a short write (disk full, signal) is completed below.
            written = os.write(fd, frame)
            while written < len(frame):
                written += os.write(fd, frame[written:])
        except OSError as exc:
            if written == 0:
                os.ftruncate(fd, segment.size)  # nothing landed, but make sure
                raise _RolledBack(exc) from exc
            raise
        segment.size += len(frame)

    def _start_segment(self, seq: int, frame: bytes) -> None:
        path = self.directory / segment_name(seq)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise _RolledBack(exc) from exc
        segment = _Segment(path, seq, seq - 1, 0)
        self._segments.append(segment)
        self._fd = fd
        try:
            self._write_frame(fd, MAGIC + frame)
        except _RolledBack:
            self._segments.pop()
            self._fd = None
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        if self._durable:
            fsync_directory(self.directory)

    def _sync_per_policy(self) -> None:
        assert self._fd is not None
        policy = self.fsync_policy
        interval_due = time.monotonic() - self._last_sync >= self.fsync_interval_s
        if (policy is FsyncPolicy.ALWAYS and not self.group_commit) or (
            policy is FsyncPolicy.INTERVAL and interval_due
        ):
            self._fsync_now(self._fd)

    def _fsync_now(self, fd: int) -> None:
        _datasync(fd)
        self._dirty = False
        self._synced_seq = self._last_seq
        self._last_sync = time.monotonic()

    def _rotate(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._dirty and self._durable:
                self._fsync_now(fd)
        finally:
            os.close(fd)

    # -- reading ----------------------------------------------------------------------

    def _iter_records(self, segments: list[_Segment], after: int) -> Iterator[dict[str, Any]]:
        for segment in segments:
            with open(segment.path, "rb", buffering=1 << 20) as f:
                header = f.read(HEADER_LEN)
                if header != MAGIC:
                    raise JournalCorrupt(f"journal segment {segment.path}: bad header {header!r}")
                pos = HEADER_LEN
                expected = segment.first_seq
                while pos < segment.size:
                    size, record = self._read_one(f, segment, pos, skip=expected <= after)
                    if record is not None:
                        if record["seq"] != expected:
                            raise JournalCorrupt(
                                f"journal segment {segment.path} at offset {pos}: "
                                f"record has seq {record['seq']}, expected {expected}"
                            )
                        yield record
                    pos += size
                    expected += 1

    @staticmethod
    def _read_one(
        f: BinaryIO, segment: _Segment, pos: int, *, skip: bool
    ) -> tuple[int, dict[str, Any] | None]:
        """Read the frame at ``pos``: (frame size, record or None when skipped)."""
        header = f.read(FRAME_HEADER_LEN)
        if len(header) < FRAME_HEADER_LEN:
            raise JournalCorrupt(f"journal segment {segment.path}: short frame at offset {pos}")
        length, crc = _FRAME_HEADER.unpack(header)
        if pos + FRAME_HEADER_LEN + length > segment.size:
            raise JournalCorrupt(
                f"journal segment {segment.path}: frame at offset {pos} runs past the end"
            )
        if skip:
            f.seek(length, os.SEEK_CUR)
            return FRAME_HEADER_LEN + length, None
        payload = f.read(length)
        if len(payload) != length or zlib.crc32(payload) != crc:
            raise JournalCorrupt(
                f"journal segment {segment.path}: frame at offset {pos} changed on disk "
                "(CRC mismatch)"
            )
        try:
            return FRAME_HEADER_LEN + length, _decode_payload(payload)
        except ValueError as exc:
            raise JournalCorrupt(f"journal segment {segment.path} at offset {pos}: {exc}") from None


class _RolledBack(Exception):
    """A write failed before any byte reached the file; the journal state is unchanged."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error
