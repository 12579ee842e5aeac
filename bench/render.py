"""Render throughput and latency: the live review stream against the raw renderer's limit.

One process runs the whole benchmark on the default shot (see bench/README.md):

1. **raw limit** (in-process): ``render_baseline`` (plain pyrender) + JPEG, and
   ``StudioRenderer.render`` + JPEG, in a tight loop at ``--width`` x ``--height`` (and
   the studio renderer at the review's preview size, which the stream uses during edits);
2. **streamed**: a real ``twinstudio serve`` and a real ``twinstudio render-node``
   (subprocesses, loopback, temp data dir); a writer changes the key light
   ``--edits-per-s`` times a second for ``--seconds`` while a viewer receives frames:
   streamed frames/s, edit-to-frame latency (writer's send -> viewer's first frame that
   includes the edit, one process and one monotonic clock), and streamed fps / raw fps;
3. **per-edit scene update** (in-process): ``StudioScene.sync()`` after a light, an
   xform, a one-joint pose, a pose preset (every joint) and a wardrobe edit, against the
   light edit and a full ``StudioScene`` build;
4. **final render** (in-process): ``StudioRenderer.render`` with supersampling, depth of
   field and shadows, plus the PNG encode, at ``--final-width`` x ``--final-height`` and
   at 1920x1080.

Prints a table and writes JSON to bench/results/render-latest.json. On a host without a
GPU (Mesa llvmpipe) the absolute times are CPU-bound: the ratios are the figures to read.

Usage::

    .venv/bin/python bench/render.py [--width 1280 --height 720 --seconds 10
        --edits-per-s 5 --final-width 3840 --final-height 2160 --supersample 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import harness

REPO = harness.REPO
STAGES = REPO / "stages"
SHOT = "default_shot.usda"
RESULTS_FILE = REPO / "bench" / "results" / "render-latest.json"
HOST = harness.HOST
ROOM = "default"
HERO = "/Studio/Cameras/Hero"
KEY = "/Studio/Lights/Key"
TWIN = "/Studio/Twin"
STARTUP_TIMEOUT_S = harness.STARTUP_TIMEOUT_S
FIRST_FRAME_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 30.0
SCALE_SIZE = (1920, 1080)


# -- helpers ------------------------------------------------------------------------------


def setup_gl() -> dict[str, str]:
    """EGL (Mesa llvmpipe without a GPU), chosen before anything imports OpenGL."""
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    from twinstudio.render.compat import apply_pyrender_compat
    from twinstudio.render.gl import select_platform

    select_platform()
    apply_pyrender_compat()
    return {"platform": "egl"}


def preview_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The size the render node renders at while edits stream in (as ``RenderNode`` does)."""
    return max(16, int(width * scale)), max(16, int(height * scale))


def default_preview_scale() -> float:
    from twinstudio.rooms.review import ReviewSettings

    return ReviewSettings().preview_scale


def proc_cpu(pid: int) -> float:
    """utime + stime of a process (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_cpu() -> float:
    """CPU seconds all processes on the machine have used (Linux /proc/stat), NaN elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by ``pids`` (and this process) and by everything else, over a window."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = {"bench": os.getpid(), **pids}
        self.start = self._read()
        self.t = time.monotonic()

    def _read(self) -> dict[str, float]:
        return {"machine": system_cpu(), **{k: proc_cpu(p) for k, p in self.pids.items()}}

    def pct_of_one_core(self) -> dict[str, float]:
        end, wall = self._read(), time.monotonic() - self.t
        out = {k: (end[k] - self.start[k]) / wall * 100 for k in end}
        out["other"] = max(0.0, out["machine"] - sum(out[k] for k in self.pids))
        return out


# -- 1. raw limit (in-process) ------------------------------------------------------------


@dataclass
class Gl:
    """The in-process GL context, the studio renderer on it, and the default shot's scene."""

    offscreen: Any
    renderer: Any
    room: Any
    scene: Any
    info: dict[str, str]


def open_gl() -> Gl:
    from twinstudio.render.gl import gl_info, open_renderer
    from twinstudio.render.lighting import StudioRenderer
    from twinstudio.render.scene import StudioScene
    from twinstudio.stage.composition import RoomStage

    offscreen = open_renderer(64, 64)
    room = RoomStage(STAGES, SHOT)
    return Gl(
        offscreen, StudioRenderer(offscreen), room, StudioScene(room.stage), gl_info(offscreen)
    )


def render_loop(
    render: Callable[[], np.ndarray], seconds: float, min_frames: int, warmup: int = 2
) -> dict[str, Any]:
    """Render + JPEG back to back for ``seconds`` (at least ``min_frames``), after a warm-up."""
    from twinstudio.render.node import encode_jpeg

    for _ in range(warmup):
        encode_jpeg(render())
    render_ms: list[float] = []
    encode_ms: list[float] = []
    jpeg_bytes = 0
    cpu = CpuMeter({})
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(render_ms) < min_frames:
        t0 = time.perf_counter()
        rgb = render()
        t1 = time.perf_counter()
        jpeg_bytes = len(encode_jpeg(rgb))
        t2 = time.perf_counter()
        render_ms.append((t1 - t0) * 1e3)
        encode_ms.append((t2 - t1) * 1e3)
    wall = time.perf_counter() - start
    frames = len(render_ms)
    return {
        "frames": frames,
        "seconds": wall,
        "fps": frames / wall,
        "ms_per_frame": wall * 1e3 / frames,
        "render_ms": harness.summary(render_ms),
        "encode_ms": harness.summary(encode_ms),
        "jpeg_bytes": jpeg_bytes,
        "cpu_pct_of_one_core": cpu.pct_of_one_core(),
    }


def bench_raw(gl: Gl, args: argparse.Namespace) -> dict[str, Any]:
    from twinstudio.render.baseline import render_baseline
    from twinstudio.render.lighting import RenderSettings

    gl.scene.sync()
    camera = gl.scene.camera(HERO)
    pw, ph = preview_size(args.width, args.height, args.preview_scale)

    def baseline() -> np.ndarray:
        return render_baseline(gl.scene, HERO, args.width, args.height, gl.offscreen, shadows=True)

    def studio(width: int, height: int) -> Callable[[], np.ndarray]:
        settings = RenderSettings(width=width, height=height, shadows=True)

        def go() -> np.ndarray:
            lights = gl.scene.lights.values()
            return np.asarray(gl.renderer.render(gl.scene.scene, lights, camera, settings).rgb)

        return go

    out: dict[str, Any] = {"size": [args.width, args.height], "preview_size": [pw, ph]}
    for name, fn in (
        ("baseline", baseline),
        ("studio", studio(args.width, args.height)),
        ("studio_preview", studio(pw, ph)),
    ):
        print(f"  raw {name} ...", flush=True)
        out[name] = render_loop(fn, args.raw_seconds, args.raw_min_frames)
        print(f"    {out[name]['fps']:.2f} frames/s", flush=True)
    return out


# -- 2. streamed (real server + real render node) ------------------------------------------


async def wait_healthy(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> float:
    """Poll ``GET /healthz`` until 200; return the seconds it took."""
    return await harness.wait_healthy(proc, port, log_path)


@dataclass
class Received:
    seq: int
    at: float  # viewer session's loop clock
    refined: bool
    width: int
    height: int
    render_ms: float
    encode_ms: float
    jpeg_bytes: int


def intensity(k: int) -> float:
    """A different key light intensity for each edit (the shot's is 20)."""
    return 15.0 + (k * 37) % 100 / 10.0


async def write_edits(
    owner: Any, rate: float, seconds: float, start: float, first: int
) -> tuple[dict[int, float], list[float]]:
    """Set the key light's intensity ``rate`` times a second on an absolute schedule.

    Returns {seq: send time} (loop clock, taken just before ``set``) and the ack times (ms).
    """
    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    acks: list[float] = []
    for i in range(max(1, round(rate * seconds))):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        t = loop.time()
        seq = await owner.set(KEY, "inputs:intensity", intensity(first + i))
        acks.append((loop.time() - t) * 1e3)
        sent[seq] = t
    return sent, acks


async def watch(viewer: Any, frames: list[Received], stop_event: asyncio.Event) -> None:
    while not stop_event.is_set():
        try:
            f = await viewer.next_frame(timeout=0.5)
        except TimeoutError:
            continue
        size, times = (f.width, f.height), (f.render_ms, f.encode_ms)
        frames.append(Received(f.seq, f.received_at, f.refined, *size, *times, len(f.jpeg)))


async def wait_frame(
    frames: list[Received], pred: Callable[[Received], bool], timeout: float
) -> Received | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in frames:
            if pred(f):
                return f
        await asyncio.sleep(0.02)
    return None


async def stream_workload(
    url: str, tokens: dict[str, str], pids: dict[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    from twinstudio.client import aconnect

    loop = asyncio.get_running_loop()
    owner = await aconnect(url, ROOM, tokens["owner"], "bench-writer")
    viewer = await aconnect(url, ROOM, tokens["reviewer"], "bench-viewer")
    frames: list[Received] = []
    stop_event = asyncio.Event()
    watcher = asyncio.create_task(watch(viewer, frames, stop_event))
    try:
        await owner.set_review(width=args.width, height=args.height, fps=60.0)
        full = (args.width, args.height)

        def refined_at(seq: int) -> Callable[[Received], bool]:
            return lambda f: f.refined and (f.width, f.height) == full and f.seq >= seq

        # warm-up (unmeasured): the node's first frames compile shaders and allocate targets.
        # (No new frame follows the settings change when the size is the room's default.)
        if await wait_frame(frames, refined_at(0), FIRST_FRAME_TIMEOUT_S) is None:
            raise RuntimeError("no refined frame from the render node at the bench size")
        sent, _ = await write_edits(owner, args.edits_per_s, args.warmup, loop.time(), 0)
        await wait_frame(frames, refined_at(max(sent)), DRAIN_TIMEOUT_S)

        frames.clear()
        n_warm = len(sent)
        t0 = loop.time() + 0.05
        cpu = CpuMeter(pids)
        sent, acks = await write_edits(owner, args.edits_per_s, args.seconds, t0, n_warm)
        t_end = max(t0 + args.seconds, loop.time())
        cpu_pct = cpu.pct_of_one_core()
        last = max(sent)
        settled = await wait_frame(frames, refined_at(last), DRAIN_TIMEOUT_S)
        await asyncio.sleep(0.05)
    finally:
        stop_event.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(watcher, 2.0)
        await viewer.close()
        await owner.close()

    window = t_end - t0
    in_window = [f for f in frames if t0 <= f.at <= t_end]
    refined = [f for f in in_window if f.refined]
    latencies: list[float] = []
    unanswered = 0
    for seq, t_sent in sorted(sent.items()):
        first = next((f for f in frames if f.seq >= seq), None)
        if first is None:
            unanswered += 1
        else:
            latencies.append((first.at - t_sent) * 1e3)
    previews = [f for f in in_window if not f.refined]
    return {
        "window_s": window,
        "edits": len(sent),
        "frames": len(in_window),
        "refined_frames": len(refined),
        "preview_frames": len(previews),
        "fps": len(in_window) / window,
        "refined_fps": len(refined) / window,
        "frames_by_size": {
            f"{w}x{h}": sum((f.width, f.height) == (w, h) for f in in_window)
            for w, h in sorted({(f.width, f.height) for f in in_window})
        },
        "edit_to_frame_ms": harness.summary(latencies),
        "edits_without_frame": unanswered,
        "last_edit_to_refined_ms": (settled.at - sent[last]) * 1e3 if settled else None,
        "ack_ms": harness.summary(acks),
        "node_render_ms": {
            "preview": harness.summary([f.render_ms for f in previews]),
            "refined": harness.summary([f.render_ms for f in refined]),
        },
        "node_encode_ms": harness.summary([f.encode_ms for f in in_window]),
        "jpeg_bytes_mean": float(np.mean([f.jpeg_bytes for f in in_window])) if in_window else 0,
        "cpu_pct_of_one_core": cpu_pct,
    }


def bench_stream(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from twinstudio.auth import TokenAuthority

    data = tmp / "data"
    data.mkdir(parents=True)
    authority = TokenAuthority.from_data_dir(data)
    tokens = {
        role: authority.issue(ROOM, role, name=f"bench {role}")
        for role in ("owner", "reviewer", "render")
    }
    port = harness.free_port()
    url = f"http://{HOST}:{port}"
    server_log, node_log = tmp / "studio.log", tmp / "render-node.log"
    server = node = None
    try:
        server = harness.spawn(
            [*harness.twinstudio_command(), "serve", "--host", HOST, "--port", str(port),
             "--data", str(data)],
            server_log,
        )  # fmt: skip
        healthy_s = asyncio.run(wait_healthy(server, port, server_log))
        node = harness.spawn(
            [*harness.twinstudio_command(), "render-node", "--server", url, "--room", ROOM,
             "--token", tokens["render"]],
            node_log,
        )  # fmt: skip
        pids = {"server": server.pid, "render_node": node.pid}
        try:
            result = asyncio.run(stream_workload(url, tokens, pids, args))
        except Exception as exc:
            tails = f"\n--- studio log ---\n{harness.log_tail(server_log)}"
            tails += f"\n--- render node log ---\n{harness.log_tail(node_log)}"
            raise RuntimeError(f"streamed run failed: {exc!r}{tails}") from exc
        result["studio_healthy_s"] = healthy_s
        return result
    finally:
        harness.stop_process(node)
        harness.stop_process(server)


# -- 3. per-edit scene update cost (in-process) -------------------------------------------


def bench_sync(args: argparse.Namespace) -> dict[str, Any]:
    from pxr import Gf

    from twinstudio.render.scene import StudioScene
    from twinstudio.stage import posing
    from twinstudio.stage.composition import RoomStage
    from twinstudio.stage.editor import StageEditor
    from twinstudio.stage.ops import op_from_wire

    room = RoomStage(STAGES, SHOT)
    builds: list[float] = []
    for _ in range(args.builds):
        t = time.perf_counter()
        scene = StudioScene(room.stage)
        builds.append((time.perf_counter() - t) * 1e3)
        scene.close()

    scene = StudioScene(room.stage)
    editor = StageEditor(room)
    anim = room.stage.GetPrimAtPath(f"{TWIN}/Pose")
    joints = [str(j).rsplit("/", 1)[-1] for j in anim.GetAttribute("joints").Get()]
    rest = anim.GetAttribute("rotations").Get()[joints.index("upperarm_l")]
    presets = [p.name for p in posing.presets(room.stage.GetPrimAtPath(TWIN))]

    def arm(k: int) -> list[float]:
        q = rest * Gf.Quatf(Gf.Rotation(Gf.Vec3d(0, 0, 1), 10.0 + 5.0 * (k % 8)).GetQuat())
        return [q.GetReal(), *q.GetImaginary()]

    edits: dict[str, Callable[[int], dict[str, Any]]] = {
        "light (Key intensity)": lambda k: {
            "op": "set", "path": KEY, "attr": "inputs:intensity", "value": intensity(k),
        },
        "xform (move the twin)": lambda k: {
            "op": "xform", "path": TWIN, "translate": [0.01 * (k % 10), 0.0, 0.0],
        },
        "pose, one joint (upperarm_l)": lambda k: {
            "op": "pose", "path": TWIN, "rotations": {"upperarm_l": arm(k)},
        },
        "pose, preset (all joints)": lambda k: {
            "op": "pose", "path": TWIN, "preset": presets[k % len(presets)],
        },
        "wardrobe switch": lambda k: {
            "op": "variant", "path": TWIN, "set": "wardrobe",
            "selection": ("evening", "studio_basics")[k % 2],
        },
    }  # fmt: skip
    out: dict[str, Any] = {"full_build_ms": harness.summary(builds)}
    per_edit: dict[str, Any] = {}
    for name, wire in edits.items():
        samples: list[float] = []
        stats = None
        for k in range(args.sync_n + 1):  # the first is a warm-up
            editor.apply(op_from_wire(wire(k + 1)))
            stats = scene.sync()
            if k:
                samples.append(stats.seconds * 1e3)
        assert stats is not None
        per_edit[name] = {
            "sync_ms": harness.summary(samples),
            "full": stats.full,
            "meshes_rebuilt": stats.meshes_rebuilt,
            "nodes_moved": stats.nodes_moved,
            "lights_changed": stats.lights_changed,
            "materials_updated": stats.materials_updated,
        }
    scene.close()
    out["edits"] = per_edit
    build = out["full_build_ms"]["p50"]
    light = per_edit["light (Key intensity)"]["sync_ms"]["p50"]
    for v in per_edit.values():
        v["build_over_sync"] = harness.ratio(build, v["sync_ms"]["p50"])
        v["sync_over_light"] = harness.ratio(v["sync_ms"]["p50"], light)
    return out


# -- 4. final render (in-process) ---------------------------------------------------------


def bench_final(gl: Gl, args: argparse.Namespace) -> dict[str, Any]:
    from PIL import Image

    from twinstudio.render.lighting import RenderSettings

    gl.scene.sync()
    camera = gl.scene.camera(HERO)

    def settings(width: int, height: int) -> Any:
        return RenderSettings(
            width=width,
            height=height,
            shadows=True,
            supersample=args.supersample,
            depth_of_field=True,
        )

    # warm-up: compile the shader variants these settings use, so no size pays for it
    gl.renderer.render(gl.scene.scene, gl.scene.lights.values(), camera, settings(320, 180))
    out: dict[str, Any] = {"supersample": args.supersample, "depth_of_field": True}
    sizes = [SCALE_SIZE, (args.final_width, args.final_height)]
    for width, height in dict.fromkeys(sizes):
        print(f"  final {width}x{height} ...", flush=True)
        t0 = time.perf_counter()
        result = gl.renderer.render(
            gl.scene.scene, gl.scene.lights.values(), camera, settings(width, height)
        )
        t1 = time.perf_counter()
        buf = io.BytesIO()
        Image.fromarray(np.asarray(result.rgb)).save(buf, format="PNG")
        t2 = time.perf_counter()
        out[f"{width}x{height}"] = {
            "render_s": t1 - t0,
            "png_s": t2 - t1,
            "total_s": t2 - t0,
            "png_bytes": buf.tell(),
        }
        print(f"    {t2 - t0:.1f} s", flush=True)
        del result, buf
    return out


# -- report -------------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    a, raw, st, sy, fi = (report[k] for k in ("args", "raw", "stream", "sync", "final"))
    w, h = raw["size"]
    pw, ph = raw["preview_size"]
    lines = [
        "",
        f"Render bench: {SHOT}, {HERO}, {w}x{h} (preview {pw}x{ph}); "
        f"GL: {report['gl'].get('renderer', '?')}",
        "",
        f"1. Raw limit (in-process, render + JPEG back to back, {a['raw_seconds']:g} s each)",
        f"  {'':34}{'frames/s':>10}{'ms/frame':>10}{'render p50':>11}{'JPEG p50':>9}"
        f"{'other CPU %':>12}",
    ]
    for key, label in (
        ("baseline", f"pyrender baseline {w}x{h}"),
        ("studio", f"studio renderer {w}x{h}"),
        ("studio_preview", f"studio renderer {pw}x{ph} (preview)"),
    ):
        r = raw[key]
        lines.append(
            f"  {label:34}{r['fps']:>10.2f}{r['ms_per_frame']:>10.0f}"
            f"{r['render_ms']['p50']:>11.0f}{r['encode_ms']['p50']:>9.1f}"
            f"{r['cpu_pct_of_one_core']['other']:>12.0f}"
        )
    lat = st["edit_to_frame_ms"]
    studio_fps, preview_fps = raw["studio"]["fps"], raw["studio_preview"]["fps"]
    lines += [
        "",
        f"2. Streamed (serve + render-node subprocesses, key light edited "
        f"{a['edits_per_s']:g}/s for {a['seconds']:g} s, fps cap 60)",
        f"  frames/s, all                     {st['fps']:>8.2f}   "
        f"({st['frames']} frames: {st['refined_frames']} refined, "
        f"{st['preview_frames']} preview)",
        f"  frames/s, refined only            {st['refined_fps']:>8.2f}",
        f"  edit -> frame p50 / p99 (ms)      {lat.get('p50', float('nan')):>8.0f} / "
        f"{lat.get('p99', float('nan')):.0f}   (max {lat.get('max', float('nan')):.0f}, "
        f"{st['edits']} edits, {st['edits_without_frame']} without a frame)",
    ]
    if st["last_edit_to_refined_ms"] is not None:
        lines.append(f"  last edit -> refined frame (ms)   {st['last_edit_to_refined_ms']:>8.0f}")
    nr, cpu = st["node_render_ms"], st["cpu_pct_of_one_core"]
    lines += [
        f"  edit ack p50 (ms)                 {st['ack_ms']['p50']:>8.1f}",
        f"  node render ms p50 preview/full   {nr['preview'].get('p50', float('nan')):>8.0f} / "
        f"{nr['refined'].get('p50', float('nan')):.0f}   (raw: "
        f"{raw['studio_preview']['render_ms']['p50']:.0f} / "
        f"{raw['studio']['render_ms']['p50']:.0f})",
        f"  CPU (% of one core)               server {cpu['server']:.0f}, render node "
        f"{cpu['render_node']:.0f}, bench {cpu['bench']:.0f}, other processes {cpu['other']:.0f}",
        f"  streamed fps / raw studio fps     {harness.ratio(st['fps'], studio_fps):>8.2f}x   "
        f"(refined only: {harness.ratio(st['refined_fps'], studio_fps):.2f}x)",
        f"  streamed fps / raw preview fps    {harness.ratio(st['fps'], preview_fps):>8.2f}x   "
        f"({st['preview_frames']} of {st['frames']} frames streamed at {pw}x{ph})",
        f"  stream efficiency                 {st['efficiency']:>8.2f}    "
        "(raw time of the frames streamed, by size / wall time)",
        "",
        f"3. Scene update per edit (StudioScene.sync, in-process, median of {a['sync_n']})",
        f"  {'':30}{'sync ms':>9}{'x light':>9}{'build/sync':>12}  what sync did",
    ]
    for name, e in sy["edits"].items():
        did = (
            f"{e['meshes_rebuilt']} meshes rebuilt, {e['nodes_moved']} nodes moved, "
            f"{e['lights_changed']} lights"
        )
        lines.append(
            f"  {name:30}{e['sync_ms']['p50']:>9.2f}{e['sync_over_light']:>8.1f}x"
            f"{e['build_over_sync']:>11.1f}x  {did}"
        )
    lines.append(
        f"  {'full StudioScene build':30}{sy['full_build_ms']['p50']:>9.2f}{'':>9}{1:>11.1f}x  "
        f"(median of {a['builds']})"
    )
    lines += [
        "",
        f"4. Final render (studio renderer, supersample {fi['supersample']}, depth of field, "
        "shadows, + PNG)",
        f"  {'':26}{'render s':>9}{'PNG s':>8}{'total s':>9}{'PNG MB':>8}",
    ]
    for key, v in fi.items():
        if isinstance(v, dict):
            lines.append(
                f"  {key:26}{v['render_s']:>9.1f}{v['png_s']:>8.1f}{v['total_s']:>9.1f}"
                f"{v['png_bytes'] / 1e6:>8.1f}"
            )
    lines += [
        "",
        "  Without a GPU (llvmpipe) absolute times are CPU-bound: read the ratios.",
        "  'other' = CPU used by processes outside the bench (noise; rerun if it is high).",
    ]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--width", type=int, default=1280, help="review width")
    p.add_argument("--height", type=int, default=720, help="review height")
    p.add_argument("--seconds", type=float, default=10.0, help="measured streaming time")
    p.add_argument("--edits-per-s", type=float, default=5.0, help="key light edits per second")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured editing first (s)")
    p.add_argument("--raw-seconds", type=float, default=5.0, help="time per raw-limit loop")
    p.add_argument("--raw-min-frames", type=int, default=5, help="at least this many per loop")
    p.add_argument("--sync-n", type=int, default=20, help="syncs per edit kind (median)")
    p.add_argument("--builds", type=int, default=5, help="full scene builds (median)")
    p.add_argument("--final-width", type=int, default=3840)
    p.add_argument("--final-height", type=int, default=2160)
    p.add_argument("--supersample", type=int, default=2, help="final render SSAA factor (1..4)")
    p.add_argument("--tmp", default=None, help="parent dir for the data dir (default: temp)")
    p.add_argument("--out", default=str(RESULTS_FILE), help="JSON results file")
    args = p.parse_args(argv)
    if min(args.width, args.height, args.final_width, args.final_height) < 64:
        p.error("sizes must be at least 64")
    if args.seconds <= 0 or args.edits_per_s <= 0 or args.sync_n < 1 or args.builds < 1:
        p.error("--seconds, --edits-per-s, --sync-n and --builds must be positive")
    if args.edits_per_s > 200:
        p.error("--edits-per-s must stay under the server's per-connection limit (240/s)")
    args.preview_scale = default_preview_scale()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_gl()
    started = dt.datetime.now(dt.UTC)
    report: dict[str, Any] = {
        "benchmark": "render",
        "date": started.isoformat(timespec="seconds"),
        "machine": harness.machine(),
        "args": {
            k: getattr(args, k)
            for k in (
                *("width", "height", "seconds", "edits_per_s", "warmup", "raw_seconds"),
                *("raw_min_frames", "sync_n", "builds", "final_width", "final_height"),
                *("supersample", "preview_scale"),
            )
        },
    }
    print("opening GL ...", flush=True)
    gl = open_gl()
    report["gl"] = gl.info
    try:
        print("1. raw limit ...", flush=True)
        report["raw"] = bench_raw(gl, args)
        print("2. streamed ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="twinstudio-render-bench-", dir=args.tmp) as tmp:
            stream = bench_stream(args, Path(tmp))
        raw = report["raw"]
        # the raw limit's time for the frames streamed, each at its size, over the wall time
        raw_ms = {
            "{}x{}".format(*raw["size"]): raw["studio"]["ms_per_frame"],
            "{}x{}".format(*raw["preview_size"]): raw["studio_preview"]["ms_per_frame"],
        }
        busy_ms = sum(n * raw_ms.get(size, np.nan) for size, n in stream["frames_by_size"].items())
        stream["efficiency"] = busy_ms / (stream["window_s"] * 1e3)
        stream["ratio_fps_vs_raw_studio"] = harness.ratio(stream["fps"], raw["studio"]["fps"])
        stream["ratio_refined_fps_vs_raw_studio"] = harness.ratio(
            stream["refined_fps"], raw["studio"]["fps"]
        )
        stream["ratio_fps_vs_raw_preview"] = harness.ratio(
            stream["fps"], raw["studio_preview"]["fps"]
        )
        report["stream"] = stream
        print("3. scene update per edit ...", flush=True)
        report["sync"] = bench_sync(args)
        print("4. final render ...", flush=True)
        report["final"] = bench_final(gl, args)
    finally:
        gl.scene.close()
        gl.renderer.delete()
        gl.offscreen.delete()
    return harness.write_report(report, table, args.out, started)


if __name__ == "__main__":
    sys.exit(main())
