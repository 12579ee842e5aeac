"""Posing the real twin: what a ``pose`` op costs the room, against a plain light ``set``.

In-process, on the default shot (``stages/default_shot.usda``: the MPFB2 twin, 53 joints),
see bench/README.md:

1. ``Room.receive`` (validate, expand a preset, check joint limits, apply to USD, journal
   in memory, build the replies) and ``StageEditor.apply`` (validate and apply only) of:
   a light ``set`` (the baseline), a ``pose`` of one joint, a ``pose`` of every joint as
   explicit rotations, and a ``pose`` ``preset`` (expanded to every joint). The kinds are
   interleaved op by op, so the machine's drift hits them alike; medians and ratios to
   the light ``set`` of the same run;
2. the parts of a preset pose on their own: expanding the preset, finding the skeleton's
   limits (``posing.limits_of``) and checking all joints against them.

The render scene's re-skin per pose is ``bench/render.py``'s section 3. Prints a table
and writes JSON to bench/results/posing-latest.json.

Usage::

    .venv/bin/python bench/posing.py [--n 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import Any

import msgpack

import harness

STAGES = harness.REPO / "stages"
RESULTS_FILE = harness.REPO / "bench" / "results" / "posing-latest.json"
ROOM = "default"
TWIN = "/Studio/Twin"
KEY = "/Studio/Lights/Key"
POSE_JOINT = "upperarm_l"
BASELINE = "set (Key intensity)"


def wire_ops(stage: Any) -> dict[str, Callable[[int], dict[str, Any]]]:
    """Op kind -> the k-th op of that kind (wire form), each a real change."""
    from twinstudio.client.posing import offset_rotations
    from twinstudio.stage import posing

    anim = posing.posed_animation(stage.GetPrimAtPath(TWIN))
    names = [p.name for p in posing.presets(stage.GetPrimAtPath(TWIN))]
    arm = [
        offset_rotations(stage, TWIN, {POSE_JOINT: (0.0, 0.0, 10.0 + 5.0 * k)}) for k in range(8)
    ]
    every = [{token: list(q) for token, q in posing.preset_rotations(anim, name)} for name in names]
    return {
        BASELINE: lambda k: {
            "op": "set", "path": KEY, "attr": "inputs:intensity", "value": 15.0 + k % 10,
        },
        f"pose, one joint ({POSE_JOINT})": lambda k: {
            "op": "pose", "path": TWIN, "rotations": arm[k % len(arm)],
        },
        f"pose, all {len(every[0])} joints as rotations": lambda k: {
            "op": "pose", "path": TWIN, "rotations": every[k % len(every)],
        },
        "pose, preset (expands to all joints)": lambda k: {
            "op": "pose", "path": TWIN, "preset": names[k % len(names)],
        },
    }  # fmt: skip


def bench_receive(n: int) -> dict[str, Any]:
    """µs per ``Room.receive`` of each op kind, interleaved; the journal is in memory."""
    from twinstudio.auth import Grant
    from twinstudio.rooms.journal import MemoryJournal
    from twinstudio.rooms.room import Room
    from twinstudio.rooms.studio import DEFAULT_SHOT
    from twinstudio.stage.composition import RoomStage

    room = Room(ROOM, RoomStage(STAGES, DEFAULT_SHOT), MemoryJournal())
    grant = Grant(ROOM, "editor", "u-bench", "Bench", time.time() + 3600)
    room.join("c1", grant, {"type": "hello", "protocol": 1, "name": "bench"})
    ops = wire_ops(room.room_stage.stage)
    samples: dict[str, list[float]] = {name: [] for name in ops}
    record_bytes: dict[str, int] = {}
    for k in range(n + 1):
        for name, make in ops.items():
            msg = {"type": "op", "id": f"{k}:{name}", "op": make(k)}
            t = time.perf_counter()
            sends = room.receive("c1", msg)
            elapsed = (time.perf_counter() - t) * 1e6
            if sends[0].message["type"] != "op":
                raise RuntimeError(f"the room refused {name}: {sends[0].message}")
            record_bytes[name] = len(msgpack.packb(sends[0].message, use_bin_type=True))
            if k:  # the first of each is a warm-up
                samples[name].append(elapsed)
    room.journal.close()
    return {
        name: {**harness.summary(v), "record_bytes": record_bytes[name]}
        for name, v in samples.items()
    }


def bench_apply(n: int) -> dict[str, Any]:
    """µs per ``StageEditor.apply`` (untrusted: validated, limits checked) of each op kind."""
    from twinstudio.rooms.studio import DEFAULT_SHOT
    from twinstudio.stage import posing
    from twinstudio.stage.composition import RoomStage
    from twinstudio.stage.editor import StageEditor
    from twinstudio.stage.ops import SetPose, op_from_wire

    room_stage = RoomStage(STAGES, DEFAULT_SHOT)
    editor = StageEditor(room_stage)
    ops = wire_ops(room_stage.stage)
    decoded = {name: [op_from_wire(make(k)) for k in range(8)] for name, make in ops.items()}
    preset_ops = decoded["pose, preset (expands to all joints)"]
    anim = posing.posed_animation(room_stage.stage.GetPrimAtPath(TWIN)).GetPrim()
    expanded = [editor.expand_presets(op) for op in preset_ops]

    def expand(k: int) -> None:
        editor.expand_presets(preset_ops[k % len(preset_ops)])

    def find_limits(_k: int) -> None:
        posing.limits_of(anim)

    limits = posing.limits_of(anim)
    assert limits is not None

    def check(k: int) -> None:
        op = expanded[k % len(expanded)]
        assert isinstance(op, SetPose)
        assert limits.check(dict(op.rotations)) is None

    def applier(ops: list[Any]) -> Callable[[int], Any]:
        return lambda k: editor.apply(ops[k % len(ops)])

    parts: dict[str, Callable[[int], Any]] = {name: applier(v) for name, v in decoded.items()}
    parts |= {
        "  expand_presets (preset -> rotations)": expand,
        "  posing.limits_of (find the skeleton's limits)": find_limits,
        f"  SkeletonLimits.check ({len(limits.limits)} limited joints)": check,
    }
    samples: dict[str, list[float]] = {name: [] for name in parts}
    for k in range(n + 1):
        for name, fn in parts.items():
            t = time.perf_counter()
            fn(k)
            if k:
                samples[name].append((time.perf_counter() - t) * 1e6)
    return {name: harness.summary(v) for name, v in samples.items()}


def table(report: dict[str, Any]) -> str:
    rc, ap = report["receive"], report["apply"]
    base_rc, base_ap = rc[BASELINE]["p50"], ap[BASELINE]["p50"]
    lines = [
        "",
        f"Posing the twin ({report['joints']} joints, default_shot.usda), in-process, "
        f"{report['args']['n']} ops per kind, interleaved",
        "",
        "1. Room.receive (validate, expand, limits, apply, memory journal, replies)",
        f"  {'':48}{'p50 us':>9}{'p99 us':>9}{'x set':>8}{'record B':>10}",
    ]
    for name, s in rc.items():
        lines.append(
            f"  {name:48}{s['p50']:>9.0f}{s['p99']:>9.0f}"
            f"{harness.ratio(s['p50'], base_rc):>7.1f}x{s['record_bytes']:>10}"
        )
    lines += [
        "",
        "2. StageEditor.apply (untrusted: validated, limits checked), and parts of a preset",
        f"  {'':48}{'p50 us':>9}{'p99 us':>9}{'x set':>8}",
    ]
    for name, s in ap.items():
        lines.append(
            f"  {name:48}{s['p50']:>9.0f}{s['p99']:>9.0f}{harness.ratio(s['p50'], base_ap):>7.1f}x"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=300, help="ops per kind (median)")
    p.add_argument("--out", default=str(RESULTS_FILE), help="JSON results file")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pxr import Usd

    started = dt.datetime.now(dt.UTC)
    shot = Usd.Stage.Open(str(STAGES / "default_shot.usda"))
    joints = len(shot.GetPrimAtPath(f"{TWIN}/Pose").GetAttribute("joints").Get())
    report: dict[str, Any] = {
        "benchmark": "posing",
        "date": started.isoformat(timespec="seconds"),
        "machine": harness.machine(),
        "args": {"n": args.n},
        "joints": joints,
    }
    print("1. Room.receive ...", flush=True)
    report["receive"] = bench_receive(args.n)
    print("2. StageEditor.apply ...", flush=True)
    report["apply"] = bench_apply(args.n)
    return harness.write_report(report, table, args.out, started)


if __name__ == "__main__":
    sys.exit(main())
