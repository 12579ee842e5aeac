"""Group commit: acks wait for an fsync that covers them; one fsync covers many ops."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from twinstudio.rooms.journal import FileJournal, FsyncPolicy
from twinstudio.transport.server import GroupCommit


@pytest.mark.parametrize("slow_disk", [False, True], ids=["inline", "worker-thread"])
async def test_durable_waits_for_a_covering_fsync(tmp_path: Path, slow_disk: bool) -> None:
    journal = FileJournal(tmp_path / "j", FsyncPolicy.ALWAYS, group_commit=True)
    commit = GroupCommit(journal)
    if slow_disk:
        commit.sync_s = 1.0  # as if recent fsyncs were slow: sync in a worker thread
    calls: list[str] = []  # the thread each fsync ran on
    original = journal.sync_pending

    def tracking_sync() -> int:
        calls.append(threading.current_thread().name)
        return original()

    journal.sync_pending = tracking_sync  # type: ignore[method-assign]
    for seq in range(1, 6):
        journal.append({"seq": seq})
    assert journal.synced_seq == 0
    await asyncio.gather(*(commit.durable(seq) for seq in range(1, 6)))
    assert journal.synced_seq == 5
    assert len(calls) == 1  # one fsync covered all five
    assert (calls[0] == threading.main_thread().name) is not slow_disk
    journal.close()
