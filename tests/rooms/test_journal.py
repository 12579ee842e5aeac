"""The write-ahead journal: ordering, rotation, compaction, torn tails, corruption, kill -9."""

from __future__ import annotations

import importlib.util
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinstudio.rooms.journal import (
    MAGIC,
    FileJournal,
    FsyncPolicy,
    Journal,
    JournalCorrupt,
    JournalLocked,
    MemoryJournal,
    segment_name,
)

LOGGER = "twinstudio.rooms.journal"
HEADER = len(MAGIC)
WRITER = Path(__file__).with_name("journal_writer.py")
SERVER_DIR = Path(__file__).resolve().parents[2] / "server"


def _load_writer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("twinstudio_tests_journal_writer", WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


writer = _load_writer()


def rec(seq: int, size: int = 10) -> dict[str, Any]:
    """A record in decoded form (lists, not tuples), so it compares equal after a round trip."""
    return {
        "seq": seq,
        "kind": ["op", "note", "take"][seq % 3],
        "body": {"path": f"/World/P{seq}", "value": [seq, seq / 4, None, True]},
        "blob": bytes(range(256))[: size % 256] * (1 + size // 256),
    }


def frame_size(record: dict[str, Any]) -> int:
    return 8 + len(msgpack.packb(record, use_bin_type=True))


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("journal-*.wal"))


def fill(directory: Path, records: list[dict[str, Any]], **kwargs: Any) -> None:
    kwargs.setdefault("fsync", FsyncPolicy.NEVER)
    with FileJournal(directory, **kwargs) as journal:
        for record in records:
            journal.append(record)


def read_all(directory: Path) -> tuple[int, list[dict[str, Any]], int]:
    with FileJournal(directory, FsyncPolicy.NEVER) as journal:
        return journal.last_seq, list(journal.records_after(0)), journal.dropped_tail_bytes


# -- basics ----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", list(FsyncPolicy))
def test_round_trip_with_each_fsync_policy(tmp_path: Path, policy: FsyncPolicy) -> None:
    records = [rec(seq, seq * 37) for seq in range(1, 61)]
    with FileJournal(tmp_path / "j", policy, fsync_interval_s=0.01) as journal:
        assert journal.last_seq == 0
        assert list(journal.records_after(0)) == []
        for record in records:
            journal.append(record)
        assert journal.last_seq == 60
        assert list(journal.records_after(0)) == records
        assert list(journal.records_after(42)) == records[42:]
        assert list(journal.records_after(60)) == []
        journal.sync()

    with FileJournal(tmp_path / "j", policy) as journal:
        assert journal.last_seq == 60
        assert journal.dropped_tail_bytes == 0
        assert list(journal.records_after(0)) == records
        journal.append(rec(61))
    assert read_all(tmp_path / "j")[1] == [*records, rec(61)]


def test_record_types_round_trip_as_msgpack_decodes_them(tmp_path: Path) -> None:
    record = {
        "seq": 1,
        "tuple": (1, 2),
        "bytes": b"\x00\xff",
        "str": "héllo",
        "float": 0.1,
        "big": 2**63,
        "neg": -(2**63),
        "nested": {"a": [{"b": None}], 3: "int key"},
    }
    expected = {**record, "tuple": [1, 2]}
    with FileJournal(tmp_path, FsyncPolicy.NEVER) as journal:
        journal.append(record)
        assert list(journal.records_after(0)) == [expected]
    assert read_all(tmp_path)[1] == [expected]
    memory = MemoryJournal()
    memory.append(record)
    assert list(memory.records_after(0)) == [expected]


def _file_journal(tmp_path: Path) -> FileJournal:
    return FileJournal(tmp_path / "j", FsyncPolicy.NEVER)


def _memory_journal(tmp_path: Path) -> MemoryJournal:
    return MemoryJournal()


JOURNALS: list[Callable[[Path], FileJournal | MemoryJournal]] = [_file_journal, _memory_journal]


def test_both_journals_satisfy_the_protocol(tmp_path: Path) -> None:
    journals: list[Journal] = [MemoryJournal(), FileJournal(tmp_path, FsyncPolicy.NEVER)]
    for journal in journals:
        assert isinstance(journal, Journal)
        journal.close()


@pytest.mark.parametrize("make", JOURNALS, ids=["file", "memory"])
def test_seq_must_continue_by_one(tmp_path: Path, make: Callable[[Path], Any]) -> None:
    journal = make(tmp_path)
    with pytest.raises(ValueError, match="expected 1"):
        journal.append(rec(2))
    journal.append(rec(1))
    for bad in (rec(1), rec(3), rec(0), rec(-5)):
        with pytest.raises(ValueError, match=r"got seq .*expected 2"):
            journal.append(bad)
    with pytest.raises(ValueError, match="seq"):
        journal.append({"kind": "op"})
    with pytest.raises(ValueError, match="int"):
        journal.append({"seq": True})
    with pytest.raises(ValueError, match="int"):
        journal.append({"seq": 2.0})
    with pytest.raises(TypeError):
        journal.append({"seq": 2, "value": object()})  # not msgpack-able
    journal.append(rec(2))  # every refusal left the journal as it was
    assert journal.last_seq == 2
    assert list(journal.records_after(0)) == [rec(1), rec(2)]
    journal.close()
    journal.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        journal.append(rec(3))


@pytest.mark.parametrize("make", JOURNALS, ids=["file", "memory"])
def test_records_after_is_a_snapshot(tmp_path: Path, make: Callable[[Path], Any]) -> None:
    with make(tmp_path) as journal:
        for seq in range(1, 6):
            journal.append(rec(seq))
        pending = journal.records_after(2)
        journal.append(rec(6))
        assert [r["seq"] for r in pending] == [3, 4, 5]
        assert [r["seq"] for r in journal.records_after(2)] == [3, 4, 5, 6]


def test_memory_journal_compacts_records(tmp_path: Path) -> None:
    journal = MemoryJournal()
    for seq in range(1, 11):
        journal.append(rec(seq))
    journal.compact(7)
    assert [r["seq"] for r in journal.records_after(0)] == [8, 9, 10]
    journal.compact(100)
    assert list(journal.records_after(0)) == []
    assert journal.last_seq == 10
    journal.append(rec(11))
    assert [r["seq"] for r in journal.records_after(0)] == [11]


def test_one_open_journal_per_directory(tmp_path: Path) -> None:
    first = FileJournal(tmp_path, FsyncPolicy.NEVER)
    with pytest.raises(JournalLocked, match=str(tmp_path)):
        FileJournal(tmp_path, FsyncPolicy.NEVER)
    first.close()
    FileJournal(tmp_path, FsyncPolicy.NEVER).close()


def test_creates_nested_directory_and_ignores_other_files(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "b"
    fill(directory, [rec(1), rec(2)])
    (directory / "notes.txt").write_text("not a segment")
    (directory / "journal-1.wal").write_bytes(b"not ours either: wrong name pattern")
    assert read_all(directory)[:2] == (2, [rec(1), rec(2)])


# -- rotation and compaction -----------------------------------------------------------


def test_rotation_and_compact(tmp_path: Path) -> None:
    records = [rec(seq, 40) for seq in range(1, 101)]
    per_frame = frame_size(records[0])
    with FileJournal(tmp_path, FsyncPolicy.NEVER, max_segment_bytes=10 * per_frame) as journal:
        for record in records:
            journal.append(record)
        files = segments(tmp_path)
        assert len(files) == 10  # 10 frames fill a segment (plus its header) and rotate it
        assert [f.name for f in files] == [segment_name(1 + 10 * i) for i in range(10)]
        assert all(f.stat().st_size <= 11 * per_frame for f in files)

        journal.compact(25)  # segments 1-10 and 11-20 are all <= 25; 21-30 is not
        names = [f.name for f in segments(tmp_path)]
        assert names == [segment_name(1 + 10 * i) for i in range(2, 10)]
        assert [r["seq"] for r in journal.records_after(0)] == list(range(21, 101))
        assert list(journal.records_after(50)) == records[50:]

        journal.compact(10**9)  # the last segment always stays
        assert [f.name for f in segments(tmp_path)] == [segment_name(91)]
        assert list(journal.records_after(0)) == records[90:]
        journal.compact(0)  # nothing to do

    with FileJournal(tmp_path, FsyncPolicy.NEVER, max_segment_bytes=10 * per_frame) as journal:
        assert journal.last_seq == 100
        journal.append(rec(101, 40))
        assert [f.name for f in segments(tmp_path)] == [segment_name(91), segment_name(101)]
    last_seq, survivors, _ = read_all(tmp_path)
    assert last_seq == 101
    assert survivors == [*records[90:], rec(101, 40)]


def test_last_seq_survives_compacting_everything_after_a_torn_first_frame(tmp_path: Path) -> None:
    # Segment 11's first frame is torn; a reopen leaves it header-only. Compacting the
    # older segment away must still leave last_seq recoverable from the segment's name.
    per_frame = frame_size(rec(1, 40))
    fill(tmp_path, [rec(seq, 40) for seq in range(1, 12)], max_segment_bytes=10 * per_frame)
    last = segments(tmp_path)[-1]
    assert last.name == segment_name(11)
    os.truncate(last, HEADER + 3)
    with FileJournal(tmp_path, FsyncPolicy.NEVER) as journal:
        assert journal.last_seq == 10
        journal.compact(10)
        assert [f.name for f in segments(tmp_path)] == [segment_name(11)]
    with FileJournal(tmp_path, FsyncPolicy.NEVER) as journal:
        assert journal.last_seq == 10
        assert list(journal.records_after(0)) == []
        journal.append(rec(11))
    assert read_all(tmp_path)[1] == [rec(11)]


# -- torn tails (property-based) -------------------------------------------------------

record_sizes = st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=30)
segment_limits = st.sampled_from([64, 300, 1500, 1 << 20])
TORN = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _last_segment_layout(
    directory: Path, records: list[dict[str, Any]]
) -> tuple[Path, int, list[int]]:
    """The last segment, its first seq and the offsets where its frames end."""
    last = segments(directory)[-1]
    first_seq = int(last.name.removeprefix("journal-").removesuffix(".wal"))
    ends = [HEADER]
    for record in records[first_seq - 1 :]:
        ends.append(ends[-1] + frame_size(record))
    assert ends[-1] == last.stat().st_size
    return last, first_seq, ends


def _assert_appends_continue(directory: Path, survivors: list[dict[str, Any]]) -> None:
    next_seq = len(survivors) + 1
    more = [rec(seq, 99) for seq in range(next_seq, next_seq + 3)]
    with FileJournal(directory, FsyncPolicy.NEVER, max_segment_bytes=300) as journal:
        assert journal.last_seq == len(survivors)
        for record in more:
            journal.append(record)
    assert read_all(directory) == (len(survivors) + 3, survivors + more, 0)


@TORN
@given(sizes=record_sizes, max_segment=segment_limits, data=st.data())
def test_torn_tail_at_any_offset_is_dropped(
    caplog: pytest.LogCaptureFixture, sizes: list[int], max_segment: int, data: st.DataObject
) -> None:
    records = [rec(seq, size) for seq, size in enumerate(sizes, start=1)]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fill(directory, records, max_segment_bytes=max_segment)
        last, first_seq, ends = _last_segment_layout(directory, records)
        cut = data.draw(st.integers(min_value=0, max_value=ends[-1]), label="cut")
        os.truncate(last, cut)

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            last_seq, survivors, dropped = read_all(directory)

        kept_frames = sum(1 for end in ends[1:] if end <= cut)
        expected_last = first_seq - 1 + kept_frames
        assert last_seq == expected_last
        assert survivors == records[:expected_last]  # a prefix, no gaps
        torn_header = cut < HEADER
        expected_dropped = cut if torn_header else cut - ends[kept_frames]
        assert dropped == expected_dropped
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        if torn_header or expected_dropped:
            assert len(warnings) == 1
            message = warnings[0].getMessage()
            assert last.name in message and f"{expected_dropped} bytes" in message
            assert f"offset {0 if torn_header else ends[kept_frames]}" in message
        else:
            assert warnings == []
        _assert_appends_continue(directory, survivors)


@TORN
@given(sizes=record_sizes, max_segment=segment_limits, data=st.data())
def test_flipped_byte_in_last_frame_drops_that_frame(
    caplog: pytest.LogCaptureFixture, sizes: list[int], max_segment: int, data: st.DataObject
) -> None:
    records = [rec(seq, size) for seq, size in enumerate(sizes, start=1)]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fill(directory, records, max_segment_bytes=max_segment)
        last, _, ends = _last_segment_layout(directory, records)
        start, end = ends[-2], ends[-1]
        where = data.draw(st.integers(min_value=start, max_value=end - 1), label="where")
        flip = data.draw(st.integers(min_value=1, max_value=255), label="xor")
        blob = bytearray(last.read_bytes())
        blob[where] ^= flip
        last.write_bytes(bytes(blob))

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            last_seq, survivors, dropped = read_all(directory)

        assert last_seq == len(records) - 1
        assert survivors == records[:-1]
        assert dropped == end - start
        [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert last.name in warning.getMessage()
        assert f"offset {start}" in warning.getMessage()
        _assert_appends_continue(directory, survivors)


def test_zero_filled_tail_is_a_torn_tail(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # What a power failure can leave: the size was extended but the data never landed.
    fill(tmp_path, [rec(seq) for seq in range(1, 6)])
    last = segments(tmp_path)[-1]
    size = last.stat().st_size
    with open(last, "ab") as f:
        f.write(bytes(10_000))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert read_all(tmp_path) == (5, [rec(seq) for seq in range(1, 6)], 10_000)
    assert last.stat().st_size == size
    assert "dropping torn tail" in caplog.text


# -- corruption that is not a torn tail ------------------------------------------------


def _three_segments(directory: Path) -> list[Path]:
    per_frame = frame_size(rec(1, 40))
    fill(directory, [rec(seq, 40) for seq in range(1, 31)], max_segment_bytes=10 * per_frame)
    files = segments(directory)
    assert len(files) == 3
    return files


def _assert_refuses_to_open(directory: Path, match: str) -> None:
    before = {p.name: p.read_bytes() for p in segments(directory)}
    for _ in range(2):  # the second attempt proves the lock was released
        with pytest.raises(JournalCorrupt, match=match):
            FileJournal(directory, FsyncPolicy.NEVER)
    assert {p.name: p.read_bytes() for p in segments(directory)} == before  # nothing dropped


@pytest.mark.parametrize("segment", [0, 1])
def test_flipped_byte_in_an_older_segment_raises(tmp_path: Path, segment: int) -> None:
    target = _three_segments(tmp_path)[segment]
    blob = bytearray(target.read_bytes())
    blob[len(blob) // 2] ^= 0x40
    target.write_bytes(bytes(blob))
    _assert_refuses_to_open(tmp_path, f"{target.name}.*not the last")


def test_torn_end_of_an_older_segment_raises(tmp_path: Path) -> None:
    target = _three_segments(tmp_path)[1]
    os.truncate(target, target.stat().st_size - 5)
    _assert_refuses_to_open(tmp_path, f"{target.name}.*truncated")


def test_missing_segment_raises(tmp_path: Path) -> None:
    files = _three_segments(tmp_path)
    files[1].unlink()
    _assert_refuses_to_open(tmp_path, f"{files[2].name} starts at seq 21.*ends at seq 10")


def test_foreign_file_raises(tmp_path: Path) -> None:
    files = _three_segments(tmp_path)
    files[0].write_bytes(b"PK\x03\x04 this is a zip file, not a journal")
    _assert_refuses_to_open(tmp_path, f"{files[0].name} is not a Twin Studio journal")


def test_corruption_inside_the_last_segment_is_not_a_torn_tail(tmp_path: Path) -> None:
    # A bad frame followed by intact ones is bit rot, not a crash: nothing is dropped.
    fill(tmp_path, [rec(seq, 40) for seq in range(1, 11)])
    [only] = segments(tmp_path)
    blob = bytearray(only.read_bytes())
    offset = HEADER + sum(frame_size(rec(seq, 40)) for seq in (1, 2, 3))  # the 4th frame
    blob[offset + 12] ^= 0x01
    only.write_bytes(bytes(blob))
    _assert_refuses_to_open(
        tmp_path, f"{only.name} at offset {offset} .*CRC mismatch.*intact record seq 5"
    )


def test_crc_valid_garbage_raises(tmp_path: Path) -> None:
    fill(tmp_path, [rec(1)])
    [only] = segments(tmp_path)
    payload = msgpack.packb(["not", "a", "record"])
    with open(only, "ab") as f:
        f.write(len(payload).to_bytes(4, "little") + zlib.crc32(payload).to_bytes(4, "little"))
        f.write(payload)
    _assert_refuses_to_open(tmp_path, "CRC-valid frame with bad content")


# -- kill -9 ---------------------------------------------------------------------------


def _lines(stream: Any, into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def _drain(lines: queue.Queue[str | None]) -> Iterator[str]:
    while True:
        try:
            item = lines.get_nowait()
        except queue.Empty:
            return
        if item is None:
            return
        yield item


@pytest.mark.parametrize("policy", [FsyncPolicy.NEVER, FsyncPolicy.ALWAYS])
def test_kill_9_loses_no_acknowledged_record(tmp_path: Path, policy: FsyncPolicy) -> None:
    directory = tmp_path / "journal"
    pythonpath = os.pathsep.join([str(SERVER_DIR), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(directory), policy.value, "16384"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    acked: list[int] = []
    try:
        deadline = time.monotonic() + 20
        while len(acked) < 300:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                assert proc.stderr is not None
                pytest.fail(f"writer exited early ({proc.wait()}): {proc.stderr.read()}")
            acked.append(int(line))
        # The reader keeps draining, so the writer is mid-loop (possibly mid-write) now.
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        reader.join(timeout=10)
        acked += [int(line) for line in _drain(lines) if line.endswith("\n")]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()

    assert acked == list(range(1, len(acked) + 1))
    with FileJournal(directory, FsyncPolicy.NEVER) as journal:
        survivors = list(journal.records_after(0))
        assert journal.last_seq >= acked[-1]
        assert [r["seq"] for r in survivors] == list(range(1, journal.last_seq + 1))
        for record in survivors:  # acked ones, and anything written after the last ack
            assert record == writer.make_record(record["seq"])
        next_seq = journal.last_seq + 1
        journal.append(writer.make_record(next_seq))
    assert len(segments(directory)) > 1  # the run crossed segment boundaries
    with FileJournal(directory, FsyncPolicy.NEVER) as journal:
        assert journal.last_seq == next_seq
        assert journal.dropped_tail_bytes == 0


def test_group_commit_defers_the_fsync_to_sync_pending(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "j", FsyncPolicy.ALWAYS, group_commit=True)
    journal.append({"seq": 1, "op": "a"})
    journal.append({"seq": 2, "op": "b"})
    assert journal.synced_seq == 0  # written, not yet acknowledged as durable
    assert journal.sync_pending() == 2
    assert journal.synced_seq == 2
    journal.close()
    reopened = FileJournal(tmp_path / "j", FsyncPolicy.ALWAYS, group_commit=True)
    assert reopened.synced_seq == reopened.last_seq == 2
    reopened.close()


def test_without_group_commit_always_syncs_on_append(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "j", FsyncPolicy.ALWAYS)
    journal.append({"seq": 1})
    assert journal.synced_seq == 1
    journal.close()


def test_appends_continue_while_another_thread_syncs(tmp_path: Path) -> None:
    import threading

    journal = FileJournal(tmp_path / "j", FsyncPolicy.ALWAYS, group_commit=True)
    done = threading.Event()
    synced: list[int] = []

    def syncer() -> None:
        while not done.is_set():
            synced.append(journal.sync_pending())

    thread = threading.Thread(target=syncer)
    thread.start()
    for seq in range(1, 501):
        journal.append({"seq": seq, "value": seq * 2})
    done.set()
    thread.join(timeout=30)
    assert journal.sync_pending() == 500
    assert synced == sorted(synced)  # durability only moves forward
    journal.close()
    reopened = FileJournal(tmp_path / "j")
    assert [r["value"] for r in reopened.records_after(0)] == [s * 2 for s in range(1, 501)]
    reopened.close()
