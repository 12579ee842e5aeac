"""The render node over real sockets and real EGL: live frames, resync, final renders."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import pytest
import simplejpeg

from conftest import ServerProcess
from twinstudio.client import AsyncSession, aconnect
from twinstudio.render.node import RenderNode

KEY = "/Studio/Lights/Key"


@dataclass
class Studio:
    server: ServerProcess
    node: RenderNode
    owner: AsyncSession
    viewer: AsyncSession


@pytest.fixture
async def studio(server: ServerProcess) -> AsyncIterator[Studio]:
    owner = await aconnect(server.url, token=server.token("owner"), name="Pia")
    await owner.set_review(width=320, height=180, fps=30.0)
    viewer = await aconnect(server.url, token=server.token("reviewer"), name="Cleo")
    node = RenderNode(
        server.url, "default", server.token("render"), name="test node", settle_s=0.05
    )
    stop = asyncio.Event()
    task = asyncio.create_task(node.run(stop))
    try:
        yield Studio(server, node, owner, viewer)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await owner.close()
        await viewer.close()


def pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(simplejpeg.decode_jpeg(jpeg), dtype=np.float32)


async def test_frames_follow_edits_and_never_go_backwards(studio: Studio) -> None:
    first = await studio.viewer.next_frame(timeout=60)
    assert (first.width, first.height) == (320, 180) and first.refined
    img = pixels(first.jpeg)
    assert img.std() > 5  # not blank: a lit figure on a cove
    seen = [first.seq]
    for value in (5.0, 60.0):
        seq = await studio.owner.set(KEY, "inputs:intensity", value)
        frame = await studio.viewer.next_frame(timeout=60, min_seq=seq)
        while not frame.refined:  # previews while edits stream in, then the refined frame
            frame = await studio.viewer.next_frame(timeout=60)
        seen.append(frame.seq)
        if value == 5.0:
            dim = pixels(frame.jpeg).mean()
    assert pixels(frame.jpeg).mean() > dim  # a brighter key brightens the picture
    assert seen == sorted(seen)


async def test_a_render_node_that_reconnects_resyncs(studio: Studio) -> None:
    await studio.viewer.next_frame(timeout=60)
    assert studio.node.session is not None
    before = studio.node.session.reconnects
    await studio.node.session._ws.close()  # the network drops the node
    seq = await studio.owner.set(KEY, "inputs:intensity", 2.0)  # an edit it has to catch up on
    frame = await studio.viewer.next_frame(timeout=60, min_seq=seq)
    assert frame.seq >= seq and studio.node.session.reconnects > before


async def test_a_final_render_completes_and_is_downloadable(studio: Studio) -> None:
    await studio.viewer.next_frame(timeout=60)
    jobs = await studio.owner.submit_render(
        width=256,
        height=144,
        supersample=1,
        depth_of_field=False,
        looks=["studio_basics", "evening"],
    )
    assert len(jobs) == 2
    done = [await studio.owner.wait_render(job, timeout=120) for job in jobs]
    assert [d["state"] for d in done] == ["done", "done"]
    from PIL import Image

    pngs = [await studio.viewer.download_render(job) for job in jobs]
    images = [Image.open(io.BytesIO(png)) for png in pngs]
    assert [im.size for im in images] == [(256, 144), (256, 144)]
    a, b = (np.asarray(im.convert("RGB"), dtype=np.float32) for im in images)
    assert np.abs(a - b).mean() > 0.5  # the two looks differ
    batch = done[0]["batch"]
    sheet = asyncio.Event()
    studio.owner.subscribe(lambda m: sheet.set() if m["type"] == "contact_sheet" else None)
    if batch not in studio.owner.contact_sheets:
        await asyncio.wait_for(sheet.wait(), 30)
    contact = await studio.viewer.download_render(studio.owner.contact_sheets[batch])
    assert Image.open(io.BytesIO(contact)).width > 256


async def test_previews_while_dragging_then_a_refined_frame(server: ServerProcess) -> None:
    owner = await aconnect(server.url, token=server.token("owner"))
    await owner.set_review(width=320, height=180, fps=30.0)
    node = RenderNode(server.url, "default", server.token("render"), settle_s=0.4)
    stop = asyncio.Event()
    task = asyncio.create_task(node.run(stop))
    try:
        await owner.next_frame(timeout=60)

        async def drag() -> int:  # an edit every 50 ms, faster than the node's settle time
            for x in range(12):
                await owner.transform(KEY, translate=(-2.0 + x * 0.3, 2.2, 1.7))
                await _pause(0.05)
            return owner.seq

        dragging = asyncio.create_task(drag())
        frames = []
        while True:
            frame = await owner.next_frame(timeout=60)
            frames.append(frame)
            if dragging.done() and frame.refined and frame.seq >= dragging.result():
                break
        previews = [f for f in frames if not f.refined]
        assert previews and all((f.width, f.height) == (160, 90) for f in previews)
        assert (frames[-1].width, frames[-1].height) == (320, 180)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await owner.close()


async def test_the_frame_rate_cap_holds(server: ServerProcess) -> None:
    owner = await aconnect(server.url, token=server.token("owner"))
    await owner.set_review(width=160, height=90, fps=2.0)
    node = RenderNode(server.url, "default", server.token("render"), settle_s=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(node.run(stop))
    try:
        await owner.next_frame(timeout=60)
        start_frames = node.stats.frames
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(30):  # 30 edits in ~1.5 s: without a cap, one frame each
            await owner.set(KEY, "inputs:intensity", float(10 + i))
            await _pause(0.05)
        elapsed = loop.time() - start
        assert node.stats.frames - start_frames <= 2.0 * elapsed + 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await owner.close()


async def _pause(seconds: float) -> None:
    """Pacing for a simulated user's edits (not synchronisation: nothing waits on it)."""
    await asyncio.sleep(seconds)
