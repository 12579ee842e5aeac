"""Fixtures for the browser tests: a real server, a render node, and two users in one room.

Each test module gets its own (module-scoped) studio: Pia the owner and Cleo the reviewer
share the default room, a Python "pipeline" client sets the review size and makes the
first edit, and a render node subprocess streams the pictures.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from conftest import VENV_BIN, ServerProcess, free_port
from web.pages import CHROMIUM, CHROMIUM_ARGS, KEY, Studio, join


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    from playwright.sync_api import sync_playwright

    from twinstudio.client import connect

    tmp = tmp_path_factory.mktemp("web")
    server = ServerProcess(tmp / "data", free_port()).start()
    node_log = open(tmp / "render-node.log", "ab")  # noqa: SIM115
    node = subprocess.Popen(
        [str(VENV_BIN / "twinstudio"), "render-node", "--server", server.url, "--room", "default",
         "--token", server.token("render"), "--name", "test node"],
        stdout=node_log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYOPENGL_PLATFORM": os.environ.get("PYOPENGL_PLATFORM", "egl")},
    )  # fmt: skip
    pipeline = connect(server.url, room="default", token=server.token("owner"), name="pipeline")
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        pipeline.set_review(width=320, height=180)
        pipeline.next_frame(timeout=60)  # the node is up and rendering
        invite = f"{server.url}/?room=default&token="
        owner = join(browser, invite + server.token("owner", name="Pia"), "Pia")
        reviewer = join(browser, invite + server.token("reviewer", name="Cleo"), "Cleo")
        pipeline.set_light(KEY, intensity=20.0)  # the first edit: now both pages know the key
        yield Studio(server, pipeline, owner, reviewer, browser)
    finally:
        browser.close()
        pw.stop()
        pipeline.close()
        node.terminate()
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        node_log.close()
        server.stop()


@pytest.fixture
def users(studio: Studio) -> Iterator[Studio]:
    """The studio, failing the test if either page logged a console error meanwhile."""
    studio.owner.errors.clear()
    studio.reviewer.errors.clear()
    yield studio
    assert studio.owner.errors == [] and studio.reviewer.errors == []
