"""The render node over real sockets and real EGL: live frames, resync, final renders."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
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
    sheet = asyncio.Event()  # the batch's last job ended: the server made its contact sheet
    studio.owner.subscribe(lambda m: sheet.set() if m["type"] == "contact_sheet" else None)
    job = {"type": "job", "action": "submit", "width": 256, "height": 144, "supersample": 1}
    job |= {"depth_of_field": False, "looks": ["studio_basics", "evening"]}
    await studio.owner.request(job)
    token = studio.server.token("reviewer")

    def get(path: str) -> bytes:
        req = urllib.request.Request(f"{studio.server.url}/api/rooms/default/{path}")
        req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=10) as r:
            data: bytes = r.read()
            return data

    await asyncio.wait_for(sheet.wait(), 120)
    listing = json.loads(await asyncio.to_thread(get, "renders"))
    jobs = listing["jobs"]
    assert [j["state"] for j in jobs] == ["done", "done"]
    from PIL import Image

    images = []
    for done in jobs:
        data = await asyncio.to_thread(get, f"renders/{done['result']}")
        images.append(Image.open(io.BytesIO(data)))
    assert [im.size for im in images] == [(256, 144), (256, 144)]
    a, b = (np.asarray(im.convert("RGB"), dtype=np.float32) for im in images)
    assert np.abs(a - b).mean() > 0.5  # the two looks differ
    assert listing["batches"][0]["contact_sheet"]
