"""Append records to a FileJournal in a tight loop; print each seq once ``append()`` returned.

Usage: ``python journal_writer.py DIR POLICY [MAX_SEGMENT_BYTES] [LIMIT]``

Run by ``test_journal.py``'s kill -9 test: every seq printed on stdout was acknowledged,
so it must be in the journal after ``SIGKILL`` at any moment. ``make_record`` is shared
with the test, which checks every payload byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from twinstudio.rooms.journal import FileJournal, FsyncPolicy


def make_record(seq: int) -> dict[str, Any]:
    """A deterministic record whose size varies, so frames straddle pages and segments."""
    size = (seq * 7919) % 700
    return {
        "seq": seq,
        "kind": "op",
        "op": {"path": f"/World/Prim_{seq}", "attr": "xformOp:translate", "value": [seq, -seq]},
        "half": seq * 0.5,
        "blob": bytes((seq + i) % 256 for i in range(size)),
        "text": "é" * (seq % 13),
    }


def main(argv: list[str]) -> int:
    directory = Path(argv[1])
    policy = FsyncPolicy(argv[2])
    max_segment_bytes = int(argv[3]) if len(argv) > 3 else 64 * 1024
    limit = int(argv[4]) if len(argv) > 4 else 10_000_000
    journal = FileJournal(directory, policy, max_segment_bytes=max_segment_bytes)
    out = sys.stdout
    seq = journal.last_seq
    while seq < limit:
        seq += 1
        journal.append(make_record(seq))
        out.write(f"{seq}\n")
        out.flush()
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
