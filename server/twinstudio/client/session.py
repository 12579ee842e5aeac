"""The async Python API: one live session in a room, over the studio's wire protocol.

``aconnect`` joins, mirrors the asset library, builds the replica from the
snapshot and starts a reader task. Edits are sent as ops; ``set`` and friends
return the seq the server gave the edit once it is durable, and raise
:class:`StudioError` (with the server's code) when it was refused.

If the socket drops, the session reconnects with its last seq, receives only
what it missed (or a fresh snapshot), and resends edits that were never
acknowledged; the server recognises resends by their id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import msgpack
import websockets
from pxr import Usd

from twinstudio.client.library_cache import mirror_library
from twinstudio.client.posing import TWIN, offset_rotations
from twinstudio.client.replica import Replica, ReplicaDiverged
from twinstudio.rooms.room import PROTOCOL_VERSION
from twinstudio.stage import ops as O
from twinstudio.stage import posing

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]
# refusals that retrying will not change: stop reconnecting and fail pending requests
FINAL_REFUSALS = frozenset(
    {
        "token_missing",
        "token_invalid",
        "token_expired",
        "token_wrong_room",
        "role_unknown",
        "origin_forbidden",
        "room_full",
        "protocol_unsupported",
    }
)


@dataclass(frozen=True)
class Frame:
    """One picture of the review camera from a render node."""

    seq: int  # the last edit the picture includes
    camera: str
    width: int
    height: int
    render_ms: float
    encode_ms: float
    refined: bool  # False for a reduced-resolution frame rendered while edits stream in
    node: str
    jpeg: bytes
    received_at: float  # the session's loop clock (seconds) when it arrived


class StudioError(Exception):
    """The server refused something. ``code`` is stable; ``message`` says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _ws_url(base_url: str, room: str, token: str) -> str:
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + f"/rooms/{quote(room)}/ws"
    return urlunsplit((scheme, parts.netloc, path, f"token={quote(token)}", ""))


def _job_order(job_id: str) -> int:
    return int(job_id.rsplit("-", 1)[-1])


def _refusal(exc: websockets.InvalidStatus) -> StudioError:
    try:
        body = json.loads(exc.response.body or b"{}")
        return StudioError(str(body["code"]), str(body["message"]))
    except (ValueError, KeyError):
        return StudioError(
            "refused", f"the server refused the connection ({exc.response.status_code})"
        )


def _http_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class AsyncSession:
    """A joined member of a room. Create it with :func:`aconnect`."""

    def __init__(
        self, url: str, room: str, token: str, name: str | None, *, auto_apply: bool = True
    ):
        self.url = _http_url(url)
        self.room = room
        self.token = token
        self.name = name
        self.auto_apply = auto_apply
        self.replica = Replica()
        self.member: dict[str, Any] = {}
        self.members: list[dict[str, Any]] = []
        self.locks: list[dict[str, Any]] = []
        self.notes: dict[str, dict[str, Any]] = {}
        self.takes: dict[str, dict[str, Any]] = {}
        self.review_camera: str | None = None
        self.review: dict[str, Any] = {}  # the room's review settings (camera, size, fps)
        self.frame: Frame | None = None  # the newest frame received
        self._frames = 0  # frames received so far
        self._seen_frames = 0  # frames received when next_frame last returned
        self._frame_arrived = asyncio.Condition()
        self.jobs: dict[str, dict[str, Any]] = {}  # final render jobs by id (summaries)
        self.contact_sheets: dict[str, str] = {}  # batch -> stored contact sheet name
        self._jobs_changed = asyncio.Condition()
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._unacked: dict[str, dict[str, Any]] = {}  # ops to resend after a reconnect
        self._buffered: list[dict[str, Any]] = []
        self._received_seq = 0
        self._seq_changed = asyncio.Condition()
        self._listeners: list[Listener] = []
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self._closing = False
        self._batch: list[O.EditOp] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def _open(self) -> None:
        try:
            ws = await websockets.connect(
                _ws_url(self.url, self.room, self.token),
                max_size=64 * 1024 * 1024,
                compression=None,
            )
        except websockets.InvalidStatus as exc:  # refused at the door: a bad token or origin
            raise _refusal(exc) from None
        hello: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL_VERSION, "client": "python"}
        if self.name:
            hello["name"] = self.name
        if self.replica.seq and self._room_ready():
            hello["last_seq"] = self.replica.seq if self.auto_apply else self._received_seq
        await ws.send(msgpack.packb(hello, use_bin_type=True))
        first = msgpack.unpackb(await ws.recv(), raw=False)
        if first.get("type") == "error":
            await ws.close()
            raise StudioError(first["code"], first["message"])
        self.member = first["member"]
        self._ws = ws
        # what follows welcome: a snapshot, or the missed events then a state message
        while True:
            msg = msgpack.unpackb(await ws.recv(), raw=False)
            if msg["type"] == "snapshot":
                await self._load_snapshot(msg)
                break
            if msg["type"] == "state":
                self._on_state(msg)
                break
            await self._on_message(msg)
        self.connected.set()
        for msg in list(self._unacked.values()):  # the server dedupes by id
            await ws.send(msgpack.packb(msg, use_bin_type=True))

    def _room_ready(self) -> bool:
        try:
            self.replica.room_stage  # noqa: B018
        except RuntimeError:
            return False
        return True

    async def _load_snapshot(self, msg: dict[str, Any]) -> None:
        root = await mirror_library(self.url, self.room, self.token, msg["library"])
        self._buffered.clear()
        self.replica.load_snapshot(msg, root)
        self._received_seq = msg["seq"]
        self.review_camera = msg.get("review_camera")
        self._on_state(msg)
        await self._notify_seq()
        self._emit({"type": "snapshot", "seq": msg["seq"]})  # the replica stage was rebuilt

    def _on_state(self, msg: dict[str, Any]) -> None:
        self.review = msg.get("review", self.review)
        self.jobs = {j["id"]: j for j in msg.get("jobs", [])}
        self.locks = msg["locks"]
        self.notes = {n["id"]: n for n in msg["notes"]}
        self.takes = {t["name"]: t for t in msg["takes"]}

    async def _run(self) -> None:
        while not self._closing:
            try:
                async for raw in self._ws:
                    await self._on_message(msgpack.unpackb(raw, raw=False))
            except websockets.ConnectionClosed:
                pass
            except ReplicaDiverged as exc:
                log.warning("%s; resyncing from a snapshot", exc)
                self.replica.seq = 0
            if self._closing:
                return
            self.connected.clear()
            await self._reconnect()

    async def _reconnect(self) -> None:
        delay = 0.05
        while not self._closing:
            try:
                await self._open()
                self.reconnects += 1
                return
            except StudioError as exc:
                if exc.code in FINAL_REFUSALS:
                    self._fail_all(exc)
                    self._closing = True
                    return
            except (TimeoutError, OSError, websockets.WebSocketException):
                pass
            await asyncio.sleep(delay)  # back off while the server is away
            delay = min(delay * 2, 2.0)

    def _fail_all(self, exc: Exception) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)

    async def close(self) -> None:
        """Leave the room."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_all(StudioError("closed", "the session was closed"))

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- incoming ----------------------------------------------------------------------

    async def _on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind in ("ack", "take_diff", "pong") or (kind == "error" and "id" in msg):
            fut = self._pending.pop(msg.get("id", ""), None)
            self._unacked.pop(msg.get("id", ""), None)
            if fut is not None and not fut.done():
                if kind == "error":
                    fut.set_exception(StudioError(msg["code"], msg["message"]))
                else:
                    fut.set_result(msg)
            return
        if kind == "error":
            log.warning("server: %s: %s", msg.get("code"), msg.get("message"))
            return
        if kind == "frame":
            await self._on_frame(msg)
            return
        if kind in ("job", "job_update", "contact_sheet"):
            await self._on_job(msg)
        if kind == "presence":
            self.members = msg["members"]
        elif kind == "locks":
            self.locks = msg["locks"]
        elif kind == "op":
            if self.auto_apply:
                self._apply(msg)
            else:
                self._buffered.append(msg)
        elif kind == "note":
            self.notes[msg["note"]["id"]] = msg["note"]
        elif kind == "settings":
            self.review = msg["review"]
        elif kind == "take":
            if msg["action"] == "save":
                self.takes[msg["take"]["name"]] = msg["take"]
            else:
                self.takes.pop(msg["take"]["name"], None)
        elif kind == "snapshot":
            await self._load_snapshot(msg)
            return
        if "seq" in msg and kind in ("op", "note", "take", "settings"):
            self._received_seq = max(self._received_seq, msg["seq"])
            if kind != "op":
                self.replica.advance(msg["seq"]) if self.auto_apply else self._buffered.append(msg)
            await self._notify_seq()
        if kind != "op" and self.auto_apply:
            self._emit(msg)

    async def _on_frame(self, msg: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        fields = {k: msg[k] for k in Frame.__dataclass_fields__ if k in msg}
        self.frame = Frame(**{"node": "", **fields, "received_at": loop.time()})
        async with self._frame_arrived:
            self._frames += 1
            self._frame_arrived.notify_all()

    async def _on_job(self, msg: dict[str, Any]) -> None:
        if msg["type"] == "job_update":
            self.jobs[msg["job"]["id"]] = msg["job"]
        elif msg["type"] == "job" and msg["action"] == "submit":
            self.jobs.update({j["id"]: j for j in msg["jobs"]})
        elif msg["type"] == "contact_sheet":
            self.contact_sheets[msg["batch"]] = msg["name"]
        async with self._jobs_changed:
            self._jobs_changed.notify_all()

    async def submit_render(
        self,
        camera: str | None = None,
        *,
        cameras: list[str] | None = None,
        looks: list[str] | None = None,
        width: int = 3840,
        height: int = 2160,
        supersample: int = 2,
        shadows: bool = True,
        depth_of_field: bool = True,
        transparent: bool = False,
    ) -> list[str]:
        """Order final renders (the shutter press); return the job ids (cameras x looks)."""
        msg: dict[str, Any] = {
            "type": "job",
            "action": "submit",
            "width": width,
            "height": height,
            "supersample": supersample,
            "shadows": shadows,
            "depth_of_field": depth_of_field,
            "transparent": transparent,
        }
        if camera is not None:
            msg["camera"] = camera
        if cameras:
            msg["cameras"] = cameras
        if looks:
            msg["looks"] = looks
        seq = int((await self.request(msg))["seq"])
        return sorted((j for j in self.jobs if j.startswith(f"j{seq}-")), key=_job_order)

    async def wait_render(self, job_id: str, timeout: float = 600.0) -> dict[str, Any]:
        """Wait until the job ended; return its summary (``state`` done, failed or cancelled)."""
        ended = ("done", "failed", "cancelled")
        async with asyncio.timeout(timeout), self._jobs_changed:
            await self._jobs_changed.wait_for(
                lambda: self.jobs.get(job_id, {}).get("state") in ended
            )
        return self.jobs[job_id]

    async def download_render(self, name_or_job: str) -> bytes:
        """The PNG of a finished job (by job id) or a stored file (e.g. a contact sheet name)."""
        import aiohttp

        job = self.jobs.get(name_or_job)
        name = job["result"] if job else name_or_job
        if not name:
            raise StudioError("render_not_found", f"job {name_or_job} has no image yet")
        url = f"{self.url}/api/rooms/{quote(self.room)}/renders/{quote(name)}"
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
            if resp.status != 200:
                body = await resp.json()
                raise StudioError(body.get("code", "render_not_found"), body.get("message", ""))
            return await resp.read()

    async def next_frame(self, timeout: float = 30.0, *, min_seq: int = 0) -> Frame:
        """Wait for a frame newer than any returned before (and including edit ``min_seq``)."""
        seen = self._seen_frames
        async with asyncio.timeout(timeout), self._frame_arrived:
            await self._frame_arrived.wait_for(
                lambda: self._frames > seen and self.frame is not None and self.frame.seq >= min_seq
            )
        assert self.frame is not None
        self._seen_frames = self._frames
        return self.frame

    async def set_review(self, **changes: Any) -> int:
        """Change the room's review settings: camera, width, height, fps, preview_scale."""
        return int((await self.request({"type": "settings", "review": changes}))["seq"])

    def _apply(self, msg: dict[str, Any]) -> None:
        if msg["type"] == "op":
            if self.replica.apply(msg):
                self._emit(msg)
        else:
            self.replica.advance(msg["seq"])
            self._emit(msg)

    def _emit(self, msg: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(msg)
            except Exception:
                log.exception("a change listener failed")

    async def _notify_seq(self) -> None:
        async with self._seq_changed:
            self._seq_changed.notify_all()

    def apply_buffered(self) -> None:
        """Apply the ops received so far (sessions made with ``auto_apply=False``)."""
        buffered, self._buffered = self._buffered, []
        for msg in buffered:
            self._apply(msg)

    # -- requests ----------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    async def request(self, msg: dict[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
        """Send ``msg`` with a fresh id and wait for its ack (or reply); raise StudioError."""
        msg = {**msg, "id": self._next_id()}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg["id"]] = fut
        if msg["type"] == "op":
            self._unacked[msg["id"]] = msg
        await self.connected.wait()
        with contextlib.suppress(websockets.ConnectionClosed):  # resent after the reconnect
            await self._ws.send(msgpack.packb(msg, use_bin_type=True))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(msg["id"], None)
            self._unacked.pop(msg["id"], None)

    async def submit(self, op: O.EditOp | dict[str, Any], *, merge: str | None = None) -> int:
        """Send one op (or add it to the open batch); return its seq once it is durable."""
        if self._batch is not None:
            self._batch.append(op if not isinstance(op, dict) else O.op_from_wire(op))
            return self.seq
        wire = op if isinstance(op, dict) else O.to_wire(op)
        msg: dict[str, Any] = {"type": "op", "op": wire}
        if merge is not None:
            msg["merge"] = merge
        seq = int((await self.request(msg))["seq"])
        await self.wait_for(seq)
        return seq

    @contextlib.asynccontextmanager
    async def batch(self, label: str = "Edit") -> AsyncIterator[None]:
        """Collect the edits made inside the block and send them as one atomic, undoable batch."""
        if self._batch is not None:
            raise RuntimeError("batches do not nest")
        self._batch = []
        try:
            yield
        except BaseException:
            self._batch = None
            raise
        ops, self._batch = self._batch, None
        if ops:
            await self.submit(O.Batch(label, tuple(ops)))

    async def set(self, path: str, attribute: str, value: Any) -> int:
        """Set ``path.attribute`` to ``value``; return the edit's seq (durable, broadcast)."""
        return await self.submit(O.SetProperty(path, attribute, value))

    async def clear(self, path: str, attribute: str) -> int:
        """Drop the room's value: the shot's value shows again."""
        return await self.submit(O.ClearProperty(path, attribute))

    async def transform(
        self,
        path: str,
        translate: tuple[float, float, float] | None = None,
        rotate: tuple[float, float, float] | None = None,
        scale: tuple[float, float, float] | None = None,
    ) -> int:
        return await self.submit(O.SetTransform(path, translate, rotate, scale))

    async def set_light(
        self,
        path: str,
        *,
        intensity: float | None = None,
        exposure: float | None = None,
        color: tuple[float, float, float] | None = None,
        temperature: float | None = None,
    ) -> int:
        """Change a light's intensity, exposure (stops), colour and/or colour temperature (K)."""
        ops: list[O.EditOp] = []
        for attr, value in (
            ("inputs:intensity", intensity),
            ("inputs:exposure", exposure),
            ("inputs:color", list(color) if color is not None else None),
            ("inputs:colorTemperature", temperature),
        ):
            if value is not None:
                ops.append(O.SetProperty(path, attr, value))
        if temperature is not None:
            ops.append(O.SetProperty(path, "inputs:enableColorTemperature", True))
        return await self._one_or_batch(ops, f"Light {path.rsplit('/', 1)[-1]}")

    async def set_lens(
        self,
        path: str,
        *,
        focal_length: float | None = None,
        f_stop: float | None = None,
        focus_distance: float | None = None,
    ) -> int:
        """Change a camera's focal length (mm), f-stop and focus distance (m)."""
        ops: list[O.EditOp] = [
            O.SetProperty(path, attr, value)
            for attr, value in (
                ("focalLength", focal_length),
                ("fStop", f_stop),
                ("focusDistance", focus_distance),
            )
            if value is not None
        ]
        return await self._one_or_batch(ops, f"Lens {path.rsplit('/', 1)[-1]}")

    async def _one_or_batch(self, ops: list[O.EditOp], label: str) -> int:
        if not ops:
            raise ValueError("nothing to change")
        return await self.submit(ops[0] if len(ops) == 1 else O.Batch(label, tuple(ops)))

    async def select_variant(self, path: str, variant_set: str, selection: str | None) -> int:
        return await self.submit(O.SelectVariant(path, variant_set, selection))

    async def pose(
        self,
        path: str = TWIN,
        rotations: Mapping[str, Sequence[float]] | None = None,
        *,
        preset: str | None = None,
        offsets: Mapping[str, Sequence[float]] | None = None,
    ) -> int:
        """Pose the skeleton at ``path`` (the twin by default) as one undoable step.

        ``preset`` applies a pose of the twin's library (see :meth:`pose_presets`);
        ``rotations`` sets joints (by leaf name or token) to joint-local quaternions
        (w, x, y, z); ``offsets`` sets joints to (x, y, z) degrees from their rest pose
        (:mod:`twinstudio.assets.joint_limits` states the convention). They combine in
        that order. A pose beyond the joint limits raises StudioError(``joint_limit``).
        """
        joints = {k: [float(c) for c in v] for k, v in (rotations or {}).items()}
        if offsets:
            joints.update(offset_rotations(self.stage, path, offsets))
        if not joints and preset is None:
            raise ValueError("give a preset, rotations or offsets")
        op: dict[str, Any] = {"op": "pose", "path": path}
        if joints:
            op["rotations"] = joints
        if preset is not None:
            op["preset"] = preset
        return await self.submit(op)

    def pose_presets(self, path: str = TWIN) -> list[str]:
        """The names of the pose presets of the twin at ``path`` (from the replica)."""
        prim = self.stage.GetPrimAtPath(path)
        return [p.name for p in posing.presets(prim)] if prim else []

    async def undo(self) -> int:
        return int((await self.request({"type": "undo"}))["seq"])

    async def redo(self) -> int:
        return int((await self.request({"type": "redo"}))["seq"])

    async def lock(self, path: str) -> None:
        """Soft-lock the subtree at ``path``: others' edits there are refused until unlocked."""
        await self.request({"type": "lock", "path": path})

    async def unlock(self, path: str) -> None:
        """Release your lock (an owner may also break someone else's)."""
        await self.request({"type": "unlock", "path": path})

    async def ping(self) -> float:
        """Round-trip time to the server, in seconds."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await self.request({"type": "ping", "t": start})
        return loop.time() - start

    async def publish(self, msg: dict[str, Any]) -> None:
        """Send a message that has no reply (a render node's frame)."""
        await self.connected.wait()
        with contextlib.suppress(websockets.ConnectionClosed):  # dropped: the next one follows
            await self._ws.send(msgpack.packb(msg, use_bin_type=True))

    async def set_presence(
        self, selection: list[str] | None = None, dragging: str | None = None
    ) -> None:
        msg: dict[str, Any] = {"type": "presence", "dragging": dragging}
        if selection is not None:
            msg["selection"] = selection
        await self._ws.send(msgpack.packb(msg, use_bin_type=True))

    async def add_note(
        self,
        text: str,
        *,
        path: str | None = None,
        camera: str | None = None,
        x: float | None = None,
        y: float | None = None,
        frame_seq: int | None = None,
    ) -> str:
        """Pin a review note; return its id."""
        anchor = {"path": path, "camera": camera, "x": x, "y": y, "frame_seq": frame_seq}
        ack = await self.request({"type": "note", "action": "add", "text": text, "anchor": anchor})
        return f"n{ack['seq']}"

    async def reply_note(self, note_id: str, text: str) -> int:
        return int(
            (
                await self.request(
                    {"type": "note", "action": "reply", "note_id": note_id, "text": text}
                )
            )["seq"]
        )

    async def resolve_note(self, note_id: str, resolved: bool = True) -> int:
        action = "resolve" if resolved else "reopen"
        return int(
            (await self.request({"type": "note", "action": action, "note_id": note_id}))["seq"]
        )

    async def save_take(self, name: str) -> int:
        return int((await self.request({"type": "take", "action": "save", "name": name}))["seq"])

    async def restore_take(self, name: str) -> int:
        return int((await self.request({"type": "take", "action": "restore", "name": name}))["seq"])

    async def diff_takes(self, a: str | None, b: str | None = None) -> list[dict[str, Any]]:
        """What differs between take ``a`` and take ``b`` (None: the current stage)."""
        reply = await self.request({"type": "take", "action": "diff", "a": a, "b": b})
        return list(reply["changes"])

    # -- replica -----------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The last seq the replica has applied."""
        return self.replica.seq

    @property
    def stage(self) -> Usd.Stage:
        """The replica stage (read-only: change it through edits)."""
        return self.replica.stage

    def get(self, path: str, attribute: str) -> Any:
        """Read ``path.attribute`` from the replica, in wire form."""
        return self.replica.get(path, attribute)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(message)`` for each change applied; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def wait_for(self, seq: int, timeout: float = 30.0) -> None:
        """Wait until the replica has everything up to ``seq``."""
        async with asyncio.timeout(timeout), self._seq_changed:
            await self._seq_changed.wait_for(lambda: self._received_seq >= seq)
        if not self.auto_apply:
            self.apply_buffered()


async def aconnect(
    url: str,
    room: str = "default",
    token: str = "",
    name: str | None = None,
    *,
    auto_apply: bool = True,
) -> AsyncSession:
    """Join ``room`` on the server at ``url`` (``http://host:port``) and return the live session."""
    session = AsyncSession(url, room, token, name, auto_apply=auto_apply)
    await session._open()
    session._reader = asyncio.create_task(session._run())
    return session
