"""Property: whatever the interleaving, every replica converges to the server's stage.

Three writers send random op streams at the same time over real sockets (they
do not wait for each other), a reader watches; afterwards every replica and the
server's own export hold identical values for everything a room can edit.
"""

from __future__ import annotations

import asyncio
import itertools
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pxr import Usd, UsdSkel

from conftest import ServerProcess, free_port
from twinstudio.assets.joint_limits import from_euler_offset, rest_rotations
from twinstudio.client import AsyncSession, StudioError, aconnect

LIGHTS = ["/Studio/Lights/Key", "/Studio/Lights/Fill", "/Studio/Lights/Rim"]
NEW = ["/Studio/Lights/A", "/Studio/Lights/B"]
JOINTS = ["upperarm_l", "upperarm_r", "head", "spine_02"]
_TWIN = Usd.Stage.Open(str(Path(__file__).resolve().parents[2] / "stages" / "twin" / "twin.usdc"))
REST = {
    t.rsplit("/", 1)[-1]: q
    for t, q in rest_rotations(
        UsdSkel.Skeleton(next(p for p in _TWIN.Traverse() if p.IsA(UsdSkel.Skeleton)))
    ).items()
}


def _bent(joint: str, degrees: float) -> list[float]:
    """``joint`` bent ``degrees`` from rest about its hinge (within every joint's limits)."""
    return list(from_euler_offset(REST[joint], degrees, 0.0, 0.0))


value = st.floats(0.0, 100.0, allow_nan=False).map(lambda v: round(v, 3))
angle = st.floats(-90.0, 90.0, allow_nan=False).map(lambda v: round(v, 2))


def _set(path: str, attr: str, v: float) -> dict[str, Any]:
    return {"op": "set", "path": path, "attr": attr, "value": v}


ANY_LIGHT = st.sampled_from(LIGHTS + NEW)
ops = st.one_of(
    st.builds(lambda p, v: _set(p, "inputs:intensity", v), ANY_LIGHT, value),
    st.builds(lambda p, v: _set(p, "inputs:exposure", v / 10), st.sampled_from(LIGHTS), value),
    st.builds(lambda v: _set("/Studio/Cameras/Hero", "focalLength", v + 10), value),
    st.builds(lambda p, r: {"op": "xform", "path": p, "rotate": [0.0, r, 0.0]}, ANY_LIGHT, angle),
    st.builds(
        lambda s: {"op": "variant", "path": "/Studio/Twin", "set": "wardrobe", "selection": s},
        st.sampled_from(["studio_basics", "evening"]),
    ),
    st.builds(
        lambda j, a: {"op": "pose", "path": "/Studio/Twin", "rotations": {j: _bent(j, a / 5)}},
        st.sampled_from(JOINTS),
        angle,
    ),
    st.builds(lambda p: {"op": "create", "path": p, "type": "SphereLight"}, st.sampled_from(NEW)),
    st.builds(lambda p: {"op": "delete", "path": p}, st.sampled_from([*NEW, "/Studio/Lights/Rim"])),
    st.just("undo"),
    st.just("redo"),
)
streams = st.lists(st.lists(ops, min_size=1, max_size=12), min_size=3, max_size=3)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("conv") / "data", free_port(), fsync="never"
    ).start()
    try:
        yield proc
    finally:
        proc.stop()


_rooms = itertools.count()


def editable_state(stage: Usd.Stage) -> dict[str, Any]:
    """Everything ops can change, read from a composed stage."""
    out: dict[str, Any] = {}
    for prim in stage.Traverse():  # active prims only: a flattened export drops deleted ones
        path = str(prim.GetPath())
        if not path.startswith(
            ("/Studio/Lights", "/Studio/Cameras", "/Studio/Twin/Pose", "/Studio/Twin/Wardrobe")
        ):
            continue
        out[f"{path}(type)"] = prim.GetTypeName()
        for attr in prim.GetAttributes():
            if attr.HasAuthoredValue() and attr.GetTypeName() not in (
                "point3f[]",
                "normal3f[]",
                "int[]",
                "float[]",
            ):
                out[str(attr.GetPath())] = str(attr.Get())
    # the wardrobe look shows as the garments under /Studio/Twin/Wardrobe (exports are flattened)
    return out


async def run_writer(session: AsyncSession, stream: list[Any]) -> None:
    for op in stream:
        try:
            if op == "undo":
                await session.undo()
            elif op == "redo":
                await session.redo()
            else:
                await session.submit(op)
        except StudioError:
            pass  # refused ops (a prim that exists, nothing to undo) change nothing


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(streams=streams)
def test_replicas_converge(
    shared_server: ServerProcess, streams: list[list[Any]], tmp_path: Path
) -> None:
    room = f"conv{next(_rooms)}"

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        writers = [
            await aconnect(shared_server.url, room, shared_server.token("editor", room=room))
            for _ in streams
        ]
        reader = await aconnect(shared_server.url, room, shared_server.token("reviewer", room=room))
        try:
            await asyncio.gather(*(run_writer(w, s) for w, s in zip(writers, streams, strict=True)))
            final = max(w.seq for w in writers)
            for s in (*writers, reader):
                await s.wait_for(final, timeout=20)
            late = await aconnect(
                shared_server.url, room, shared_server.token("reviewer", room=room)
            )
            await late.close()
            return [editable_state(s.stage) for s in (*writers, reader, late)], final
        finally:
            for s in (*writers, reader):
                await s.close()

    states, _ = asyncio.run(scenario())
    token = shared_server.token("owner", room=room)
    req = urllib.request.Request(f"{shared_server.url}/api/rooms/{room}/export.usda")
    req.add_header("Authorization", f"Bearer {token}")
    export = tmp_path / f"{room}.usda"
    with urllib.request.urlopen(req, timeout=20) as r:
        export.write_bytes(r.read())
    server_state = editable_state(Usd.Stage.Open(str(export)))
    for state in states:
        assert state == server_state
