"""schemas/protocol.schema.json against real traffic.

A real server runs in-process on loopback; real Python clients (plus a few raw
websocket frames for what the client API does not send) drive every feature.
The server's ``trace`` hook records every decoded message in both directions;
each must validate, and every message, op and action the schema defines must have
been seen, so the schema neither misses nor invents protocol.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import msgpack
import numpy as np
import pytest
import simplejpeg
import websockets
from aiohttp import web

from twinstudio.auth import TokenAuthority
from twinstudio.client import AsyncSession, StudioError, aconnect
from twinstudio.protocol_schema import SCHEMA_PATH, load_schema, validate_message
from twinstudio.rooms.journal import FsyncPolicy
from twinstudio.rooms.studio import Studio
from twinstudio.stage import ops as O
from twinstudio.transport.server import StudioServer

STAGES = Path(__file__).resolve().parents[2] / "stages"
KEY = "/Studio/Lights/Key"
FILL = "/Studio/Lights/Fill"
RIM = "/Studio/Lights/Rim"
HERO = "/Studio/Cameras/Hero"
TWIN = "/Studio/Twin"

EVENTS = ("op", "note", "take", "settings", "job")  # the messages that carry an event seq
Record = tuple[str, str, dict[str, Any]]  # (direction, conn, message)


# -- helpers -----------------------------------------------------------------------------


def validator_for(name: str) -> jsonschema.Draft202012Validator:
    """A validator for ``$defs/name`` that resolves references against the whole schema."""
    return jsonschema.Draft202012Validator({**load_schema(), "$ref": f"#/$defs/{name}"})


def leaf_messages(name: str) -> list[str]:
    """The message definitions an entry point (or a per-action union) expands to."""
    d = load_schema()["$defs"][name]
    if "oneOf" in d and all("$ref" in v for v in d["oneOf"]):
        return [n for v in d["oneOf"] for n in leaf_messages(v["$ref"].rsplit("/", 1)[-1])]
    return [name]


def walk_ops(op: Any) -> Iterator[dict[str, Any]]:
    """``op`` and every op nested in it."""
    if isinstance(op, dict):
        yield op
        for sub in op.get("ops", []) if op.get("op") == "batch" else []:
            yield from walk_ops(sub)


async def until(predicate: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it is truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class Live:
    port: int
    auth: TokenAuthority
    trace: list[Record] = field(default_factory=list)
    sessions: list[AsyncSession] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/rooms/default/ws?token={token}"

    async def join(self, role: str, name: str) -> AsyncSession:
        token = self.auth.issue("default", role, name=name)
        session = await aconnect(self.url, room="default", token=token, name=name)
        self.sessions.append(session)
        return session

    def seen(self, direction: str, kind: str, **fields: Any) -> bool:
        return any(
            d == direction
            and m.get("type") == kind
            and all(m.get(k) == v for k, v in fields.items())
            for d, _, m in self.trace
        )

    def messages(self, direction: str) -> list[dict[str, Any]]:
        return [m for d, _, m in self.trace if d == direction]


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Live]:
    monkeypatch.setenv("TWINSTUDIO_CACHE", str(tmp_path / "cache"))
    studio = Studio(tmp_path / "data", STAGES, fsync=FsyncPolicy.NEVER)
    auth = TokenAuthority(b"protocol-schema-test-secret-0123456789")
    server = StudioServer(studio, auth)
    trace: list[Record] = []

    def record(direction: str, conn: str, message: dict[str, Any]) -> None:
        if direction == "out":  # what the receiver decodes: msgpack turns tuples into lists
            message = msgpack.unpackb(msgpack.packb(message, use_bin_type=True), raw=False)
        trace.append((direction, conn, copy.deepcopy(message)))

    server.trace = record
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state = Live(port, auth, trace)
    try:
        yield state
    finally:
        for session in state.sessions:
            await session.close()
        await runner.cleanup()


async def raw_join(live: Live, hello: dict[str, Any], role: str = "editor") -> list[dict[str, Any]]:
    """Join with a bare websocket; return what arrived up to the snapshot/state (or the error)."""
    got: list[dict[str, Any]] = []
    async with websockets.connect(live.ws_url(live.auth.issue("default", role))) as ws:
        await ws.send(msgpack.packb(hello, use_bin_type=True))
        while not got or got[-1]["type"] not in ("snapshot", "state", "error"):
            got.append(msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5), raw=False))
    return got


async def upload_png(live: Live, job_id: str, token: str) -> int:
    """Upload a real PNG as the render node would; return the HTTP status."""
    import io

    import aiohttp
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 100, 50)).save(buf, format="PNG")
    url = f"http://127.0.0.1:{live.port}/api/rooms/default/renders/{job_id}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=buf.getvalue(), headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        return resp.status


async def send_raw(session: AsyncSession, msg: dict[str, Any]) -> None:
    await session._ws.send(msgpack.packb(msg, use_bin_type=True))


# -- the schema itself -------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert SCHEMA_PATH.name == "protocol.schema.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    defs = schema["$defs"]
    for entry in ("ClientMessage", "ServerMessage"):
        assert "oneOf" in defs[entry]
        for name in leaf_messages(entry):
            assert defs[name].get("description"), f"{name} needs a description"
    assert defs["ClientHelloMessage"]["properties"]["protocol"] == {"const": 1}
    assert defs["ServerWelcomeMessage"]["properties"]["protocol"] == {"const": 1}


# -- real traffic ------------------------------------------------------------------------


async def test_real_traffic_matches_schema(live: Live) -> None:
    owner = await live.join("owner", "Ana")
    editor = await live.join("editor", "Ben")
    reviewer = await live.join("reviewer", "Rita")

    # Property, transform, light, lens, variant and pose edits.
    await owner.set(KEY, "inputs:intensity", 25.0)
    await owner.clear(KEY, "inputs:intensity")
    await owner.transform(FILL, translate=(2.0, 1.4, 2.0), rotate=(0.0, 45.0, 0.0))
    await owner.set_light(KEY, intensity=30.0, temperature=4500.0)  # a batch
    await editor.set_light(KEY, exposure=0.5)  # a single set
    await editor.set_lens(HERO, focal_length=85.0, f_stop=2.8)
    await owner.select_variant(TWIN, "wardrobe", "evening")
    await owner.select_variant(TWIN, "wardrobe", None)
    await owner.pose(TWIN, preset="walking")
    await owner.pose(TWIN, offsets={"upperarm_l": (30.0, 0.0, 0.0)})
    for x in (0.1, 0.2):  # one drag: a single undo step
        await owner.submit(O.SetTransform(FILL, translate=(x, 1.4, 2.0)), merge="drag-1")

    # An explicit batch; its undo is a batch with a nested batch (the xform's inverse).
    async with owner.batch("Arrange"):
        await owner.set(RIM, "inputs:intensity", 120.0)
        await owner.transform(RIM, scale=(1.0, 1.0, 1.0))
    await owner.undo()
    await owner.redo()

    # Structural edits; undoing the delete brings the prim back with a restore op.
    await owner.submit(O.CreatePrim("/Studio/Set/Box", "Xform", "props/apple_box.usda"))
    await owner.submit(O.RenamePrim("/Studio/Set/Box", "Crate"))
    await owner.submit(O.ReparentPrim("/Studio/Set/Crate", "/Studio/Lights"))
    await owner.submit(O.DeletePrim("/Studio/Lights/Crate"))
    await owner.wait_for(await owner.undo())
    assert owner.stage.GetPrimAtPath("/Studio/Lights/Crate")
    await owner.wait_for(await owner.redo())

    # Locks: a held lock refuses others' edits and locks.
    await editor.lock(RIM)
    await until(lambda: [lk["path"] for lk in owner.locks] == [RIM], "the locks broadcast")
    with pytest.raises(StudioError) as refused:
        await owner.set(RIM, "inputs:intensity", 10.0)
    assert refused.value.code == "locked"
    with pytest.raises(StudioError) as refused:  # overlaps the editor's lock
        await owner.lock("/Studio/Lights")
    assert refused.value.code == "locked"
    await editor.unlock(RIM)

    # Presence.
    await owner.set_presence([TWIN], dragging=TWIN)
    await until(
        lambda: any(m["selection"] == [TWIN] for m in editor.members), "the presence broadcast"
    )
    await owner.set_presence(dragging=None)
    await until(lambda: live.seen("in", "presence", dragging=None), "the second presence")

    # Notes: add, reply, resolve, reopen.
    note = await reviewer.add_note(
        "Lift the hem", path=TWIN, camera=HERO, x=0.5, y=0.4, frame_seq=reviewer.seq
    )
    await owner.reply_note(note, "On it")
    await reviewer.resolve_note(note)
    await reviewer.resolve_note(note, resolved=False)
    await until(lambda: owner.notes.get(note, {}).get("resolved") is False, "the reopen")

    # Refused and invalid edits.
    with pytest.raises(StudioError) as refused:
        await reviewer.set(KEY, "inputs:intensity", 1.0)
    assert refused.value.code == "forbidden"
    with pytest.raises(StudioError) as refused:
        await owner.set(KEY, "inputs:intensity", -1.0)
    assert refused.value.code == "out_of_range"
    with pytest.raises(StudioError) as refused:  # batch member 1 fails: error 'index'
        await owner.submit(
            O.Batch(
                "bad",
                (O.SetProperty(KEY, "inputs:exposure", 1.0), O.ClearProperty(KEY, "inputs:nope")),
            )
        )
    assert refused.value.code == "property_not_found"
    with pytest.raises(StudioError) as refused:  # not in the schema: the server refuses it too
        await owner.submit({"op": "explode", "path": "/Studio"})
    assert refused.value.code == "unknown_op"

    # Takes: save, diff, restore, list, delete.
    await owner.save_take("first")
    await owner.set(KEY, "inputs:intensity", 42.0)
    changes = await editor.diff_takes("first")
    assert any(c["key"] == f"{KEY}.inputs:intensity" for c in changes)
    await owner.restore_take("first")
    await send_raw(owner, {"type": "take", "action": "list", "id": "list-1"})
    await until(lambda: live.seen("out", "takes"), "the takes list")
    await owner.request({"type": "take", "action": "delete", "name": "first"})
    await until(lambda: "first" not in editor.takes, "the take delete broadcast")

    # Review settings, and a render node's frame (a real JPEG) fanned out to viewers.
    await owner.set_review(fps=10.0, width=640, height=360)
    render = await live.join("render", "Node")
    jpeg = simplejpeg.encode_jpeg(np.full((36, 64, 3), 128, np.uint8), quality=80)
    frame = {
        **{"type": "frame", "seq": owner.seq, "camera": "/Studio/Cameras/Hero"},
        **{"width": 64, "height": 36, "render_ms": 12.5, "encode_ms": 0.4},
        **{"refined": True, "jpeg": jpeg},
    }
    await send_raw(render, frame)
    got = await reviewer.next_frame(timeout=10)
    assert got.jpeg == jpeg and got.seq == owner.seq and got.node == "Node"

    # A final render: submitted, assigned to the render node, progress, a failure and retry,
    # then cancelled (completion is an HTTP upload, covered by the render tests).
    await owner.request({"type": "job", "action": "submit", "width": 64, "height": 64})
    await until(lambda: live.seen("out", "job_assign"), "the job assignment")
    job_id = next(m for m in live.messages("out") if m["type"] == "job_assign")["job"]["id"]
    await send_raw(render, {"type": "job", "action": "progress", "job_id": job_id, "progress": 0.5})
    await until(lambda: live.seen("out", "job_update"), "a job update")
    await send_raw(render, {"type": "job", "action": "fail", "job_id": job_id, "error": "GL lost"})
    await until(lambda: live.seen("out", "job", action="fail"), "the job failure event")
    await owner.request({"type": "job", "action": "cancel", "job_id": job_id})

    # a batch of two, both uploaded by the node: each completes, then the contact sheet
    def assignments() -> list[dict[str, Any]]:
        return [m for m in live.messages("out") if m["type"] == "job_assign"]

    before = len(assignments())
    await owner.request(
        {"type": "job", "action": "submit", "width": 64, "height": 64, "looks": ["a", "b"]}
    )
    token = live.auth.issue("default", "render", user=render.member["user"])
    for n in (before + 1, before + 2):
        await until(lambda n=n: len(assignments()) >= n, "an assignment")  # type: ignore[misc]
        assign = assignments()[n - 1]
        status = await upload_png(live, assign["job"]["id"], token)
        assert status == 200
    await until(lambda: live.seen("out", "contact_sheet"), "the contact sheet")

    # Ping, and a message type the server does not know.
    await send_raw(editor, {"type": "ping", "t": 1234.5})
    await until(lambda: live.seen("out", "pong", t=1234.5), "the pong")
    await send_raw(editor, {"type": "frobnicate", "id": "bad-1"})
    await until(lambda: live.seen("out", "error", code="unknown_message"), "unknown_message")

    # Reconnect with last_seq: the server replays what was missed, then sends 'state'.
    before = editor.reconnects
    await editor._ws.close()
    await until(lambda: editor.reconnects > before, "the editor's reconnect", timeout=10)
    new_conn = editor.member["conn"]
    assert any(d == "out" and c == new_conn and m["type"] == "state" for d, c, m in live.trace)
    assert await editor.set(KEY, "inputs:exposure", 1.5) > 0  # the session works again

    # Bare websockets: a snapshot join, a replay of missed events, a refused protocol.
    first = await raw_join(live, {"type": "hello", "protocol": 1, "name": "Raw", "client": "raw"})
    assert [m["type"] for m in first] == ["welcome", "snapshot"]
    last = first[0]["seq"]
    await owner.set(KEY, "inputs:intensity", 7.0)
    await owner.set(KEY, "inputs:exposure", 0.25)
    again = await raw_join(live, {"type": "hello", "protocol": 1, "last_seq": last})
    assert [m["type"] for m in again] == ["welcome", "op", "op", "state"]
    assert [m["seq"] for m in again[1:3]] == [last + 1, last + 2]
    refused_hello = await raw_join(live, {"type": "hello", "protocol": 2})
    assert refused_hello[-1]["code"] == "protocol_unsupported"

    for session in live.sessions:
        await session.close()
    live.sessions.clear()
    check_trace(live)


def check_trace(live: Live) -> None:
    schema = load_schema()
    entry = {"in": validator_for("ClientMessage"), "out": validator_for("ServerMessage")}
    direction = {"in": "client", "out": "server"}
    invalid: list[tuple[str, dict[str, Any], str]] = []
    for d, _, message in live.trace:
        ok = entry[d].is_valid(message)
        try:
            validate_message(direction[d], message)  # type: ignore[arg-type]
        except jsonschema.ValidationError as exc:
            assert not ok, f"the loader and the schema disagree on {message}"
            invalid.append((d, message, f"{list(exc.absolute_path)}: {exc.message}"))
        else:
            assert ok, f"the loader and the schema disagree on {message}"
    bad_out = [(m, why) for d, m, why in invalid if d == "out"]
    assert not bad_out, f"{len(bad_out)} server messages fail the schema; first: {bad_out[0]}"
    # Exactly the client messages sent to be wrong fail (the server refused each of them).
    kinds = sorted(
        m["op"]["op"] if m["type"] == "op" else f"{m['type']}:{m.get('protocol')}"
        for _, m, _ in invalid
    )
    assert kinds == ["explode", "frobnicate:None", "hello:2"], invalid

    # Every message the schema defines was seen in its direction.
    for d, name in (("in", "ClientMessage"), ("out", "ServerMessage")):
        msgs = live.messages(d)
        for leaf in leaf_messages(name):
            v = validator_for(leaf)
            assert any(v.is_valid(m) for m in msgs), f"no {leaf} was seen on the wire"

    # Every op the schema defines was seen, as sent by a client or broadcast by the server.
    ops = [
        op
        for m in live.messages("in") + live.messages("out")
        if m.get("type") == "op" and "op" in m
        for op in walk_ops(m["op"])
    ]
    op_defs = [
        n for n, d in schema["$defs"].items() if "const" in d.get("properties", {}).get("op", {})
    ]
    assert len(op_defs) == 12
    for name in op_defs:
        v = validator_for(name)
        assert any(v.is_valid(op) for op in ops), f"no {name} was seen on the wire"
    nested_batches = [
        sub
        for m in live.messages("out")
        if m.get("type") == "op"
        for sub in list(walk_ops(m["op"]))[1:]
        if sub.get("op") == "batch"
    ]
    assert nested_batches, "expected a nested batch (the undo of a batch with an xform)"

    # An op's ack follows its broadcast (replays to a reconnecting client come later).
    out_msgs = live.messages("out")
    op_index: dict[str, int] = {}
    for i, m in enumerate(out_msgs):
        if m["type"] == "op" and m["id"] is not None:
            op_index.setdefault(m["id"], i)
    acks = [
        (op_index[m["id"]], i)
        for i, m in enumerate(out_msgs)
        if m["type"] == "ack" and m["id"] in op_index
    ]
    assert len(acks) > 20 and all(op < ack for op, ack in acks)
    broadcast_seqs = [
        m["seq"] for d, c, m in live.trace if d == "out" and c == "*" and m["type"] in EVENTS
    ]
    assert broadcast_seqs == sorted(broadcast_seqs)
    assert broadcast_seqs == list(range(1, len(broadcast_seqs) + 1))

    # Every enumerated action and step was seen.
    out = live.messages("out")
    inbound = live.messages("in")
    assert {m["step"] for m in out if m["type"] == "op"} == {"do", "undo", "redo"}
    assert {m["action"] for m in out if m["type"] == "note"} == {
        "add",
        "reply",
        "resolve",
        "reopen",
    }
    assert {m["action"] for m in out if m["type"] == "take"} == {"save", "delete"}
    assert {m["action"] for m in inbound if m.get("type") == "take"} == {
        "save",
        "restore",
        "delete",
        "list",
        "diff",
    }
    roles = {m["role"] for p in out if p["type"] == "presence" for m in p["members"]}
    assert roles == {"owner", "editor", "reviewer", "render"}
    assert any(m["type"] == "error" and "index" in m for m in out)
    codes = {m["code"] for m in out if m["type"] == "error"}
    assert {"forbidden", "locked", "out_of_range", "unknown_op", "unknown_message"} <= codes
    assert "protocol_unsupported" in codes


# -- negative checks ---------------------------------------------------------------------


def _op(op: dict[str, Any]) -> dict[str, Any]:
    return {"type": "op", "id": "x-1", "op": op}


@pytest.mark.parametrize(
    ("direction", "message", "complaint"),
    [
        ("client", {"protocol": 1}, "'type'"),
        ("server", {"seq": 3, "id": "x-1"}, "'type'"),
        ("client", {"type": "frobnicate"}, "not a client message type"),
        ("server", {"type": "ack", "id": "x-1", "seq": "3"}, "'3' is not of type 'integer'"),
        ("server", {"type": "welcome", "protocol": 1, "room": "default", "seq": 2.5}, ""),
        ("client", {"type": "hello", "protocol": 2}, "1 was expected"),
        ("client", {"type": "undo", "id": 7}, "not of type 'string'"),
        ("client", _op({"op": "explode", "path": "/A"}), "not a known 'op'"),
        ("client", _op({"op": "restore", "path": "/", "layer": None}), "not a known 'op'"),
        (
            "client",
            _op({"op": "pose", "path": TWIN, "rotations": {"upperarm_l": [1.0, 0.0, 0.0]}}),
            "too short",
        ),
        ("client", _op({"op": "xform", "path": FILL, "rotate": [0, 1, 2, 3]}), "too long"),
        ("client", _op({"op": "xform", "path": FILL}), ""),
        ("client", _op({"op": "pose", "path": TWIN}), ""),  # neither rotations nor a preset
        ("client", _op({"op": "pose", "path": TWIN, "preset": ""}), "non-empty"),
        ("client", _op({"op": "set", "path": KEY, "attr": "inputs:intensity"}), "'value'"),
        ("client", _op({"op": "set", "path": "Key", "attr": "a", "value": 1}), "does not match"),
        (
            "client",
            _op({"op": "batch", "label": "b", "ops": [{"op": "batch", "label": "c", "ops": []}]}),
            "not a known 'op'",
        ),
        ("client", {"type": "note", "action": "add", "text": "x", "anchor": {"x": 0.5}}, "'y'"),
        ("client", {"type": "note", "action": "add", "text": "  ", "anchor": {"path": "/A"}}, ""),
        ("client", {"type": "take", "action": "rename", "name": "a"}, "not a known 'action'"),
        ("client", {"type": "presence", "selection": "/Studio"}, "not of type 'array'"),
        (
            "server",
            {
                "type": "op",
                "seq": 4,
                "author": "u",
                "name": "U",
                "id": None,
                "op": {"op": "pose", "path": TWIN, "rotations": {"pelvis": [1, 0, 0]}},
                "step": "do",
                "label": "pose Twin",
                "merge": None,
            },
            "too short",
        ),
        ("server", {"type": "locks", "locks": [], "extra": True}, "Additional properties"),
        ("server", {"type": "take", "seq": 5, "action": "restore", "take": {}}, ""),
    ],
)
def test_malformed_messages_fail(direction: str, message: dict[str, Any], complaint: str) -> None:
    with pytest.raises(jsonschema.ValidationError) as error:
        validate_message(direction, message)  # type: ignore[arg-type]
    assert complaint in error.value.message
    entry = "ClientMessage" if direction == "client" else "ServerMessage"
    assert not validator_for(entry).is_valid(message)


def test_well_formed_examples_pass() -> None:
    validate_message("client", {"type": "hello", "protocol": 1})
    validate_message("client", {"type": "ping"})
    validate_message("client", {"type": "take", "action": "diff", "a": None, "b": "t1"})
    validate_message(
        "client", _op({"op": "pose", "path": TWIN, "rotations": {"upperarm_l": [1, 0, 0, 0]}})
    )
    validate_message("client", _op({"op": "pose", "path": TWIN, "preset": "walking"}))
    validate_message("server", {"type": "pong", "t": None, "seq": 0})
    validate_message("server", {"type": "error", "code": "forbidden", "message": "no"})
