"""The aiohttp server over real loopback sockets: auth, origins, bad input, limits, REST."""

from __future__ import annotations

import contextlib
import io
import json
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from pxr import Usd
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from conftest import ServerProcess

KEY = "/Studio/Lights/Key"


def ws_url(server: ServerProcess, token: str, room: str = "default") -> str:
    return f"ws://127.0.0.1:{server.port}/rooms/{room}/ws?token={token}"


@pytest.fixture
def sockets() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def join(
    sockets: contextlib.ExitStack, server: ServerProcess, role: str = "owner", **headers: str
) -> ClientConnection:
    ws = sockets.enter_context(
        connect(
            ws_url(server, server.token(role)), additional_headers=headers or None, max_size=None
        )
    )
    ws.send(msgpack.packb({"type": "hello", "protocol": 1}))
    until(ws, "snapshot")
    return ws


def until(ws: ClientConnection, kind: str, **match: Any) -> dict[str, Any]:
    """Read messages until one of type ``kind`` (matching ``match``) arrives."""
    for _ in range(1000):
        msg = msgpack.unpackb(ws.recv(timeout=10), raw=False)
        if msg["type"] == kind and all(msg.get(k) == v for k, v in match.items()):
            return msg
    raise AssertionError(f"no {kind} message")


def send(ws: ClientConnection, msg: dict[str, Any]) -> None:
    ws.send(msgpack.packb(msg))


def http(
    server: ServerProcess, path: str, token: str | None = None, body: Any = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(server.url + path, method="POST" if body is not None else "GET")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_health(server: ServerProcess, sockets: contextlib.ExitStack) -> None:
    status, body = http(server, "/healthz")
    assert status == 200 and json.loads(body)["ok"] is True


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [("garbage", 401, "token_invalid"), ("", 401, "token_missing")],
)
def test_bad_tokens_are_refused_at_connect(
    server: ServerProcess, token: str, status: int, code: str
) -> None:
    with pytest.raises(InvalidStatus) as info, connect(ws_url(server, token)):
        pass
    assert info.value.response.status_code == status
    assert json.loads(info.value.response.body)["code"] == code


def test_expired_and_wrong_room_tokens_are_refused(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    from twinstudio.auth import TokenAuthority

    auth = TokenAuthority.from_data_dir(server.data)
    expired = auth.issue("default", "owner", ttl_seconds=60, now=1_000_000.0)
    with pytest.raises(InvalidStatus) as info, connect(ws_url(server, expired)):
        pass
    assert json.loads(info.value.response.body)["code"] == "token_expired"
    other_room = auth.issue("other", "owner")
    with pytest.raises(InvalidStatus) as info, connect(ws_url(server, other_room)):
        pass
    assert info.value.response.status_code == 403


def test_foreign_origin_is_refused_and_same_origin_accepted(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    evil = {"Origin": "https://evil.example"}
    with (
        pytest.raises(InvalidStatus) as info,
        connect(ws_url(server, server.token("owner")), additional_headers=evil),
    ):
        pass
    assert info.value.response.status_code == 403
    ws = join(sockets, server, Origin=f"http://127.0.0.1:{server.port}")
    ws.close()


def test_bad_input_gets_an_error_and_the_connection_stays(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    ws = join(sockets, server)
    other = join(sockets, server, "editor")
    ws.send(b"\xc1\xff not msgpack")
    assert until(ws, "error")["code"] == "malformed_message"
    ws.send("a text frame")
    assert until(ws, "error")["code"] == "malformed_message"
    send(ws, {"no": "type"})
    assert until(ws, "error")["code"] == "unknown_message"
    for value in (float("nan"), float("inf"), "bright", [1.0, 2.0]):
        send(
            ws,
            {
                "type": "op",
                "id": "x",
                "op": {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": value},
            },
        )
        assert until(ws, "error", id="x")["code"] in ("not_finite", "type_mismatch")
    big = [[0.0, 0.0, 0.0]] * 200_001
    send(
        ws,
        {
            "type": "op",
            "id": "big",
            "op": {"op": "set", "path": "/Studio/Twin/Pose", "attr": "translations", "value": big},
        },
    )
    assert until(ws, "error", id="big")["code"] in ("too_large", "identity_locked")
    send(
        ws,
        {
            "type": "op",
            "id": "t",
            "op": {
                "op": "create",
                "path": "/Studio/X",
                "type": "Xform",
                "reference": "../../../etc/passwd",
            },
        },
    )
    assert until(ws, "error", id="t")["code"] == "asset_path_outside_library"
    send(ws, {"type": "ping", "t": 1})
    assert until(ws, "pong")["seq"] == 0  # still connected, and nothing was applied
    send(other, {"type": "ping", "t": 2})
    assert until(other, "pong")["seq"] == 0  # nobody else's work was touched


def test_oversized_message_closes_with_1009(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    ws = join(sockets, server)
    ws.send(b"\x00" * (9 * 1024 * 1024))
    with pytest.raises(ConnectionClosed) as info:
        for _ in range(100):
            ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def test_flooding_is_rate_limited_without_disconnecting(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    ws = join(sockets, server)
    for i in range(1500):
        send(ws, {"type": "ping", "t": i})
    assert until(ws, "error")["code"] == "rate_limited"
    # drain, then the connection still works
    send_after = {"type": "take", "action": "list"}
    for _ in range(3000):
        try:
            msg = msgpack.unpackb(ws.recv(timeout=0.5), raw=False)
        except TimeoutError:
            break
        del msg
    send(ws, send_after)
    assert until(ws, "takes")["takes"] == []


def test_reviewer_edit_refused_over_the_socket_and_stays_connected(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    ws = join(sockets, server, "reviewer")
    send(
        ws,
        {
            "type": "op",
            "id": "r",
            "op": {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 1.0},
        },
    )
    assert until(ws, "error", id="r")["code"] == "forbidden"
    send(ws, {"type": "note", "id": "n", "action": "add", "text": "nice", "anchor": {"path": KEY}})
    assert until(ws, "ack", id="n")["seq"] == 1


def test_hello_must_come_first(server: ServerProcess, sockets: contextlib.ExitStack) -> None:
    ws = sockets.enter_context(connect(ws_url(server, server.token("owner"))))
    send(ws, {"type": "op", "id": "x", "op": {}})
    assert until(ws, "error")["code"] == "not_joined"
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=10)


def test_rest_api(server: ServerProcess, sockets: contextlib.ExitStack) -> None:
    owner, reviewer = server.token("owner"), server.token("reviewer")
    ws = join(sockets, server)
    send(
        ws,
        {
            "type": "op",
            "id": "a",
            "op": {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 33.0},
        },
    )
    until(ws, "ack", id="a")

    status, body = http(server, "/api/rooms/default", owner)
    assert status == 200 and json.loads(body)["seq"] == 1
    assert http(server, "/api/rooms/default")[0] == 401
    assert (
        json.loads(http(server, "/api/rooms/default/members", owner)[1])["members"][0]["role"]
        == "owner"
    )

    assert http(server, "/api/rooms/default/takes", reviewer, {"name": "t1"})[0] == 403
    status, body = http(server, "/api/rooms/default/takes", owner, {"name": "t1"})
    assert status == 200 and json.loads(body)["seq"] == 2
    assert [
        t["name"]
        for t in json.loads(http(server, "/api/rooms/default/takes", reviewer)[1])["takes"]
    ] == ["t1"]
    send(
        ws,
        {
            "type": "op",
            "id": "b",
            "op": {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 5.0},
        },
    )
    until(ws, "ack", id="b")
    diff = json.loads(http(server, "/api/rooms/default/takes/diff?a=t1", reviewer)[1])
    assert diff["changes"] == [{"key": f"{KEY}.inputs:intensity", "a": 33.0, "b": 5.0}]
    assert http(server, "/api/rooms/default/takes/t1/restore", owner, {})[0] == 200
    assert until(ws, "op", step="do")["label"] == "Restore take t1"

    note = {
        "text": "Hem looks long",
        "anchor": {"camera": "/Studio/Cameras/Hero", "x": 0.5, "y": 0.9},
    }
    assert http(server, "/api/rooms/default/notes", reviewer, {**note, "action": "add"})[0] == 200
    notes = json.loads(http(server, "/api/rooms/default/notes", owner)[1])["notes"]
    assert notes[0]["text"] == "Hem looks long" and notes[0]["anchor"]["y"] == 0.9
    assert (
        http(server, "/api/rooms/default/notes", reviewer, {"action": "add", "text": ""})[0] == 400
    )


def test_export_formats_hold_the_room_edits(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    owner = server.token("owner")
    ws = join(sockets, server)
    send(
        ws,
        {
            "type": "op",
            "id": "a",
            "op": {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 27.0},
        },
    )
    until(ws, "ack", id="a")
    for fmt in ("usda", "usdc", "usdz"):
        status, data = http(server, f"/api/rooms/default/export.{fmt}", owner)
        assert status == 200
        path = server.data.parent / f"export.{fmt}"
        path.write_bytes(data)
        stage = Usd.Stage.Open(str(path))
        assert stage.GetAttributeAtPath(f"{KEY}.inputs:intensity").Get() == 27.0
        assert stage.GetPrimAtPath("/Studio/Twin/Body")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.namelist()[0].endswith(".usdc")
    assert http(server, "/api/rooms/default/export.obj", owner)[0] == 400


def test_library_files_are_served_and_traversal_is_refused(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    token = server.token("render")
    files = json.loads(http(server, "/api/rooms/default/files", token)[1])["files"]
    shot = next(f for f in files if f["path"] == "default_shot.usda")
    status, data = http(server, "/api/rooms/default/files/default_shot.usda", token)
    assert status == 200 and len(data) == shot["size"]
    for evil in ("../pyproject.toml", "..%2Fpyproject.toml", "%2Fetc%2Fpasswd"):
        assert http(server, f"/api/rooms/default/files/{evil}", token)[0] == 404


def test_prims_lists_the_composed_tree_with_current_values(
    server: ServerProcess, sockets: contextlib.ExitStack
) -> None:
    token = server.token("reviewer")
    ws = join(sockets, server)
    send(
        ws,
        {
            "type": "op",
            "id": "a",
            "op": {"op": "set", "path": KEY, "attr": "inputs:intensity", "value": 33.0},
        },
    )
    until(ws, "ack", id="a")
    status, body = http(server, "/api/rooms/default/prims", token)
    listing = json.loads(body)
    assert status == 200 and listing["seq"] == 1
    prims = {p["path"]: p for p in listing["prims"]}
    paths = [p["path"] for p in listing["prims"]]
    assert (
        paths.index("/Studio") < paths.index("/Studio/Lights") < paths.index(KEY)
    )  # parents first
    assert prims[KEY]["type"] == "RectLight" and prims[KEY]["attrs"]["inputs:intensity"] == 33.0
    assert prims["/Studio/Cameras/Hero"]["attrs"]["focalLength"] == 50.0
    assert "points" not in prims["/Studio/Twin/Body"]["attrs"]  # arrays are left out
    wardrobe = prims["/Studio/Twin"]["variants"]["wardrobe"]
    assert wardrobe["selection"] == "studio_basics" and "evening" in wardrobe["variants"]
    assert "variants" not in prims[KEY]
    assert "xformOpOrder" not in prims[KEY]["attrs"]
    status, body = http(server, "/api/rooms/default/prims?path=/Studio/Lights", token)
    assert {p["path"] for p in json.loads(body)["prims"]} >= {"/Studio/Lights", KEY}
    assert not any(p["path"].startswith("/Studio/Cameras") for p in json.loads(body)["prims"])
    assert http(server, "/api/rooms/default/prims?path=/Nope", token)[0] == 404
    assert http(server, "/api/rooms/default/prims")[0] == 401
