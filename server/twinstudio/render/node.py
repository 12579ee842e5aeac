"""The render node: a replica of a room that renders its review camera when it changes.

It joins like any client (render role): a snapshot, then the live op stream,
with the asset library mirrored over HTTP, so it needs no filesystem shared
with the server. Its loop:

1. wait until the stage or the review settings changed (no busy loop);
2. respect the room's frame-rate cap;
3. sync the pyrender scene from the replica (only what the edits touched);
4. render on the GL thread: at ``preview_scale`` while edits are streaming in,
   at full size once the stage has been still for ``settle_s`` (longer during a slow drag);
5. encode a JPEG and publish the frame with the seq of the last edit it includes.

Final renders (jobs the server assigns) come first: the job's own edit layer (the
stage when it was submitted) is composed on a private stage, the look applied,
rendered at full quality, and the PNG uploaded over HTTP.

USD is only touched on the event-loop thread; GL only on the one render thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinstudio.client.session import AsyncSession, aconnect

log = logging.getLogger(__name__)

# renders (scene, camera path, width, height) -> HxWx3 uint8 sRGB; runs on the GL thread
RenderFn = Callable[[Any, str, int, int], np.ndarray]


@dataclass
class NodeStats:
    frames: int = 0
    previews: int = 0
    last_seq: int = -1
    last_render_ms: float = 0.0
    last_encode_ms: float = 0.0
    last_sync: Any = None


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    import simplejpeg

    data: bytes = simplejpeg.encode_jpeg(
        np.ascontiguousarray(rgb), quality=quality, colorspace="RGB"
    )
    return data


class RenderNode:
    """Render ``room`` on the server at ``url`` for as long as ``run`` runs."""

    def __init__(
        self,
        url: str,
        room: str,
        token: str,
        *,
        name: str = "render-node",
        settle_s: float = 0.15,
        jpeg_quality: int = 85,
        gl_platform: str | None = None,
    ) -> None:
        self.url, self.room, self.token, self.name = url, room, token, name
        self.settle_s = settle_s
        self.jpeg_quality = jpeg_quality
        self.gl_platform = gl_platform
        self.stats = NodeStats()
        self.session: AsyncSession | None = None
        self._gl = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twinstudio-gl")
        self._render_fn: RenderFn | None = None
        self._final_fn: Callable[[Any, dict[str, Any]], bytes] | None = None
        self._scene: Any = None
        self._wake = asyncio.Event()
        self._last_edit = 0.0
        self._edit_gap = 0.0  # moving average of the gap between streamed edits (s)
        self._rebuild = True
        self._last_published: tuple[int, str, int, int] | None = None
        self._last_was_preview = False
        self._last_frame_at = 0.0
        self._jobs: list[dict[str, Any]] = []
        self.jobs_done = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Join, then render on change until ``stop`` is set."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        self._render_fn = await loop.run_in_executor(self._gl, self._open_gl)
        self.session = await aconnect(self.url, self.room, self.token, self.name)
        self.session.subscribe(self._on_event)
        stopper = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                await self._wait_for_work(stopper)
                if stop.is_set():
                    break
                if self._jobs:
                    await self._run_job(self._jobs.pop(0))
                else:
                    await self._render_once()
        finally:
            stopper.cancel()
            await self.session.close()
            await loop.run_in_executor(self._gl, self._close_gl)
            self._gl.shutdown(wait=True)

    def _open_gl(self) -> RenderFn:
        """On the GL thread: the context, the studio renderer, and the two render paths."""
        from twinstudio.render.compat import apply_pyrender_compat
        from twinstudio.render.gl import open_renderer, select_platform

        select_platform(self.gl_platform)
        apply_pyrender_compat()
        from twinstudio.render.lighting import RenderSettings, StudioRenderer

        self._offscreen = open_renderer(64, 64)
        renderer = StudioRenderer(self._offscreen)

        def live(scene: Any, camera: str, width: int, height: int) -> np.ndarray:
            settings = RenderSettings(width=width, height=height, shadows=True)
            lights = scene.lights.values()
            return np.asarray(
                renderer.render(scene.scene, lights, scene.camera(camera), settings).rgb
            )

        def final(scene: Any, job: dict[str, Any]) -> bytes:
            import io

            from PIL import Image

            settings = RenderSettings(
                width=job["width"],
                height=job["height"],
                shadows=job["shadows"],
                supersample=job["supersample"],
                depth_of_field=job["depth_of_field"],
                transparent_background=job["transparent"],
            )
            camera = scene.camera(job["camera"])
            result = renderer.render(scene.scene, scene.lights.values(), camera, settings)
            buf = io.BytesIO()
            Image.fromarray(np.asarray(result.rgb)).save(buf, format="PNG")
            return buf.getvalue()

        self._final_fn = final
        return live

    def _close_gl(self) -> None:
        offscreen = getattr(self, "_offscreen", None)
        if offscreen is not None:
            offscreen.delete()

    # -- change tracking ---------------------------------------------------------------

    def _on_event(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "snapshot":  # a resync rebuilt the replica stage: rebuild the scene too
            self._rebuild = True
        elif kind == "job_assign":
            self._jobs.append(msg["job"])
        elif kind == "op":
            now = time.monotonic()
            gap = now - self._last_edit
            if gap < 1.0:  # edits in a stream (a drag): learn its rhythm
                self._edit_gap = 0.7 * self._edit_gap + 0.3 * gap
            self._last_edit = now
        elif kind != "settings":
            return
        self._wake.set()

    async def _wait_for_work(self, stopper: asyncio.Task[Any]) -> None:
        """Until something needs rendering: a change, or a preview frame to refine."""
        while True:
            if self._needs_frame():
                return
            timeout = None
            if self._preview_pending():
                timeout = max(0.0, self._last_edit + self._settle() - time.monotonic())
            waiter = asyncio.create_task(self._wake.wait())
            await asyncio.wait(
                {waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            self._wake.clear()
            if stopper.done():
                return

    def _target(self) -> tuple[str, int, int, float]:
        assert self.session is not None
        review = self.session.review or {}
        camera = review.get("camera") or self.session.review_camera or "/Studio/Cameras/Hero"
        return (
            str(camera),
            int(review.get("width", 1280)),
            int(review.get("height", 720)),
            float(review.get("fps", 15.0)),
        )

    def _settle(self) -> float:
        """How long the stage must stay still before a full-size frame: longer than the
        recent gap between edits, so a slow drag doesn't start a full render mid-stream."""
        return max(self.settle_s, 1.5 * self._edit_gap)

    def _streaming(self) -> bool:
        return time.monotonic() - self._last_edit < self._settle()

    def _preview_pending(self) -> bool:
        return self.stats.previews > 0 and self._last_was_preview

    def _needs_frame(self) -> bool:
        assert self.session is not None
        camera, width, height, _ = self._target()
        if self._jobs or self._rebuild or self._last_published is None:
            return True
        if self._scene is not None and self._scene.dirty:
            return True
        if self._last_published[1:] != (camera, width, height):
            return True
        return self._last_was_preview and not self._streaming()

    # -- one frame -------------------------------------------------------------------

    async def _render_once(self) -> None:
        assert self.session is not None and self._render_fn is not None
        camera, width, height, fps = self._target()
        # the frame-rate cap: never publish faster than the room allows
        since = time.monotonic() - self._last_frame_at
        if since < 1.0 / fps:
            await asyncio.sleep(1.0 / fps - since)
        if self._rebuild or self._scene is None:
            from twinstudio.render.scene import StudioScene

            self._scene = StudioScene(self.session.stage)
            self._rebuild = False
        seq = self.session.seq
        self.stats.last_sync = self._scene.sync()
        preview = self._streaming()
        scale = float((self.session.review or {}).get("preview_scale", 0.5)) if preview else 1.0
        w, h = max(16, int(width * scale)), max(16, int(height * scale))
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            rgb = await loop.run_in_executor(self._gl, self._render_fn, self._scene, camera, w, h)
        except KeyError:
            log.warning("review camera %s is not in the stage; waiting for a change", camera)
            self._last_published = (seq, camera, width, height)
            return
        rendered = time.perf_counter()
        jpeg = await loop.run_in_executor(self._gl, encode_jpeg, rgb, self.jpeg_quality)
        encoded = time.perf_counter()
        frame: dict[str, Any] = {
            "type": "frame",
            "seq": seq,
            "camera": camera,
            "width": w,
            "height": h,
            "render_ms": (rendered - started) * 1000,
            "encode_ms": (encoded - rendered) * 1000,
            "refined": not preview,
            "jpeg": jpeg,
        }
        await self.session.publish(frame)
        self._last_frame_at = time.monotonic()
        self._last_published = (seq, camera, width, height)
        self._last_was_preview = preview
        self.stats.frames += 1
        self.stats.previews += int(preview)
        self.stats.last_seq = seq
        self.stats.last_render_ms = frame["render_ms"]
        self.stats.last_encode_ms = frame["encode_ms"]

    # -- final renders -----------------------------------------------------------------

    async def _run_job(self, job: dict[str, Any]) -> None:
        assert self.session is not None and self._final_fn is not None
        job_id = job["id"]
        try:
            scene = self._job_scene(job)
            await self._report(job_id, 0.1)
            loop = asyncio.get_running_loop()
            png = await loop.run_in_executor(self._gl, self._final_fn, scene, job)
            await self._report(job_id, 0.9)
            await self._upload(job_id, png)
            self.jobs_done += 1
        except Exception as exc:  # tell the server: it retries the job elsewhere
            log.exception("job %s failed", job_id)
            await self.session.publish(
                {
                    "type": "job",
                    "action": "fail",
                    "job_id": job_id,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )

    def _job_scene(self, job: dict[str, Any]) -> Any:
        """The stage as it was when the job was submitted, in the job's look."""
        from twinstudio.render.scene import StudioScene
        from twinstudio.stage.composition import RoomStage
        from twinstudio.stage.editor import StageEditor
        from twinstudio.stage.ops import SelectVariant

        assert self.session is not None
        replica = self.session.replica.room_stage
        stage = RoomStage(replica.library_root, replica.shot, job["layer"])
        if job.get("look"):
            editor = StageEditor(stage)
            holders = [
                p for p in stage.stage.Traverse() if "wardrobe" in p.GetVariantSets().GetNames()
            ]
            if not holders:
                raise ValueError("the stage has no 'wardrobe' variant set for the look")
            for prim in holders:
                editor.apply(SelectVariant(str(prim.GetPath()), "wardrobe", job["look"]))
        if not stage.stage.GetPrimAtPath(job["camera"]):
            raise ValueError(f"no camera at {job['camera']}")
        return StudioScene(stage.stage)

    async def _report(self, job_id: str, progress: float) -> None:
        assert self.session is not None
        await self.session.publish(
            {"type": "job", "action": "progress", "job_id": job_id, "progress": progress}
        )

    async def _upload(self, job_id: str, png: bytes) -> None:
        import aiohttp

        assert self.session is not None
        url = f"{self.session.url}/api/rooms/{self.room}/renders/{job_id}"
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "image/png"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=png, headers=headers) as resp,
        ):
            if resp.status != 200:
                raise RuntimeError(f"upload refused ({resp.status}): {await resp.text()}")


def main_render_node(url: str, room: str, token: str, name: str, gl_platform: str | None) -> None:
    """Run a render node until interrupted (the ``twinstudio render-node`` command)."""
    node = RenderNode(url, room, token, name=name, gl_platform=gl_platform)
    asyncio.run(node.run())
