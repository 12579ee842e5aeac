"""Fan-out latency: the Twin Studio server against a bare aiohttp broadcast relay.

One process runs the whole benchmark (see bench/README.md):

1. the real studio (``twinstudio serve``) and a bare relay (this file, ``--bare-server``)
   are started in turn as subprocesses on free loopback ports;
2. against each, ``--clients`` websocket clients join and ``--writers`` of them send
   property edits at ``--rate`` per second each for ``--seconds``; every client measures
   fan-out latency = receive time - send time (the send time travels in the op id, and
   all clients share this process's monotonic clock);
3. join time of one extra client (median of ``--joins``);
4. in-process microbenchmarks of the journal (``FileJournal`` per fsync policy vs
   ``MemoryJournal``) and of the server-side room path (``Room.receive``).

Prints a table and writes it as JSON to bench/results/fanout-latest.json. The figure that
matters on a noisy machine is the studio/bare ratio measured in the same run.

Usage::

    .venv/bin/python bench/fanout.py [--clients 20] [--writers 2] [--rate 60]
        [--seconds 10] [--fsync always] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
from aiohttp import WSMsgType, web
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import harness

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
RESULTS_FILE = RESULTS_DIR / "fanout-latest.json"
PROFILE_FILE = RESULTS_DIR / "studio-profile.txt"
HOST = harness.HOST
ROOM = "default"
TARGET_P99_RATIO = 2.0
STARTUP_TIMEOUT_S = harness.STARTUP_TIMEOUT_S
DRAIN_TIMEOUT_S = 5.0
DRAIN_IDLE_S = 1.0
MAX_WRITERS = 9

# One property per writer, so the server's coalescing of queued values of the same
# property never merges two writers' edits (prims and ranges from stages/default_shot.usda).
TARGETS: list[tuple[str, str, float, float]] = [
    (f"/Studio/Lights/{light}", attr, lo, hi)
    for attr, lo, hi in (
        ("inputs:intensity", 1.0, 100.0),
        ("inputs:exposure", -2.0, 2.0),
        ("inputs:colorTemperature", 3000.0, 8000.0),
    )
    for light in ("Key", "Fill", "Rim")
]


def pack(message: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(message, use_bin_type=True)
    return data


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False)


def op_value(lo: float, hi: float, k: int) -> float:
    return lo + (hi - lo) * ((k * 37) % 100) / 100.0


# -- the bare relay (runs in its own process: ``fanout.py --bare-server PORT``) -------------


def run_bare_server(port: int) -> None:
    """A minimal aiohttp broadcast relay: hello -> welcome, then every op is re-broadcast.

    Per connection: an asyncio queue and a writer task, like a typical server. Each op is
    decoded, given a seq, re-encoded once and queued to every member (the sender
    included), then acknowledged to the sender. No USD, no journal, no coalescing.
    """
    clients: dict[str, asyncio.Queue[bytes | None]] = {}
    ids = itertools.count(1)
    state = {"seq": 0}

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "connections": len(clients)})

    async def write(ws: web.WebSocketResponse, queue: asyncio.Queue[bytes | None]) -> None:
        while (data := await queue.get()) is not None:
            try:
                await ws.send_bytes(data)
            except ConnectionError:
                return

    async def websocket(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=15.0, max_msg_size=8 * 1024 * 1024)
        await ws.prepare(request)
        conn = f"c{next(ids)}"
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        writer = asyncio.create_task(write(ws, queue))
        try:
            msg = await ws.receive(timeout=10.0)
            if msg.type != WSMsgType.BINARY:
                return ws
            hello = unpack(msg.data)
            if not isinstance(hello, dict) or hello.get("type") != "hello":
                return ws
            name = str(hello.get("name") or conn)
            member = {"conn": conn, "user": conn, "name": name, "role": "editor"}
            queue.put_nowait(
                pack(
                    {
                        "type": "welcome",
                        "protocol": 1,
                        "room": request.match_info["room"],
                        "member": member,
                        "seq": state["seq"],
                    }
                )
            )
            clients[conn] = queue
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    break
                decoded = unpack(msg.data)
                if not isinstance(decoded, dict) or decoded.get("type") != "op":
                    continue
                state["seq"] += 1
                record = {
                    "type": "op",
                    "seq": state["seq"],
                    "author": conn,
                    "name": name,
                    "id": decoded.get("id"),
                    "op": decoded.get("op"),
                    "step": "do",
                    "label": "set",
                    "merge": None,
                }
                data = pack(record)
                for q in clients.values():
                    q.put_nowait(data)
                queue.put_nowait(
                    pack({"type": "ack", "id": decoded.get("id"), "seq": state["seq"]})
                )
        finally:
            clients.pop(conn, None)
            queue.put_nowait(None)
            await writer
            await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/rooms/{room}/ws", websocket)
    with contextlib.suppress(KeyboardInterrupt):
        web.run_app(app, host=HOST, port=port, print=None, handle_signals=True)


def run_profiled_studio(out: str, argv: list[str]) -> None:
    """Run ``twinstudio <argv>`` under cProfile; SIGINT stops it and writes ``out``."""
    import cProfile

    from twinstudio.cli import main as cli_main

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        cli_main(argv)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


# -- subprocesses -------------------------------------------------------------------------


@dataclass
class Server:
    kind: str  # "studio" or "bare"
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    tokens: list[str] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/rooms/{ROOM}/ws"

    def url_for(self, i: int) -> str:
        if self.kind == "bare":
            return f"{self.ws_url}?token=bare-{i}"
        return f"{self.ws_url}?token={self.tokens[i]}"

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (Linux /proc), NaN elsewhere."""
        return _proc_cpu(Path(f"/proc/{self.proc.pid}/stat"))

    def thread_cpu_seconds(self) -> dict[str, float]:
        """CPU seconds per thread of the server process: ``main`` and ``other`` threads."""
        out = {"main": 0.0, "other": 0.0, "other_threads": 0}
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
                cpu = _proc_cpu(task / "stat")
                if cpu != cpu:  # the thread just ended
                    continue
                if task.name == str(self.proc.pid):
                    out["main"] += cpu
                else:
                    out["other"] += cpu
                    out["other_threads"] += 1
        return out


def _proc_cpu(stat: Path) -> float:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def studio_command() -> list[str]:
    exe = Path(sys.executable).parent / "twinstudio"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "twinstudio.cli"]


def start_studio(
    data: Path, fsync: str, n_tokens: int, logs: Path, profile_out: Path | None
) -> Server:
    from twinstudio.auth import TokenAuthority

    data.mkdir(parents=True, exist_ok=True)
    authority = TokenAuthority.from_data_dir(data)
    tokens = [authority.issue(ROOM, "editor", name=f"bench{i}") for i in range(n_tokens)]
    port = harness.free_port()
    serve = ["serve", "--host", HOST, "--port", str(port), "--data", str(data)]
    serve += ["--fsync", fsync]
    if profile_out is None:
        cmd = [*studio_command(), *serve]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--profiled-studio"]
        cmd += [str(profile_out), "--", *serve]
    return _spawn("studio", cmd, port, logs, tokens)


def start_bare(logs: Path) -> Server:
    port = harness.free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(port)]
    return _spawn("bare", cmd, port, logs, [])


def _spawn(kind: str, cmd: list[str], port: int, logs: Path, tokens: list[str]) -> Server:
    log_path = logs / f"{kind}-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return Server(kind, port, proc, log_path, tokens)


async def wait_healthy(server: Server, timeout: float = STARTUP_TIMEOUT_S) -> float:
    """Poll ``GET /healthz`` until 200; return the seconds it took."""
    return await harness.wait_healthy(server.proc, server.port, server.log_path, timeout)


def stop(server: Server) -> None:
    harness.stop_process(server.proc)


# -- clients ------------------------------------------------------------------------------


@dataclass
class Client:
    name: str
    ws: ClientConnection
    prefix: str
    latencies: list[int] = field(default_factory=list)  # ns, measured ops only
    acks: list[int] = field(default_factory=list)  # ns, send -> ack, measured ops only
    received_ops: int = 0
    errors: list[str] = field(default_factory=list)
    worst: tuple[int, Any] = (0, None)  # (latency ns, server seq) of the slowest broadcast
    task: asyncio.Task[None] | None = None

    async def read(self) -> None:
        prefix = self.prefix
        try:
            async for data in self.ws:
                now = time.perf_counter_ns()
                msg = unpack(data)
                kind = msg.get("type")
                if kind == "op":
                    op_id = msg.get("id")
                    if isinstance(op_id, str) and op_id.startswith(prefix):
                        self.received_ops += 1
                        latency = now - int(op_id.rsplit(":", 1)[1])
                        self.latencies.append(latency)
                        if latency > self.worst[0]:
                            self.worst = (latency, msg.get("seq"))
                elif kind == "ack":
                    op_id = msg.get("id")
                    if isinstance(op_id, str) and op_id.startswith(prefix):
                        self.acks.append(now - int(op_id.rsplit(":", 1)[1]))
                elif kind == "error" and len(self.errors) < 20:
                    self.errors.append(f"{msg.get('code')}: {msg.get('message')}")
        except ConnectionClosed:
            pass


async def join(
    url: str, name: str, until: str, compression: str | None
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect and say hello; read until a message of type ``until``. Returns timings."""
    t0 = time.perf_counter()
    ws = await connect(url, max_size=None, compression=compression, open_timeout=20)
    await ws.send(pack({"type": "hello", "protocol": 1, "name": name}))
    times: dict[str, Any] = {}
    async with asyncio.timeout(30):
        while True:
            data = await ws.recv()
            msg = unpack(data)
            kind = msg.get("type")
            if kind == "error":
                raise RuntimeError(f"{name} refused: {msg}")
            times.setdefault(f"to_{kind}_ms", (time.perf_counter() - t0) * 1e3)
            if kind == "snapshot":
                times["snapshot_bytes"] = len(data)
            if kind == until:
                return ws, times


async def send_loop(
    client: Client,
    index: int,
    start: float,
    args: argparse.Namespace,
    sent: list[int],
    lateness: list[float],
) -> None:
    """Send ``rate`` edits/s on an absolute schedule: warm-up first, then measured ones."""
    path, attr, lo, hi = TARGETS[index]
    period = 1.0 / args.rate
    n_warm = round(args.warmup * args.rate)
    n_total = n_warm + round(args.seconds * args.rate)
    offset = period * index / args.writers  # interleave the writers
    for k in range(n_total):
        due = start + offset + k * period
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif k >= n_warm:
            lateness.append(-delay)
        measured = k >= n_warm
        t = time.perf_counter_ns()
        tag = client.prefix if measured else "warm:"
        msg = {
            "type": "op",
            "id": f"{tag}{index}:{k}:{t}",
            "op": {"op": "set", "path": path, "attr": attr, "value": op_value(lo, hi, k)},
        }
        await client.ws.send(pack(msg))
        if measured:
            sent[index] += 1


def stats_ms(values_ns: list[int]) -> dict[str, float | int]:
    if not values_ns:
        return {"n": 0}
    a = np.asarray(values_ns, dtype=np.float64) / 1e6
    return {
        "n": int(a.size),
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
    }


async def workload(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """Connect ``clients``, run the writers, drain, then measure join time."""
    startup_s = await wait_healthy(server)
    until = "snapshot" if server.kind == "studio" else "welcome"
    prefix = "m:"
    clients: list[Client] = []
    result: dict[str, Any] = {"startup_s": startup_s}
    try:
        t_conn = time.perf_counter()
        for i in range(args.clients):
            ws, _ = await join(server.url_for(i), f"bench{i}", until, args.compression)
            client = Client(f"bench{i}", ws, prefix)
            client.task = asyncio.create_task(client.read())
            clients.append(client)
        result["connect_all_s"] = time.perf_counter() - t_conn
        await asyncio.sleep(0.5)  # let presence broadcasts settle

        sent = [0] * args.writers
        lateness: list[float] = []
        cpu0, wall0, own0 = server.cpu_seconds(), time.perf_counter(), time.process_time()
        threads0 = server.thread_cpu_seconds()
        start = time.perf_counter() + 0.1
        await asyncio.gather(
            *(send_loop(clients[i], i, start, args, sent, lateness) for i in range(args.writers))
        )
        # Drain: until everything arrived, or nothing more arrives for DRAIN_IDLE_S.
        expected = sum(sent) * len(clients)
        deadline = time.perf_counter() + DRAIN_TIMEOUT_S
        last, last_change = -1, time.perf_counter()
        while time.perf_counter() < deadline:
            got = sum(c.received_ops for c in clients)
            acks = sum(len(c.acks) for c in clients)
            if got >= expected and acks >= sum(sent):
                break
            if got != last:
                last, last_change = got, time.perf_counter()
            elif time.perf_counter() - last_change > DRAIN_IDLE_S:
                break
            await asyncio.sleep(0.02)
        wall = time.perf_counter() - wall0
        cpu = server.cpu_seconds() - cpu0
        threads = server.thread_cpu_seconds()
        own = time.process_time() - own0

        lat = [x for c in clients for x in c.latencies]
        delivered = sum(c.received_ops for c in clients)
        result |= {
            "sent": sum(sent),
            "expected": expected,
            "delivered": delivered,
            "delivered_ratio": delivered / expected if expected else float("nan"),
            "latency_ms": stats_ms(lat),
            "ack_ms": stats_ms([x for c in clients for x in c.acks]),
            # the studio checkpoints at seq 1000, 2000, ... (--checkpoint-every default)
            "worst_latency_at_seq": max((c.worst for c in clients), key=lambda w: w[0])[1],
            "sender_late_ms_max": max(lateness, default=0.0) * 1e3,
            "sender_late_count": len(lateness),
            "server_cpu_s": cpu,
            "server_cpu_pct": 100.0 * cpu / wall if wall else float("nan"),
            "server_cpu_us_per_op": 1e6 * cpu / sum(sent) if sum(sent) else float("nan"),
            "server_cpu_main_thread_s": threads["main"] - threads0["main"],
            "server_cpu_other_threads_s": threads["other"] - threads0["other"],
            "server_threads": 1 + threads["other_threads"],
            "bench_cpu_pct": 100.0 * own / wall if wall else float("nan"),
            "errors": sorted({e for c in clients for e in c.errors})[:10],
        }

        # Join time: one extra client, connect -> snapshot (studio) or welcome (bare).
        joins: list[dict[str, Any]] = []
        for j in range(args.joins):
            ws, times = await join(
                server.url_for(args.clients + j), f"joiner{j}", until, args.compression
            )
            joins.append(times)
            await ws.close()
            await asyncio.sleep(0.1)
        result["join"] = {
            "until": until,
            "median_ms": statistics.median(t[f"to_{until}_ms"] for t in joins),
            "median_to_welcome_ms": statistics.median(t["to_welcome_ms"] for t in joins),
            "all_ms": [round(t[f"to_{until}_ms"], 2) for t in joins],
            "snapshot_bytes": joins[0].get("snapshot_bytes"),
        }
    finally:
        for c in clients:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await c.ws.close()
        for c in clients:
            if c.task is not None:
                c.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await c.task
    return result


def run_server(kind: str, args: argparse.Namespace, tmp: Path, round_no: int) -> dict[str, Any]:
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    profile_out = None
    if kind == "studio" and args.profile:
        profile_out = tmp / f"studio-{round_no}.prof"
    n_tokens = args.clients + args.joins
    probe = fsync_probe(tmp / "probe", args.writers * args.rate) if kind == "studio" else None
    server = (
        start_studio(tmp / f"data-{round_no}", args.fsync, n_tokens, logs, profile_out)
        if kind == "studio"
        else start_bare(logs)
    )
    try:
        result = asyncio.run(workload(server, args))
    finally:
        stop(server)
    if probe is not None:
        result["disk_fdatasync_probe_ms"] = probe
    if profile_out is not None:
        result["profile"] = summarize_profile(profile_out, args.profile_top)
    return result


def fsync_probe(directory: Path, hz: float, seconds: float = 1.0) -> dict[str, float | int]:
    """Latency of a 200-byte append + fdatasync, paced at ``hz`` for ``seconds``.

    Run just before each studio run: roughly what ``--fsync always`` costs the server
    per op on this disk right now (the disk's fsync latency drifts a lot on shared VMs).
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "probe.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    samples: list[int] = []
    try:
        start = time.perf_counter()
        for i in range(max(1, round(hz * seconds))):
            delay = start + i / hz - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t = time.perf_counter_ns()
            os.write(fd, b"x" * 200)
            os.fdatasync(fd)
            samples.append(time.perf_counter_ns() - t)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return stats_ms(samples)


def summarize_profile(path: Path, top: int) -> str:
    import io
    import pstats

    if not path.exists():
        return "(no profile written)"
    out = io.StringIO()
    st = pstats.Stats(str(path), stream=out)
    out.write("== by own time (tottime) ==\n")
    st.sort_stats("tottime").print_stats(top)
    out.write("\n== by cumulative time ==\n")
    st.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# -- in-process microbenchmarks ------------------------------------------------------------


def sample_record(seq: int) -> dict[str, Any]:
    """An op record as Room._commit_op builds it (~200 bytes of msgpack)."""
    return {
        "type": "op",
        "seq": seq,
        "author": "u-3f9a1c0e5b7d2a44",
        "name": "Stylist",
        "id": f"m:0:{seq}:{1_000_000_000_000 + seq}",
        "op": {
            "op": "set",
            "path": "/Studio/Lights/Key",
            "attr": "inputs:intensity",
            "value": 12.5 + seq % 10,
        },
        "step": "do",
        "label": "set Key.inputs:intensity",
        "merge": None,
    }


def per_call_stats(samples_ns: list[int]) -> dict[str, float | int]:
    a = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {
        "n": int(a.size),
        "mean_us": float(a.mean()),
        "p50_us": float(np.percentile(a, 50)),
        "p99_us": float(np.percentile(a, 99)),
        "max_us": float(a.max()),
    }


def bench_journal(tmp: Path, n: int, budget_s: float, pace_hz: float) -> dict[str, Any]:
    """µs per ``append()``: back to back for each policy, and ``always`` paced at ``pace_hz``.

    The paced run appends on the workload's schedule (writers x rate per second, sleeping
    in between), which is what the server sees: an fdatasync after an idle gap costs
    more than one in a tight loop.
    """
    from twinstudio.rooms.journal import FileJournal, FsyncPolicy, MemoryJournal

    records = [sample_record(i) for i in range(1, n + 1)]
    out: dict[str, Any] = {"record_bytes": len(pack(records[0])), "paced_hz": pace_hz}
    variants: list[tuple[str, Any, float]] = [("memory", MemoryJournal, 0.0)]
    for policy in (FsyncPolicy.NEVER, FsyncPolicy.INTERVAL, FsyncPolicy.ALWAYS):
        factory = functools.partial(FileJournal, tmp / f"journal-{policy.value}", policy)
        variants.append((f"file/{policy.value}", factory, 0.0))
    paced = functools.partial(FileJournal, tmp / "journal-always-paced", FsyncPolicy.ALWAYS)
    variants.append(("file/always paced", paced, pace_hz))
    for name, factory, hz in variants:
        journal = factory()
        samples: list[int] = []
        start = time.perf_counter()
        deadline = start + budget_s
        try:
            for i, record in enumerate(records):
                if hz:
                    delay = start + i / hz - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                t = time.perf_counter_ns()
                journal.append(record)
                samples.append(time.perf_counter_ns() - t)
                if time.perf_counter() > deadline and len(samples) >= 50:
                    break
        finally:
            journal.close()
        out[name] = per_call_stats(samples)
    base = out["memory"]["mean_us"]
    for name, _, _ in variants:
        out[name]["ratio_vs_memory"] = out[name]["mean_us"] / base
    return out


def bench_room(tmp: Path, n: int, budget_s: float) -> dict[str, Any]:
    """Server-side cost per op of ``Room.receive`` (validate, apply to USD, journal)."""
    from twinstudio.auth import Grant
    from twinstudio.cli import default_library
    from twinstudio.rooms.journal import FsyncPolicy, MemoryJournal
    from twinstudio.rooms.room import Room
    from twinstudio.rooms.studio import DEFAULT_SHOT, Studio
    from twinstudio.stage.composition import RoomStage

    library = default_library()
    grant = Grant(ROOM, "editor", "u-bench", "Bench", time.time() + 3600)
    out: dict[str, Any] = {}
    variants: list[tuple[str, Any]] = [
        ("memory", lambda: (Room(ROOM, RoomStage(library, DEFAULT_SHOT), MemoryJournal()), None))
    ]
    for policy in (FsyncPolicy.NEVER, FsyncPolicy.INTERVAL, FsyncPolicy.ALWAYS):

        def make(p: FsyncPolicy = policy) -> tuple[Room, Studio]:
            studio = Studio(tmp / f"room-{p.value}", library, fsync=p, checkpoint_every=10**9)
            return studio.room(ROOM), studio

        variants.append((f"file/{policy.value}", make))
    for name, factory in variants:
        room, studio = factory()
        try:
            room.join("c1", grant, {"type": "hello", "protocol": 1, "name": "bench"})
            samples: list[int] = []
            pack_samples: list[int] = []
            deadline = time.perf_counter() + budget_s
            for i in range(n):
                path, attr, lo, hi = TARGETS[i % 2]
                msg = {
                    "type": "op",
                    "id": f"r{i}",
                    "op": {"op": "set", "path": path, "attr": attr, "value": op_value(lo, hi, i)},
                }
                t = time.perf_counter_ns()
                sends = room.receive("c1", msg)
                t1 = time.perf_counter_ns()
                for s in sends:
                    pack(s.message)
                pack_samples.append(time.perf_counter_ns() - t1)
                samples.append(t1 - t)
                if sends[0].message["type"] == "error":
                    raise RuntimeError(f"room refused the op: {sends[0].message}")
                if time.perf_counter() > deadline and len(samples) >= 50:
                    break
            out[name] = per_call_stats(samples)
            out[name]["pack_mean_us"] = float(np.mean(pack_samples)) / 1e3
            if studio is not None and name == "file/never":
                t = time.perf_counter()
                studio.checkpoint(room)
                out["checkpoint_ms"] = (time.perf_counter() - t) * 1e3
        finally:
            if studio is not None:
                studio.close()
            else:
                room.journal.close()
    base = out["memory"]["mean_us"]
    for name, _ in variants:
        out[name]["ratio_vs_memory"] = out[name]["mean_us"] / base
    return out


# -- report -------------------------------------------------------------------------------


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Median over rounds of each server's figures, and of the per-round ratios."""

    def med(kind: str, *keys: str) -> float:
        vals = []
        for r in rounds:
            v: Any = r[kind]
            for k in keys:
                v = v[k]
            vals.append(v)
        return float(statistics.median(vals))

    summary: dict[str, Any] = {}
    for kind in ("studio", "bare"):
        summary[kind] = {
            "p50_ms": med(kind, "latency_ms", "p50"),
            "p99_ms": med(kind, "latency_ms", "p99"),
            "max_ms": med(kind, "latency_ms", "max"),
            "delivered_ratio": med(kind, "delivered_ratio"),
            "ack_p50_ms": med(kind, "ack_ms", "p50"),
            "ack_p99_ms": med(kind, "ack_ms", "p99"),
            "server_cpu_pct": med(kind, "server_cpu_pct"),
            "server_cpu_us_per_op": med(kind, "server_cpu_us_per_op"),
            "join_ms": med(kind, "join", "median_ms"),
        }
    summary["disk_fdatasync_probe_ms"] = {
        "p50": med("studio", "disk_fdatasync_probe_ms", "p50"),
        "p99": med("studio", "disk_fdatasync_probe_ms", "p99"),
    }
    ratios = {
        key: float(
            statistics.median(
                harness.ratio(r["studio"]["latency_ms"][key], r["bare"]["latency_ms"][key])
                for r in rounds
            )
        )
        for key in ("p50", "p99", "max")
    }
    summary["ratio"] = ratios
    summary["ratio"]["join"] = float(
        statistics.median(
            harness.ratio(r["studio"]["join"]["median_ms"], r["bare"]["join"]["median_ms"])
            for r in rounds
        )
    )
    summary["target"] = {
        "p99_ratio_max": TARGET_P99_RATIO,
        "met": ratios["p99"] <= TARGET_P99_RATIO,
    }
    return summary


def table(report: dict[str, Any]) -> str:
    s = report["summary"]
    a = report["args"]
    st, ba, ra = s["studio"], s["bare"], s["ratio"]
    lines = [
        "",
        f"Fan-out: {a['clients']} clients, {a['writers']} writers x {a['rate']:g}/s, "
        f"{a['seconds']:g}s, fsync={a['fsync']}, compression={a['compression'] or 'none'}, "
        f"rounds={a['rounds']}{' (PROFILED: studio numbers inflated)' if a['profile'] else ''}",
        f"{'':28}{'studio':>12}{'bare':>12}{'studio/bare':>13}",
    ]

    def row(
        label: str,
        x: float,
        y: float,
        fmt: str = "{:.2f}",
        show_ratio: bool = True,
        paired: float | None = None,
    ) -> None:
        r = f"{paired if paired is not None else harness.ratio(x, y):.2f}x" if show_ratio else ""
        lines.append(f"{label:28}{fmt.format(x):>12}{fmt.format(y):>12}{r:>13}")

    row("fan-out p50 (ms)", st["p50_ms"], ba["p50_ms"], paired=ra["p50"])
    row("fan-out p99 (ms)", st["p99_ms"], ba["p99_ms"], paired=ra["p99"])
    row("fan-out max (ms)", st["max_ms"], ba["max_ms"], paired=ra["max"])
    row("delivered / expected", st["delivered_ratio"], ba["delivered_ratio"], "{:.4f}", False)
    row("ack p50 (ms)", st["ack_p50_ms"], ba["ack_p50_ms"])
    row("ack p99 (ms)", st["ack_p99_ms"], ba["ack_p99_ms"])
    row("server CPU (% of 1 core)", st["server_cpu_pct"], ba["server_cpu_pct"], "{:.0f}")
    row("server CPU per op (us)", st["server_cpu_us_per_op"], ba["server_cpu_us_per_op"], "{:.0f}")
    row("join (ms, median)", st["join_ms"], ba["join_ms"], paired=ra["join"])
    lines.append(
        f"  join = connect -> snapshot (studio, "
        f"{report['rounds'][0]['studio']['join']['snapshot_bytes']} B) / -> welcome (bare)"
    )
    lines.append(
        "  values are medians over rounds; fan-out and join ratios are medians of the "
        "per-round (paired) ratios, the other ratios divide the medians"
    )
    probe = s["disk_fdatasync_probe_ms"]
    lines.append(
        f"  disk fdatasync probe before each studio run: p50 {probe['p50']:.2f} ms, "
        f"p99 {probe['p99']:.2f} ms (paid on the event loop per op with --fsync always)"
    )
    verdict = "MET" if s["target"]["met"] else "NOT MET"
    lines.append(
        f"  target: studio p99 within {TARGET_P99_RATIO:g}x of bare -> {ra['p99']:.3f}x: {verdict}"
    )
    if "journal" in report:
        j = report["journal"]
        lines += [
            "",
            f"Journal append ({j['record_bytes']} B op record)"
            f"{'mean us':>14}{'p50 us':>10}{'p99 us':>10}{'max us':>10}{'x memory':>10}",
        ]
        for name in ("memory", "file/never", "file/interval", "file/always", "file/always paced"):
            x = j[name]
            label = f"{name} @{j['paced_hz']:g}/s" if name.endswith("paced") else name
            lines.append(
                f"  {label:39}{x['mean_us']:>8.1f}{x['p50_us']:>10.1f}{x['p99_us']:>10.1f}"
                f"{x['max_us']:>10.0f}{x['ratio_vs_memory']:>9.1f}x"
            )
    if "room" in report:
        r = report["room"]
        lines += [
            "",
            f"Room.receive (set op, server side){'mean us':>15}{'p50 us':>10}{'p99 us':>10}"
            f"{'max us':>10}{'x memory':>10}",
        ]
        for name in ("memory", "file/never", "file/interval", "file/always"):
            x = r[name]
            lines.append(
                f"  {name:39}{x['mean_us']:>8.1f}{x['p50_us']:>10.1f}{x['p99_us']:>10.1f}"
                f"{x['max_us']:>10.0f}{x['ratio_vs_memory']:>9.1f}x"
            )
        lines.append(
            f"  + msgpack of the replies: {r['memory']['pack_mean_us']:.1f} us; "
            f"one checkpoint (every 1000 events by default): {r.get('checkpoint_ms', 0):.1f} ms"
        )
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clients", type=int, default=20, help="websocket clients (incl. writers)")
    p.add_argument("--writers", type=int, default=2, help="clients that send edits")
    p.add_argument("--rate", type=float, default=60.0, help="edits per second per writer")
    p.add_argument("--seconds", type=float, default=10.0, help="measured sending time")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured sending first (s)")
    p.add_argument("--fsync", choices=("always", "interval", "never"), default="always")
    p.add_argument("--joins", type=int, default=5, help="join-time samples (median)")
    p.add_argument("--rounds", type=int, default=3, help="studio+bare pairs; medians reported")
    p.add_argument(
        "--compression",
        choices=("none", "deflate"),
        default="none",
        help="permessage-deflate offered by the clients (browsers offer it; the Python "
        "client does not)",
    )
    p.add_argument("--no-micro", action="store_true", help="skip the journal/room benches")
    p.add_argument("--micro-appends", type=int, default=5000, help="journal appends per policy")
    p.add_argument("--micro-budget", type=float, default=3.0, help="seconds per micro variant")
    p.add_argument("--profile", action="store_true", help="cProfile the studio server")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument("--tmp", default=None, help="parent dir for data (default: system temp)")
    p.add_argument("--out", default=str(RESULTS_FILE), help="JSON results file")
    p.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--profiled-studio", metavar="OUT", help=argparse.SUPPRESS)
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rest and args.profiled_studio is None:
        p.error(f"unexpected arguments: {' '.join(args.rest)}")
    if args.bare_server is None and args.profiled_studio is None:
        if not 1 <= args.writers <= min(args.clients, MAX_WRITERS):
            p.error(f"--writers must be 1..min(--clients, {MAX_WRITERS})")
        if args.rate <= 0 or args.seconds <= 0 or args.rounds < 1 or args.joins < 1:
            p.error("--rate, --seconds, --rounds and --joins must be positive")
    args.compression = None if args.compression == "none" else "deflate"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_server is not None:
        run_bare_server(args.bare_server)
        return 0
    if args.profiled_studio is not None:
        run_profiled_studio(args.profiled_studio, args.rest)
        return 0

    started = dt.datetime.now(dt.UTC)
    rounds: list[dict[str, dict[str, Any]]] = []
    report: dict[str, Any] = {
        "benchmark": "fanout",
        "date": started.isoformat(timespec="seconds"),
        "machine": harness.machine(),
        "args": {
            k: getattr(args, k)
            for k in (
                *("clients", "writers", "rate", "seconds", "warmup", "fsync", "joins"),
                *("rounds", "compression", "profile"),
            )
        },
    }
    with tempfile.TemporaryDirectory(prefix="twinstudio-bench-", dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        for n in range(args.rounds):
            this: dict[str, dict[str, Any]] = {}
            for kind in ("studio", "bare"):
                print(f"[round {n + 1}/{args.rounds}] {kind} ...", flush=True)
                this[kind] = run_server(kind, args, tmp, n)
                lat = this[kind]["latency_ms"]
                print(
                    f"  p50 {lat.get('p50', float('nan')):.2f} ms, "
                    f"p99 {lat.get('p99', float('nan')):.2f} ms, "
                    f"delivered {this[kind]['delivered']}/{this[kind]['expected']}",
                    flush=True,
                )
                if "disk_fdatasync_probe_ms" in this[kind]:
                    pr = this[kind]["disk_fdatasync_probe_ms"]
                    print(f"  (fdatasync probe p50 {pr['p50']:.2f} ms, p99 {pr['p99']:.2f} ms)")
                if this[kind]["errors"]:
                    print(f"  errors: {this[kind]['errors']}", flush=True)
            rounds.append(this)
        if not args.no_micro:
            print("journal microbenchmark ...", flush=True)
            report["journal"] = bench_journal(
                tmp / "micro", args.micro_appends, args.micro_budget, args.writers * args.rate
            )
            print("room microbenchmark ...", flush=True)
            report["room"] = bench_room(tmp / "micro", args.micro_appends, args.micro_budget)

    profiles = [r["studio"].pop("profile") for r in rounds if "profile" in r["studio"]]
    report["rounds"] = rounds
    report["summary"] = summarize(rounds)
    text = table(report)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")
    if profiles:
        PROFILE_FILE.parent.mkdir(parents=True, exist_ok=True)
        PROFILE_FILE.write_text(profiles[-1])
        print(f"studio profile: {PROFILE_FILE}\n")
        print(profiles[-1][:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
