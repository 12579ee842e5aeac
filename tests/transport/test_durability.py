"""kill -9 at any moment loses no acknowledged edit; a torn journal tail never blocks start-up."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from conftest import ServerProcess, free_port, wait_until
from twinstudio.client import StudioError, connect


def start(tmp_path: Path, fsync: str) -> ServerProcess:
    return ServerProcess(tmp_path / "data", free_port(), fsync=fsync).start()


class Writer(threading.Thread):
    """Creates lights /Studio/Lights/W<i> one after another and records each acknowledged one."""

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.session = connect(server.url, token=server.token("editor"), timeout=5)
        self.acked: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                self.session.submit(
                    {"op": "create", "path": f"/Studio/Lights/W{i}", "type": "SphereLight"}
                )
                self.session.set(f"/Studio/Lights/W{i}", "inputs:intensity", float(i))
            except (StudioError, TimeoutError, OSError, RuntimeError):
                return  # the server died under us: whatever was acked is in self.acked
            self.acked.append(i)
            i += 1


@pytest.mark.parametrize("fsync", ["always", "never"])
def test_kill_9_mid_stream_loses_no_acknowledged_edit(tmp_path: Path, fsync: str) -> None:
    server = start(tmp_path, fsync)
    writer = Writer(server)
    writer.start()
    wait_until(lambda: len(writer.acked) >= 40, timeout=60, what="40 acknowledged edits")
    server.kill9()  # while the writer is still sending
    writer.stop.set()
    writer.join(timeout=20)
    acked = list(writer.acked)
    server.start()
    with connect(server.url, token=server.token("reviewer")) as check:
        for i in acked:
            assert check.get(f"/Studio/Lights/W{i}", "inputs:intensity") == float(i)
    writer.session.close()


def test_torn_journal_tail_is_dropped_with_a_warning(tmp_path: Path) -> None:
    server = start(tmp_path, "always")
    with connect(server.url, token=server.token("owner")) as s:
        seq = s.set("/Studio/Lights/Key", "inputs:intensity", 44.0)
    server.kill9()
    segment = sorted((server.data / "rooms" / "default" / "journal").glob("*.wal"))[-1]
    with segment.open("ab") as f:
        f.write(b"\x40\x00\x00\x00\xde\xad")  # half a frame: a write cut by the crash
    server.start()
    assert "torn" in server.log().lower() or "dropped" in server.log().lower()
    with connect(server.url, token=server.token("owner")) as s:
        assert s.seq == seq and s.get("/Studio/Lights/Key", "inputs:intensity") == 44.0
        assert s.set("/Studio/Lights/Key", "inputs:intensity", 45.0) == seq + 1


def test_recovery_from_checkpoint_plus_journal(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", free_port(), extra_args=("--checkpoint-every", "5"))
    server.start()
    with connect(server.url, token=server.token("owner")) as s:
        for i in range(13):
            s.set("/Studio/Lights/Key", "inputs:intensity", float(i))
        s.add_note("keep", path="/Studio/Lights/Key")
        s.save_take("t")
        last = s.set("/Studio/Cameras/Hero", "focalLength", 70.0)
    server.kill9()
    assert list((server.data / "rooms" / "default" / "checkpoints").glob("*.usdc"))
    server.start()
    with connect(server.url, token=server.token("owner")) as s:
        assert s.seq == last
        assert s.get("/Studio/Lights/Key", "inputs:intensity") == 12.0
        assert s.get("/Studio/Cameras/Hero", "focalLength") == 70.0
        assert list(s.takes) == ["t"] and len(s.notes) == 1
    server.stop()
