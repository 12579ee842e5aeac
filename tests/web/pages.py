"""The browser studio's test helpers: headless Debian chromium, users joined by invite link."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from conftest import REPO, ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
KEY = "/Studio/Lights/Key"
ARTIFACTS = REPO / "artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000


@dataclass
class User:
    page: Any
    errors: list[str] = field(default_factory=list)

    def testid(self, name: str) -> Any:
        return self.page.get_by_test_id(name)

    def select(self, path: str) -> None:
        self.testid("outliner").locator(f'[data-path="{path}"]').click()

    def frame_seq(self) -> int:
        return int(self.testid("viewfinder").get_attribute("data-frame-seq") or 0)


@dataclass
class Studio:
    server: ServerProcess
    pipeline: Any
    owner: User
    reviewer: User
    browser: Any


def join(browser: Any, url: str, name: str) -> User:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    user = User(page)
    page.on("console", lambda m: m.type == "error" and user.errors.append(m.text))
    page.on("pageerror", lambda exc: user.errors.append(str(exc)))
    page.goto(url)
    user.testid("join-name").fill(name)
    user.testid("join-submit").click()
    expect(user.testid("connection-state")).to_have_text("Live")
    return user


def shoot(user: User, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    user.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
