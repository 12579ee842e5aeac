"""The benchmarks in bench/ still run, with quick settings. No timing is asserted: only that
each one measures what its table says (edits accepted, proxies rebuilt, meshes re-skinned)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"


def run_bench(script: str, out: Path, *args: str) -> dict[str, Any]:
    cmd = [sys.executable, str(BENCH / script), *args, "--out", str(out)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def load_bench(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import bench/<name>.py under a private name (its helpers import ``harness``)."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_proxies_bench_measures_rebuilds_against_baselines(tmp_path: Path) -> None:
    report = run_bench(
        "proxies.py", tmp_path / "proxies.json", "--n", "2", "--fresh-rooms", "1",
        "--tmp", str(tmp_path),
    )  # fmt: skip
    server = report["server"]
    assert {"healthz", "prims"} <= set(server)
    after_edits = [row for name, row in server.items() if name.startswith("proxies after")]
    assert len(after_edits) == 3
    for row in after_edits:  # each was built for its edit's seq, so it carries a build time
        assert row["ms"]["n"] == 2 and row["server_build_ms"]["p50"] > 0
    for payload in report["in_process"]["payload"].values():
        assert 0 < payload["proxies_triangles"] < payload["full_triangles"]
        assert 0 < payload["proxies_bytes"] < payload["full_bytes"]


def test_posing_bench_sends_accepted_ops_of_every_kind(tmp_path: Path) -> None:
    report = run_bench("posing.py", tmp_path / "posing.json", "--n", "2")
    receive = report["receive"]
    assert len(receive) == 4 and all(row["n"] == 2 for row in receive.values())
    one = next(row for name, row in receive.items() if name.startswith("pose, one joint"))
    preset = next(row for name, row in receive.items() if name.startswith("pose, preset"))
    assert preset["record_bytes"] > one["record_bytes"]  # journaled expanded, every joint


def test_render_bench_scene_sync_reskins_for_poses(monkeypatch: pytest.MonkeyPatch) -> None:
    render = load_bench("render", monkeypatch)
    sync = render.bench_sync(argparse.Namespace(sync_n=1, builds=1))
    edits = sync["edits"]
    assert edits["light (Key intensity)"]["meshes_rebuilt"] == 0
    poses = [e for name, e in edits.items() if name.startswith("pose")]
    assert len(poses) == 2 and all(e["meshes_rebuilt"] > 0 for e in poses)
