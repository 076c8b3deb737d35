"""Helpers of the browser tests (tests/test_browser.py): which Chromium, the web page served on
a free port over the running bot's services, and a phone (one Playwright page) that knows its
address, takes screenshots and measures what a page weighed.

Playwright itself is imported only where it is used, so this module loads without it and can
say why the browser tests are skipped.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from services import Services
from services.policy import WebSettings
from web.app import build_web_app

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("WORKLOG_TEST_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("WORKLOG_TEST_REQUIRE_BROWSER") == "1"
# An iPhone 12–15 sized screen.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or ./dev test as root)"
    return None


def artifacts() -> Path:
    """Where screenshots go: $WORKLOG_ARTIFACTS, or artifacts/screenshots/ in the repository."""
    folder = Path(os.environ.get("WORKLOG_ARTIFACTS") or ROOT / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Site:
    """The web page listening on 127.0.0.1, as the product serves it beside the bot."""

    app: web.Application
    base: str

    def has_route(self, prefix: str) -> bool:
        canonical = [r.resource.canonical for r in self.app.router.routes() if r.resource]
        return any(path == prefix or path.startswith(prefix + "/") for path in canonical)


@asynccontextmanager
async def serve(services: Services, bot_token: str) -> AsyncIterator[Site]:
    settings = WebSettings(host="127.0.0.1", port=free_port())
    app = build_web_app(services, settings, bot_token=bot_token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        yield Site(app, settings.base_url())
    finally:
        await runner.cleanup()


def login_path(url: str) -> str:
    """The path of a login link (the service writes the configured public address)."""
    return url[url.index("/login/") :]


def signed_init_data(user_id: int, signed_at: int, bot_token: str) -> str:
    """A Mini App's initData as Telegram signs it (HMAC keyed by HMAC("WebAppData", token))."""
    fields = {"auth_date": str(signed_at), "user": json.dumps({"id": user_id})}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


# Bytes the browser fetched for the page on screen: the document and its subresources
# (headers and encoded bodies, as the Resource Timing API counts them).
_PAGE_BYTES = """() => performance.getEntries()
  .filter((e) => e.entryType === "navigation" || e.entryType === "resource")
  .reduce((sum, e) => sum + e.transferSize, 0)"""


@dataclass
class Phone:
    """One browser tab on a phone-sized screen, pointed at the site."""

    page: Page
    base: str
    name: str  # the test's, for screenshot file names
    dialogs: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Any alert/confirm/prompt is a failure of the test that sees it; dismiss and record.
        async def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        self.page.on("dialog", on_dialog)

    async def open(self, path: str) -> Response:
        response = await self.page.goto(self.base + path)
        assert response is not None, path
        return response

    async def text(self, selector: str = "main") -> str:
        return await self.page.inner_text(selector)

    async def texts(self, selector: str) -> list[str]:
        return [t.strip() for t in await self.page.locator(selector).all_inner_texts()]

    async def cookies(self) -> list[str]:
        return [c["name"] for c in await self.page.context.cookies()]

    async def weight(self) -> int:
        """What the page on screen transferred, in bytes."""
        await self.page.wait_for_load_state("load")
        return int(await self.page.evaluate(_PAGE_BYTES))

    async def shot(self, label: str) -> Path:
        path = artifacts() / f"{self.name}-{label}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path


def shot_name(node_name: str) -> str:
    """test_x[sqlite] -> test_x-sqlite: a file name per test and database."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", node_name).strip("-")
