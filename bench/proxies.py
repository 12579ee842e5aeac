"""Layout-view mesh proxies: ``GET /api/rooms/{room}/proxies`` against its neighbours.

One process runs the whole benchmark on the default shot (see bench/README.md):

1. **server** (a real ``twinstudio serve`` on a free loopback port, temp data dir): round
   trips of ``GET /healthz`` and ``GET /api/rooms/default/prims`` (the baselines), then of
   ``GET …/proxies``: cold (the first call in the process, and the first in fresh rooms),
   cached (same seq), and right after a light edit, a pose edit (re-skin) and a wardrobe
   switch, each made by a real client (``twinstudio.client.aconnect``) and acknowledged
   first. Every row is reported as a ratio to the baselines of the same run;
2. **in-process**: the raw UsdSkel skinning of the same meshes (a fresh ``UsdSkel.Cache``,
   ``ComputeSkinningTransforms`` + ``SkinningQuery.ComputeSkinnedPoints``) against
   ``ProxyBuilder.build`` + ``pack_proxies`` after a pose, after a wardrobe switch, and cold;
3. **payload**: the proxies' bytes against the same encoding of the full-resolution meshes,
   for both looks the bench switches between.

Prints a table and writes JSON to bench/results/proxies-latest.json. The machine is shared
and noisy: read the ratios, not the absolute times.

Usage::

    .venv/bin/python bench/proxies.py [--n 20] [--fresh-rooms 3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

import harness

STAGES = harness.REPO / "stages"
SHOT = "default_shot.usda"
RESULTS_FILE = harness.REPO / "bench" / "results" / "proxies-latest.json"
ROOM = "default"
TWIN = "/Studio/Twin"
KEY = "/Studio/Lights/Key"
LOOKS = ("evening", "studio_basics")  # alternated: the shot starts in studio_basics
POSE_JOINT = "upperarm_l"
HUGE = 10**9  # a triangle budget no mesh reaches: the full-resolution "proxies"


def arm_offset(k: int) -> tuple[float, float, float]:
    """A different sideways raise of the left arm per edit, well inside its joint limits."""
    return (0.0, 0.0, 10.0 + 5.0 * (k % 8))


def intensity(k: int) -> float:
    return 15.0 + (k * 37) % 100 / 10.0


# -- 1. server round trips ----------------------------------------------------------------


async def timed_get(http: Any, url: str) -> tuple[float, bytes]:
    """One GET on the session's keep-alive connection: (ms, body). Fails on a non-200."""
    t = time.perf_counter()
    async with http.get(url) as resp:
        body: bytes = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {url} -> {resp.status}: {body[:200]!r}")
    return (time.perf_counter() - t) * 1e3, body


def payload_facts(body: bytes) -> dict[str, Any]:
    """What the server says about the proxies it sent: its build time, size, seq."""
    d = msgpack.unpackb(body, raw=False)
    return {"build_ms": d["build_ms"], "seq": d["seq"], "bytes": len(body), "tris": d["triangles"]}


def row(samples: list[tuple[float, bytes]]) -> dict[str, Any]:
    out: dict[str, Any] = {"ms": harness.summary([ms for ms, _ in samples])}
    if samples and samples[0][1][:1] != b"{":  # msgpack proxies, not a JSON baseline
        facts = [payload_facts(body) for _, body in samples]
        out["server_build_ms"] = harness.summary([f["build_ms"] for f in facts])
        out["bytes"] = facts[-1]["bytes"]
        out["triangles"] = facts[-1]["tris"]
    else:
        out["bytes"] = len(samples[-1][1]) if samples else 0
    return out


async def server_workload(url: str, tokens: dict[str, str], args: argparse.Namespace) -> Any:
    import aiohttp

    from twinstudio.client import aconnect

    def api(room: str, what: str) -> str:
        return f"{url}/api/rooms/{room}/{what}?token={tokens[room]}"

    rows: dict[str, list[tuple[float, bytes]]] = {}
    async with aiohttp.ClientSession() as http:
        # Open the room first (/prims), so the cold proxies call pays for proxies only.
        await timed_get(http, api(ROOM, "prims"))
        rows["proxies, cold (first call in the process)"] = [
            await timed_get(http, api(ROOM, "proxies"))
        ]
        cold: list[tuple[float, bytes]] = []
        for i in range(args.fresh_rooms):
            room = f"fresh-{i}"
            await timed_get(http, api(room, "prims"))
            cold.append(await timed_get(http, api(room, "proxies")))
        rows["proxies, cold (a fresh room)"] = cold

        # Baselines and the cached repeat, interleaved so drift hits them alike.
        reads = {
            "healthz": f"{url}/healthz",
            "prims": api(ROOM, "prims"),
            "proxies, cached (same seq)": api(ROOM, "proxies"),
        }
        for name in reads:
            rows[name] = []
        for _ in range(args.n + 1):
            for name, u in reads.items():
                rows[name].append(await timed_get(http, u))
        for name in reads:
            rows[name] = rows[name][1:]  # the first of each is a warm-up

        owner = await aconnect(url, ROOM, tokens[ROOM], "bench-editor")
        try:
            edits: dict[str, Callable[[int], Awaitable[int]]] = {
                "proxies after a light edit": lambda k: owner.set(
                    KEY, "inputs:intensity", intensity(k)
                ),
                f"proxies after a pose edit ({POSE_JOINT})": lambda k: owner.pose(
                    offsets={POSE_JOINT: arm_offset(k)}
                ),
                "proxies after a wardrobe switch": lambda k: owner.select_variant(
                    TWIN, "wardrobe", LOOKS[k % 2]
                ),
            }
            for name in edits:
                rows[name] = []
            for k in range(args.n + 1):
                for name, edit in edits.items():
                    seq = await edit(k)
                    ms, body = await timed_get(http, api(ROOM, "proxies"))
                    if payload_facts(body)["seq"] < seq:
                        raise RuntimeError(f"proxies at seq {payload_facts(body)['seq']} < {seq}")
                    if k:  # the first of each is a warm-up
                        rows[name].append((ms, body))
        finally:
            await owner.close()
    return {name: row(samples) for name, samples in rows.items()}


def bench_server(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from twinstudio.auth import TokenAuthority

    data = tmp / "data"
    data.mkdir(parents=True)
    authority = TokenAuthority.from_data_dir(data)
    rooms = [ROOM, *(f"fresh-{i}" for i in range(args.fresh_rooms))]
    tokens = {room: authority.issue(room, "owner", name="bench") for room in rooms}
    port = harness.free_port()
    url = f"http://{harness.HOST}:{port}"
    log = tmp / "studio.log"
    server = None
    try:
        server = harness.spawn(
            [*harness.twinstudio_command(), "serve", "--host", harness.HOST,
             "--port", str(port), "--data", str(data)],
            log,
        )  # fmt: skip
        asyncio.run(harness.wait_healthy(server, port, log))
        try:
            return dict(asyncio.run(server_workload(url, tokens, args)))
        except Exception as exc:
            raise RuntimeError(f"server run failed: {exc!r}\n{harness.log_tail(log)}") from exc
    finally:
        harness.stop_process(server)


# -- 2. in-process: raw UsdSkel skinning vs the proxy build -------------------------------


def raw_skinning(stage: Any) -> tuple[float, float, int, int]:
    """Skin every skinned mesh of ``stage`` with UsdSkel alone, as the proxy builder must.

    Returns (total ms, ms inside ComputeSkinnedPoints, meshes, points).
    """
    from pxr import Usd, UsdGeom, UsdSkel

    predicate = Usd.TraverseInstanceProxies(Usd.PrimDefaultPredicate)
    t0 = time.perf_counter()
    skin_s = 0.0
    meshes = points = 0
    cache = UsdSkel.Cache()  # fresh, as the builder's: a new pose must be seen
    for prim in Usd.PrimRange(stage.GetPseudoRoot(), predicate):
        if not prim.IsA(UsdSkel.Root):
            continue
        root = UsdSkel.Root(prim)
        cache.Populate(root, predicate)
        for binding in cache.ComputeSkelBindings(root, predicate):
            skel_query = cache.GetSkelQuery(binding.GetSkeleton())
            xforms = skel_query.ComputeSkinningTransforms(Usd.TimeCode.Default())
            for query in binding.GetSkinningTargets():
                if not query.HasJointInfluences():
                    continue
                pts = UsdGeom.Mesh(query.GetPrim()).GetPointsAttr().Get()
                t = time.perf_counter()
                query.ComputeSkinnedPoints(xforms, pts, Usd.TimeCode.Default())
                skin_s += time.perf_counter() - t
                meshes += 1
                points += len(pts)
    return (time.perf_counter() - t0) * 1e3, skin_s * 1e3, meshes, points


def bench_in_process(args: argparse.Namespace) -> dict[str, Any]:
    from twinstudio.client.posing import offset_rotations
    from twinstudio.stage.composition import RoomStage
    from twinstudio.stage.editor import StageEditor
    from twinstudio.stage.ops import op_from_wire
    from twinstudio.transport.proxies import ProxyBuilder, pack_proxies

    room = RoomStage(STAGES, SHOT)
    stage = room.stage
    editor = StageEditor(room)

    def pose(k: int) -> None:
        rotations = offset_rotations(stage, TWIN, {POSE_JOINT: arm_offset(k)})
        editor.apply(op_from_wire({"op": "pose", "path": TWIN, "rotations": rotations}))

    def switch(k: int) -> None:
        wire = {"op": "variant", "path": TWIN, "set": "wardrobe", "selection": LOOKS[k % 2]}
        editor.apply(op_from_wire(wire))

    def build(builder: ProxyBuilder) -> float:
        t = time.perf_counter()
        pack_proxies(builder.build(stage), 0)
        return (time.perf_counter() - t) * 1e3

    build(ProxyBuilder())  # imports fast_simplification and warms numpy: not what rows measure
    builder = ProxyBuilder()
    build(builder)
    rows: dict[str, list[float]] = {"raw": [], "raw_skin_only": [], "pose": [], "wardrobe": []}
    facts: dict[str, int] = {}
    for k in range(args.n + 1):
        pose(k)
        total, skin, facts["meshes"], facts["points"] = raw_skinning(stage)
        pose_ms = build(builder)
        switch(k)
        wardrobe_ms = build(builder)
        if k:  # the first of each is a warm-up
            rows["raw"].append(total)
            rows["raw_skin_only"].append(skin)
            rows["pose"].append(pose_ms)
            rows["wardrobe"].append(wardrobe_ms)
    # cold: a fresh builder simplifies every mesh again (what a fresh room's first call does)
    rows["cold"] = [build(ProxyBuilder()) for _ in range(max(2, args.fresh_rooms))]

    out: dict[str, Any] = {name: harness.summary(v) for name, v in rows.items()}
    out["skinned"] = facts
    out["payload"] = {}
    for k, look in enumerate(LOOKS):
        switch(k)
        proxies = ProxyBuilder().build(stage)
        full = ProxyBuilder(mesh_budget=HUGE, total_budget=HUGE).build(stage)
        out["payload"][look] = {
            "proxies_bytes": len(pack_proxies(proxies, 0)),
            "proxies_triangles": proxies.triangle_count,
            "proxies_vertices": sum(len(m.positions) for m in proxies.meshes),
            "full_bytes": len(pack_proxies(full, 0)),
            "full_triangles": full.triangle_count,
            "full_vertices": sum(len(m.positions) for m in full.meshes),
            "meshes": len(proxies.meshes),
        }
    return out


# -- report -------------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    sv, ip, a = report["server"], report["in_process"], report["args"]
    healthz, prims = sv["healthz"]["ms"]["p50"], sv["prims"]["ms"]["p50"]
    lines = [
        "",
        f"Layout proxies: {SHOT}, room '{ROOM}', {a['n']} per row (medians), "
        f"{a['fresh_rooms']} fresh rooms",
        "",
        "1. Server round trips (twinstudio serve on loopback, one keep-alive HTTP connection)",
        f"  {'GET':44}{'p50 ms':>8}{'p99 ms':>8}{'x healthz':>10}{'x prims':>9}"
        f"{'build ms':>9}{'x skin':>8}{'KB':>6}",
    ]
    raw = ip["raw"]["p50"]
    for name, r in sv.items():
        ms = r["ms"]
        build = r.get("server_build_ms", {}).get("p50")
        if name.startswith("proxies, cached"):
            build_s = f"{'cached':>9}{'':>8}"
        elif build is not None:
            build_s = f"{build:>9.1f}{harness.ratio(build, raw):>7.1f}x"
        else:
            build_s = f"{'':>17}"
        p99 = f"{ms['p99']:>8.2f}" if ms["n"] > 1 else f"{'':>8}"
        lines.append(
            f"  {name:44}{ms['p50']:>8.2f}{p99}{harness.ratio(ms['p50'], healthz):>9.1f}x"
            f"{harness.ratio(ms['p50'], prims):>8.1f}x{build_s}{r['bytes'] / 1e3:>6.0f}"
        )
    sk = ip["skinned"]
    raw_label = f"raw UsdSkel skinning (~{sk['meshes']} meshes, ~{sk['points']} points)"
    lines += [
        "  build ms: the build_ms the server put in the payload (built on its event loop);",
        "  x skin: that build against the raw UsdSkel skinning of the same meshes (section 2)",
        "",
        "2. In-process (same stage, no server; the looks alternate as above; median ms)",
        f"  {'':52}{'ms':>8}{'x raw skinning':>16}",
        f"  {raw_label:52}{raw:>8.2f}{1.0:>15.1f}x",
        f"  {'  of which ComputeSkinnedPoints':52}{ip['raw_skin_only']['p50']:>8.2f}"
        f"{harness.ratio(ip['raw_skin_only']['p50'], raw):>15.1f}x",
    ]
    for key, label in (
        ("pose", "ProxyBuilder.build + pack, after a pose"),
        ("wardrobe", "ProxyBuilder.build + pack, after a wardrobe switch"),
        ("cold", "ProxyBuilder.build + pack, cold (fresh builder)"),
    ):
        p50 = ip[key]["p50"]
        lines.append(f"  {label:52}{p50:>8.2f}{harness.ratio(p50, raw):>15.1f}x")
    lines += [
        "",
        "3. Payload: proxies vs the full-resolution meshes in the same encoding",
        f"  {'look':24}{'meshes':>7}{'proxy KB':>10}{'full KB':>9}{'proxy/full':>11}"
        f"{'triangles':>18}{'vertices':>16}",
    ]
    for look, pay in ip["payload"].items():
        lines.append(
            f"  {look:24}{pay['meshes']:>7}{pay['proxies_bytes'] / 1e3:>10.0f}"
            f"{pay['full_bytes'] / 1e3:>9.0f}"
            f"{harness.ratio(pay['proxies_bytes'], pay['full_bytes']):>11.2f}"
            f"{pay['proxies_triangles']:>9} / {pay['full_triangles']:<6}"
            f"{pay['proxies_vertices']:>7} / {pay['full_vertices']}"
        )
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=20, help="samples per row (median)")
    p.add_argument("--fresh-rooms", type=int, default=3, help="rooms opened for cold calls")
    p.add_argument("--tmp", default=None, help="parent dir for the data dir (default: temp)")
    p.add_argument("--out", default=str(RESULTS_FILE), help="JSON results file")
    args = p.parse_args(argv)
    if args.n < 1 or args.fresh_rooms < 1:
        p.error("--n and --fresh-rooms must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    report: dict[str, Any] = {
        "benchmark": "proxies",
        "date": started.isoformat(timespec="seconds"),
        "machine": harness.machine(),
        "args": {"n": args.n, "fresh_rooms": args.fresh_rooms},
    }
    print("1. server round trips ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="twinstudio-proxies-bench-", dir=args.tmp) as tmp:
        report["server"] = bench_server(args, Path(tmp))
    print("2. in-process build ...", flush=True)
    report["in_process"] = bench_in_process(args)
    return harness.write_report(report, table, args.out, started, default=_json)


def _json(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


if __name__ == "__main__":
    sys.exit(main())
