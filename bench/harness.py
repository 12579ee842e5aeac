"""What the benchmarks share: loopback ports, subprocess lifecycle, health waits, machine info.

Imported by the bench scripts as ``harness`` (a script's own folder is on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def summary(values: list[float]) -> dict[str, float]:
    """n, mean, p50, p99 and max of some samples, in their unit (``{"n": 0}`` if none)."""
    if not values:
        return {"n": 0}
    a = np.asarray(values, dtype=np.float64)
    return {
        "n": int(a.size),
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
    }


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def twinstudio_command() -> list[str]:
    """The ``twinstudio`` CLI of this venv (or ``python -m twinstudio.cli`` without one)."""
    exe = Path(sys.executable).parent / "twinstudio"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "twinstudio.cli"]


def spawn(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in the repository, stdout and stderr to ``log_path``, no stdin."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGINT (our servers shut down cleanly on it), then SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
        return
    except subprocess.TimeoutExpired:
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def log_tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-2000:]
    return ""


async def wait_healthy(
    proc: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float = STARTUP_TIMEOUT_S
) -> float:
    """Poll ``GET /healthz`` until 200; return the seconds it took. Fails if ``proc`` exits."""
    import aiohttp

    start = time.perf_counter()
    url = f"http://{HOST}:{port}/healthz"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited early:\n{log_tail(log_path)}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - start
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{proc.args!r} was not healthy after {timeout:.0f} s")


def write_report(
    report: dict[str, Any],
    table: Callable[[dict[str, Any]], str],
    out: str | Path,
    started: dt.datetime,
    default: Callable[[Any], Any] | None = None,
) -> int:
    """Stamp the run's length, print ``table(report)``, write ``report`` as JSON to ``out``
    (``default`` converts what JSON can't hold); return 0, the bench's exit status."""
    report["seconds"] = (dt.datetime.now(dt.UTC) - started).total_seconds()
    print(table(report))
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=default) + "\n")
    print(f"\nwrote {path} ({report['seconds']:.0f} s in all)")
    return 0
