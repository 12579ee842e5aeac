"""A member whose client vanishes (frozen, no close frame) is dropped, and its locks go."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from conftest import ServerProcess, free_port, wait_until
from twinstudio.client import connect


def test_a_frozen_client_leaves_the_room_and_releases_its_locks(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data", free_port(), extra_args=("--heartbeat", "0.3")
    ).start()
    ghost = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "vanishing_client.py"),
            server.url,
            server.token("editor"),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert ghost.stdout is not None and ghost.stdout.readline().strip() == b"joined"
        with connect(server.url, token=server.token("owner"), name="Pia") as pia:
            wait_until(
                lambda: any(m["name"] == "Ghost" for m in pia.members), what="the ghost to join"
            )
            assert [lock["name"] for lock in pia.locks] == ["Ghost"]
            ghost.send_signal(signal.SIGSTOP)  # it stops answering pings, without closing anything
            wait_until(
                lambda: [m["name"] for m in pia.members] == ["Pia"],
                timeout=15,
                what="the ghost to be dropped",
            )
            assert pia.locks == []
    finally:
        ghost.kill()
        ghost.wait()
        server.stop()
