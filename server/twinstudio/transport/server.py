"""The aiohttp adapter: websocket sessions and a JSON REST API around the studio's rooms.

Routes:

- ``GET /`` and static files: the browser studio (client_web/).
- ``GET /healthz``: 200 with JSON once the server is ready.
- ``GET /rooms/{room}/ws?token=...``: the live session (msgpack binary frames;
  see schemas/protocol.schema.json). The first message must be ``hello``.
- ``/api/rooms/...``: room info, members, takes, notes, exports and the asset
  library, authenticated with ``Authorization: Bearer TOKEN`` or ``?token=``.

This module only moves bytes: every decision is made by :class:`Room`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from twinstudio import __version__
from twinstudio.auth import AuthError, Grant, TokenAuthority
from twinstudio.errors import Refused
from twinstudio.rooms.journal import FsyncPolicy, Journal
from twinstudio.rooms.room import Room
from twinstudio.rooms.studio import Studio
from twinstudio.rooms.types import Send
from twinstudio.stage.posing import describe_poses
from twinstudio.transport.outbound import OutboundQueue
from twinstudio.transport.proxies import ProxyCache
from twinstudio.transport.renders import (
    MAX_RENDER_BYTES,
    contact_sheet,
    render_path,
    store_render,
)

log = logging.getLogger(__name__)

SYNCER = web.AppKey("syncer", asyncio.Task[None])
CLOSE_MARK = b""  # queued after a final error: the writer closes the socket when it gets here
# the browser studio: client_web/ of the checkout, or TWINSTUDIO_STATIC when installed elsewhere
STATIC_ROOT = Path(
    os.environ.get("TWINSTUDIO_STATIC", Path(__file__).resolve().parents[3] / "client_web")
)


@dataclass(frozen=True)
class ServerConfig:
    max_message_bytes: int = 8 * 1024 * 1024
    rate_per_s: float = 240.0  # sustained messages per second per connection
    rate_burst: float = 480.0
    hello_timeout_s: float = 10.0
    heartbeat_s: float = 15.0  # a vanished client is dropped (and leaves) after ~2 heartbeats
    queue_limit: int = 5_000
    allowed_origins: tuple[str, ...] = ()


@dataclass
class RateLimit:
    """A token bucket: ``allow()`` is False while the sender exceeds ``rate`` messages/s."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class GroupCommit:
    """Makes a room's journal durable in batches.

    Ops are applied and written on the loop (a process kill loses nothing written);
    their ack and broadcast wait for an fsync that covers them. The fsync runs in a
    task scheduled after the ops that are ready now, so one fsync covers them all.
    While recent fsyncs are fast (under ``SLOW_SYNC_S``) it runs on the loop: a
    thread hop would cost more than it saves. When the disk turns slow it moves to a
    worker thread, so the loop keeps serving other members meanwhile.
    """

    SLOW_SYNC_S = 0.001

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.sync_s = 0.0  # moving average of recent fsync durations
        self._inflight: asyncio.Task[int] | None = None

    async def durable(self, seq: int) -> None:
        """Return once every record up to ``seq`` is on stable storage."""
        while self.journal.synced_seq < seq:
            if self._inflight is None:
                self._inflight = asyncio.create_task(self._sync())
            await asyncio.shield(self._inflight)

    async def _sync(self) -> int:
        start = time.perf_counter()
        try:
            if self.sync_s > self.SLOW_SYNC_S:
                return await asyncio.to_thread(self.journal.sync_pending)
            return self.journal.sync_pending()
        finally:
            self.sync_s = 0.8 * self.sync_s + 0.2 * (time.perf_counter() - start)
            self._inflight = None


@dataclass
class Connection:
    conn: str
    ws: web.WebSocketResponse
    room: str
    queue: OutboundQueue
    close_code: int | None = None


def pack(message: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(message, use_bin_type=True)
    return data


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=True)


class StudioServer:
    """Owns the connections; hands every decoded message to its room and fans out the replies."""

    def __init__(
        self, studio: Studio, auth: TokenAuthority, config: ServerConfig | None = None
    ) -> None:
        self.studio = studio
        self.auth = auth
        self.config = config or ServerConfig()
        self.connections: dict[str, Connection] = {}
        self._ids = itertools.count(1)
        self._commits: dict[str, GroupCommit] = {}
        self._proxies = ProxyCache()  # the layout view's mesh proxies, per room and seq
        # trace(direction, conn, message): sees every decoded message in ("in") and out ("out")
        self.trace: Callable[[str, str, dict[str, Any]], None] | None = None

    # -- app ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_RENDER_BYTES)  # JSON handlers check their own
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/rooms/{room}/ws", self.websocket)
        app.router.add_get("/api/rooms", self.list_rooms)
        app.router.add_get("/api/rooms/{room}", self.room_info)
        app.router.add_get("/api/rooms/{room}/members", self.members)
        app.router.add_get("/api/rooms/{room}/prims", self.prims)
        app.router.add_get("/api/rooms/{room}/poses", self.poses)
        app.router.add_get("/api/rooms/{room}/proxies", self.proxies)
        app.router.add_get("/api/rooms/{room}/export.{fmt}", self.export)
        app.router.add_get("/api/rooms/{room}/takes", self.takes)
        app.router.add_post("/api/rooms/{room}/takes", self.save_take)
        app.router.add_get("/api/rooms/{room}/takes/diff", self.diff_takes)
        app.router.add_post("/api/rooms/{room}/takes/{name}/restore", self.restore_take)
        app.router.add_get("/api/rooms/{room}/notes", self.notes)
        app.router.add_post("/api/rooms/{room}/notes", self.add_note)
        app.router.add_get("/api/rooms/{room}/renders", self.renders)
        app.router.add_get("/api/rooms/{room}/renders/{name}", self.render_file)
        app.router.add_post("/api/rooms/{room}/renders/{job_id}", self.upload_render)
        app.router.add_get("/api/rooms/{room}/files", self.files)
        app.router.add_get("/api/rooms/{room}/files/{path:.+}", self.file)
        if STATIC_ROOT.is_dir():
            app.router.add_get("/", self.index)
            app.router.add_static("/static/", STATIC_ROOT)
        app.on_startup.append(self._start_syncer)
        app.on_shutdown.append(self._shutdown)
        return app

    async def _start_syncer(self, app: web.Application) -> None:
        if self.studio.fsync is FsyncPolicy.INTERVAL:
            app[SYNCER] = asyncio.create_task(self._sync_periodically())

    async def _sync_periodically(self) -> None:
        """Under the interval policy, bound the power-loss window even when rooms go quiet."""
        while True:
            await asyncio.sleep(0.05)
            self.studio.sync_journals()

    async def _shutdown(self, app: web.Application) -> None:
        if SYNCER in app:
            app[SYNCER].cancel()
        for c in list(self.connections.values()):
            await c.ws.close(code=1001, message=b"server shutting down")
        self.studio.close()

    async def index(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_ROOT / "index.html")

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "version": __version__,
                "rooms": len(self.studio.rooms),
                "connections": len(self.connections),
            }
        )

    # -- auth --------------------------------------------------------------------------

    def _grant(self, request: web.Request, room: str) -> Grant:
        token = request.query.get("token")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ").strip()
        try:
            return self.auth.verify(token, room)
        except AuthError as exc:
            unauthorized = exc.code in ("token_missing", "token_invalid", "token_expired")
            error = web.HTTPUnauthorized if unauthorized else web.HTTPForbidden
            raise error(
                text=json.dumps({"code": exc.code, "message": exc.message}),
                content_type="application/json",
            ) from None

    def _room(self, request: web.Request) -> tuple[Room, Grant]:
        name = request.match_info["room"]
        grant = self._grant(request, name)
        return self.studio.room(name), grant

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # not a browser: scripts and render nodes authenticate by token alone
            return True
        if origin in self.config.allowed_origins:
            return True
        return origin.split("://", 1)[-1] == request.host

    # -- websocket ---------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["room"]
        if not self._origin_ok(request):
            return web.json_response(
                {
                    "code": "origin_forbidden",
                    "message": f"origin {request.headers.get('Origin')} is not allowed",
                },
                status=403,
            )
        grant = self._grant(request, name)  # refused before the upgrade: 401/403 with a code
        ws = web.WebSocketResponse(
            heartbeat=self.config.heartbeat_s, max_msg_size=self.config.max_message_bytes
        )
        await ws.prepare(request)
        conn = Connection(f"c{next(self._ids)}", ws, name, OutboundQueue(self.config.queue_limit))
        writer = asyncio.create_task(self._write(conn))
        room: Room | None = None
        try:
            hello = await self._hello(conn)
            if hello is None:
                return ws
            room = self.studio.room(name)
            await self._durable(room, settle=True)  # a snapshot shows only durable edits
            self.connections[conn.conn] = conn
            self._dispatch(room, room.join(conn.conn, grant, hello))
            await self._read(conn, room)
        finally:
            if room is not None:
                self.connections.pop(conn.conn, None)
                self._dispatch(room, room.leave(conn.conn))
            conn.queue.close()
            await writer
            await ws.close()
        return ws

    async def _hello(self, conn: Connection) -> dict[str, Any] | None:
        try:
            msg = await conn.ws.receive(timeout=self.config.hello_timeout_s)
        except TimeoutError:
            self._send_error(conn, "hello_timeout", "send 'hello' first", close=True)
            return None
        if msg.type != WSMsgType.BINARY:
            self._send_error(
                conn, "malformed_message", "messages are msgpack binary frames", close=True
            )
            return None
        try:
            hello = unpack(msg.data)
        except Exception:
            hello = None
        if self.trace is not None and isinstance(hello, dict):
            self.trace("in", conn.conn, hello)
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            self._send_error(conn, "not_joined", "the first message must be 'hello'", close=True)
            return None
        return hello

    async def _read(self, conn: Connection, room: Room) -> None:
        limit = RateLimit(self.config.rate_per_s, self.config.rate_burst)
        async for msg in conn.ws:
            if msg.type != WSMsgType.BINARY:
                if msg.type == WSMsgType.TEXT:
                    self._send_error(
                        conn, "malformed_message", "messages are msgpack binary frames"
                    )
                    continue
                break
            if not limit.allow():
                self._send_error(conn, "rate_limited", "too many messages: slow down")
                continue
            try:
                decoded = unpack(msg.data)
            except Exception as exc:
                self._send_error(conn, "malformed_message", f"not valid msgpack: {exc}")
                continue
            if not isinstance(decoded, dict):
                self._send_error(
                    conn, "malformed_message", "a message is a msgpack map with a 'type'"
                )
                continue
            if self.trace is not None:
                self.trace("in", conn.conn, decoded)
            try:
                sends = room.receive(conn.conn, decoded)
            except Exception:  # a bug must not take the room down; the stage is unchanged
                log.exception("room %s failed on a %r message", room.name, decoded.get("type"))
                self._send_error(
                    conn, "internal_error", "the server failed on this message; it was not applied"
                )
                continue
            await self._durable(room)
            self._dispatch(room, sends)
            self.studio.after_change(room)

    async def _durable(self, room: Room, *, settle: bool = False) -> None:
        """Wait until the room's journal holds everything up to its seq now durably.

        ``settle``: also cover ops committed meanwhile (before taking a snapshot).
        """
        target = room.seq
        while room.journal.synced_seq < target:
            commit = self._commits.get(room.name)
            if commit is None or commit.journal is not room.journal:
                commit = self._commits[room.name] = GroupCommit(room.journal)
            await commit.durable(target)
            if settle:
                target = room.seq

    async def _write(self, conn: Connection) -> None:
        while (data := await conn.queue.get()) is not None:
            if data == CLOSE_MARK:
                await conn.ws.close(code=1008, message=b"closed by server")
                return
            try:
                await conn.ws.send_bytes(data)
            except ConnectionError:
                return
        if conn.close_code is not None:  # dropped for falling behind: it reconnects with last_seq
            await conn.ws.close(code=conn.close_code, message=b"too far behind: reconnect")

    def _send_error(
        self, conn: Connection, code: str, message: str, *, close: bool = False
    ) -> None:
        error = {"type": "error", "code": code, "message": message}
        if self.trace is not None:
            self.trace("out", conn.conn, error)
        conn.queue.put(pack(error))
        if close:
            conn.queue.put(CLOSE_MARK)

    def _dispatch(self, room: Room, sends: list[Send]) -> None:
        for send in sends:
            if self.trace is not None:
                self.trace("out", ",".join(send.to) if send.to else "*", send.message)
            data = pack(send.message)
            targets = send.to if send.to is not None else tuple(room.members)
            for target in targets:
                conn = self.connections.get(target)
                if conn is None:
                    continue
                if not conn.queue.put(data, send.key):
                    log.warning("dropping %s: %d messages behind", target, len(conn.queue))
                    conn.close_code = 1013
                    conn.queue.close()
                elif send.close:
                    conn.queue.put(CLOSE_MARK)

    # -- REST --------------------------------------------------------------------------

    async def list_rooms(self, request: web.Request) -> web.Response:
        return web.json_response({"rooms": self.studio.existing_rooms()})

    async def room_info(self, request: web.Request) -> web.Response:
        room, _ = self._room(request)
        return web.json_response(
            {
                "name": room.name,
                "seq": room.seq,
                "shot": room.room_stage.shot,
                "review_camera": room.room_stage.review_camera(),
                "members": len(room.members),
            }
        )

    async def members(self, request: web.Request) -> web.Response:
        room, _ = self._room(request)
        return web.json_response({"members": [m.to_wire() for m in room.members.values()]})

    async def poses(self, request: web.Request) -> web.Response:
        """Posable skeletons: joints (rest, current rotation, limits) and pose presets, at seq."""
        room, _ = self._room(request)
        await self._durable(room, settle=True)
        skeletons = describe_poses(room.room_stage.stage)
        return web.json_response({"seq": room.seq, "skeletons": skeletons})

    async def prims(self, request: web.Request) -> web.Response:
        """The composed prim tree with scalar and vector attribute values, consistent at seq."""
        room, _ = self._room(request)
        await self._durable(room, settle=True)
        path = request.query.get("path", "/")
        try:
            listing = describe_prims(room.room_stage.stage, path)
        except KeyError:
            return web.json_response(
                {"code": "prim_not_found", "message": f"no prim at {path}"}, status=404
            )
        return web.json_response(
            {"seq": room.seq, "review_camera": room.room_stage.review_camera(), "prims": listing}
        )

    async def proxies(self, request: web.Request) -> web.Response:
        """The layout view's mesh proxies (msgpack; see transport/proxies.py), at the room's seq.

        Built on the loop, because the stage changes there; cached until the next edit.
        """
        room, _ = self._room(request)
        await self._durable(room, settle=True)
        data = self._proxies.packed(room.name, room.seq, room.room_stage.stage)
        return web.Response(body=data, content_type="application/msgpack")

    async def takes(self, request: web.Request) -> web.Response:
        room, _ = self._room(request)
        return web.json_response({"takes": [t.summary() for t in room.takes.values()]})

    async def notes(self, request: web.Request) -> web.Response:
        room, _ = self._room(request)
        return web.json_response({"notes": room.notes.to_wire()})

    async def _act(self, request: web.Request, msg: dict[str, Any]) -> web.Response:
        room, grant = self._room(request)
        sends = room.receive_as(grant, msg)
        await self._durable(room)
        mine = [s.message for s in sends if s.to == (f"rest:{grant.user}",)]
        self._dispatch(room, [s for s in sends if s.to is None])
        self.studio.after_change(room)
        errors = [m for m in mine if m["type"] == "error"]
        if errors:
            status = 403 if errors[0]["code"] == "forbidden" else 400
            return web.json_response(errors[0], status=status)
        return web.json_response({"ok": True, "seq": room.seq, "replies": mine})

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if (request.content_length or 0) > self.config.max_message_bytes:
            raise web.HTTPRequestEntityTooLarge(
                max_size=self.config.max_message_bytes, actual_size=request.content_length or 0
            )
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(
                text=json.dumps({"code": "malformed_message", "message": "send a JSON object"}),
                content_type="application/json",
            ) from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                text=json.dumps({"code": "malformed_message", "message": "send a JSON object"}),
                content_type="application/json",
            )
        return body

    async def save_take(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        return await self._act(
            request, {"type": "take", "action": "save", "name": body.get("name")}
        )

    async def restore_take(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return await self._act(request, {"type": "take", "action": "restore", "name": name})

    async def diff_takes(self, request: web.Request) -> web.Response:
        room, grant = self._room(request)
        msg = {
            "type": "take",
            "action": "diff",
            "a": request.query.get("a"),
            "b": request.query.get("b"),
        }
        reply = room.receive_as(grant, msg)[0].message
        return web.json_response(reply, status=404 if reply["type"] == "error" else 200)

    async def add_note(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        return await self._act(request, {**body, "type": "note"})

    # -- final renders -----------------------------------------------------------------

    def _renders_dir(self, room: Room) -> Path:
        return self.studio.room_dir(room.name) / "renders"

    async def renders(self, request: web.Request) -> web.Response:
        room, _ = self._room(request)
        jobs = [j.summary() for j in room.jobs.jobs.values()]
        batches: dict[str, dict[str, Any]] = {}
        for job in jobs:
            batch = batches.setdefault(job["batch"], {"batch": job["batch"], "jobs": []})
            batch["jobs"].append(job["id"])
            sheet = f"{job['batch']}-contact.png"
            batch["contact_sheet"] = sheet if render_path(self._renders_dir(room), sheet) else None
        return web.json_response({"jobs": jobs, "batches": list(batches.values())})

    async def render_file(self, request: web.Request) -> web.StreamResponse:
        room, _ = self._room(request)
        path = render_path(self._renders_dir(room), request.match_info["name"])
        if path is None:
            return web.json_response(
                {"code": "render_not_found", "message": "no such render in this room"}, status=404
            )
        return web.FileResponse(path, headers={"Content-Type": "image/png"})

    async def upload_render(self, request: web.Request) -> web.Response:
        """A render node delivers a finished job's PNG; the job completes when it is stored."""
        room, grant = self._room(request)
        job_id = request.match_info["job_id"]
        job = room.jobs.jobs.get(job_id)
        node = room.members.get(job.node) if job and job.node else None
        if job is None or node is None or node.user != grant.user or job.state != "running":
            return web.json_response(
                {"code": "job_not_yours", "message": f"job {job_id} is not running on your node"},
                status=409,
            )
        data = await request.read()
        directory = self._renders_dir(room)
        try:
            name = await asyncio.to_thread(store_render, directory, job_id, data)
            sends = room.desk.complete_job(grant, job_id, name)
        except Refused as exc:
            return web.json_response({"code": exc.code, "message": exc.message}, status=400)
        await self._durable(room)
        self._dispatch(room, sends)
        batch = [j.summary() for j in room.jobs.batch(job.batch)]
        if len(batch) > 1 and all(j["state"] in ("done", "failed", "cancelled") for j in batch):
            sheet = await asyncio.to_thread(contact_sheet, directory, job.batch, batch)
            self._dispatch(
                room, [Send({"type": "contact_sheet", "batch": job.batch, "name": sheet}, None)]
            )
        return web.json_response({"ok": True, "name": name})

    async def files(self, request: web.Request) -> web.Response:
        room, _ = self._room(request)
        return web.json_response({"files": room.library_manifest()})

    async def file(self, request: web.Request) -> web.StreamResponse:
        room, _ = self._room(request)
        try:
            path = room.library.resolve(request.match_info["path"], usd_only=False)
        except Exception as exc:
            return web.json_response({"code": "asset_not_found", "message": str(exc)}, status=404)
        return web.FileResponse(path)

    async def export(self, request: web.Request) -> web.StreamResponse:
        room, _ = self._room(request)
        fmt = request.match_info["fmt"]
        if fmt not in ("usda", "usdc", "usdz"):
            return web.json_response(
                {"code": "bad_format", "message": "export as usda, usdc or usdz"}, status=400
            )
        with tempfile.TemporaryDirectory() as tmp:
            out = export_room(room, Path(tmp), fmt)
            data = out.read_bytes()
        return web.Response(
            body=data,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{room.name}.{fmt}"'},
        )


def describe_prims(stage: Any, root: str = "/") -> list[dict[str, Any]]:
    """Every prim under ``root`` (depth first, parents first) with its type, whether it is
    active, the values of its non-array attributes in wire form, and its variant sets
    (``{set: {"selection": name, "variants": [names]}}``)."""
    from pxr import Sdf, Usd

    from twinstudio.stage.values import to_wire

    if not Sdf.Path.IsValidPathString(root):
        raise KeyError(root)
    start = stage.GetPrimAtPath(root)
    if not start:
        raise KeyError(root)
    out = []
    for prim in Usd.PrimRange(start, Usd.PrimAllPrimsPredicate):
        if prim.IsPseudoRoot():
            continue
        attrs: dict[str, Any] = {}
        for attr in prim.GetAttributes():
            if attr.GetTypeName().isArray:
                continue
            value = attr.Get()
            if value is None:
                continue
            wire = to_wire(value)
            if isinstance(wire, float) and not math.isfinite(wire):
                continue
            attrs[attr.GetName()] = wire
        vsets = prim.GetVariantSets()
        variants = {
            name: {
                "selection": vsets.GetVariantSet(name).GetVariantSelection(),
                "variants": list(vsets.GetVariantSet(name).GetVariantNames()),
            }
            for name in vsets.GetNames()
        }
        entry: dict[str, Any] = {
            "path": str(prim.GetPath()),
            "type": str(prim.GetTypeName()),
            "active": prim.IsActive(),
            "attrs": attrs,
        }
        if variants:
            entry["variants"] = variants
        out.append(entry)
    return out


def export_room(room: Room, directory: Path, fmt: str) -> Path:
    """Flatten the room's composed stage (shot + edits) into one file in ``directory``."""
    from pxr import UsdUtils

    stage = room.room_stage.stage
    if fmt == "usdz":
        flat = directory / f"{room.name}.usdc"
        stage.Export(str(flat))
        out = directory / f"{room.name}.usdz"
        if not UsdUtils.CreateNewUsdzPackage(str(flat), str(out)):
            raise RuntimeError("USD could not package the room as usdz")
        return out
    out = directory / f"{room.name}.{fmt}"
    stage.Export(str(out))
    return out
