"""`worklog run` as operators start it (`bot.app.serve`): the bot and the web page in one
process on the same services, and local mode (no token: the web page and the jobs alone).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import build_services, serve
from bot.config import Config, ConfigError, DatabaseConfig, TelegramConfig
from services import zh
from services.clock import FrozenClock
from services.policy import WebSettings
from storage.db import create_engine, session_factory
from storage.models import LogEntry, Person, Unit
from tests.fakebot import FakeBotApi, FakeUser
from tests.harness import TOKEN

CADRE = FakeUser(id=3101, first_name="网")


@pytest.fixture
def config_path(config_file: Path) -> Path:
    return config_file


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def add_cadre(config: Config, clock: FrozenClock, telegram_user_id: int | None) -> None:
    engine = create_engine(config.database.url)
    try:
        now = clock.now()
        async with session_factory(engine)() as db:
            unit = Unit(name="县网信办")
            db.add(unit)
            await db.flush()
            db.add(
                Person(roster_id="N001", name="王网页", unit_id=unit.id, position="科员",
                       roles="cadre", telegram_user_id=telegram_user_id, active=True,
                       created_at=now, updated_at=now)
            )  # fmt: skip
            await db.commit()
    finally:
        await engine.dispose()


async def issue_link(config: Config, clock: FrozenClock) -> str:
    engine = create_engine(config.database.url)
    try:
        link = await build_services(config, engine, clock).services.web_access.issue_link(
            roster_id="N001"
        )
        return link.url
    finally:
        await engine.dispose()


async def stored_texts(config: Config) -> list[str]:
    engine = create_engine(config.database.url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(LogEntry.text).order_by(LogEntry.id))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


@asynccontextmanager
async def running(config: Config, clock: FrozenClock) -> AsyncIterator[str]:
    """`serve` in a task until the block ends; yields the web page's address once it answers."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, clock=clock, stop=stop, migrate=False))
    base = f"http://127.0.0.1:{config.web.port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(500):
            if task.done():
                task.result()  # raises what stopped it
            try:
                async with http.get(f"{base}/static/app.css") as answer:
                    if answer.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("the web page never answered")
    try:
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def browser() -> aiohttp.ClientSession:
    # Like a browser, keep cookies of an address given as an IP (aiohttp's default refuses).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def csrf_and_nonce(html: str) -> dict[str, str]:
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    nonce = re.search(r'name="nonce" value="([^"]+)"', html)
    assert csrf and nonce, html
    return {"csrf": csrf.group(1), "nonce": nonce.group(1)}


async def sign_in_and_add(http: aiohttp.ClientSession, url: str, texts: list[str]) -> str:
    async with http.post(url) as signed_in:  # the link page's 登录 button
        assert signed_in.status == 200, await signed_in.text()
        form = csrf_and_nonce(await signed_in.text())
    base = url[: url.index("/login/")]
    data = [("csrf", form["csrf"]), ("nonce", form["nonce"]), ("date", "2026-11-20")]
    data += [pair for text in texts for pair in (("item", text), ("kind", "regular"))]
    async with http.post(f"{base}/entries", data=data) as saved:
        assert saved.status == 200
        return await saved.text()


def web_config(db_url: str, web: dict[str, object] | None = None, **telegram: object) -> Config:
    return Config(
        telegram=TelegramConfig(**telegram),  # type: ignore[arg-type]
        database=DatabaseConfig(url=db_url),
        web=WebSettings(host="127.0.0.1", port=free_port(), **(web or {})),  # type: ignore[arg-type]
    )


async def test_local_mode_serves_the_web_page_without_a_token(
    db_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = web_config(db_url, token="")
    await add_cadre(config, clock, telegram_user_id=None)
    caplog.set_level(logging.INFO)

    async with running(config, clock) as base, browser() as http:
        async with http.get(f"{base}/") as page:
            assert page.status == 401 and zh.WEB_SIGNED_OUT in await page.text()
        url = await issue_link(config, clock)
        assert url.startswith(f"{base}/login/")
        html = await sign_in_and_add(http, url, ["与县大数据中心对接政务云迁移", "整理网信简报"])
        assert zh.WEB_SAVED.format(date="11月20日", count=2) in html

    assert zh.WEB_LOCAL_MODE in caplog.text
    assert f"web page listening on 127.0.0.1:{config.web.port}" in caplog.text
    assert await stored_texts(config) == ["与县大数据中心对接政务云迁移", "整理网信简报"]


async def test_without_a_token_and_without_the_web_page_there_is_nothing_to_run(
    db_url: str, clock: FrozenClock
) -> None:
    config = web_config(db_url, {"enabled": False}, token="")
    with pytest.raises(ConfigError, match="nothing to run"):
        await serve(config, clock=clock, stop=asyncio.Event(), migrate=False)


async def test_the_bot_and_the_web_page_share_one_process_and_one_log(
    db_url: str, clock: FrozenClock, api: FakeBotApi
) -> None:
    config = web_config(
        db_url, token=TOKEN, base_url=api.base_url, base_file_url=api.base_file_url,
        poll_timeout=1,
    )  # fmt: skip
    await add_cadre(config, clock, telegram_user_id=CADRE.id)

    async with running(config, clock), browser() as http:
        mark = api.mark()
        api.send_text(CADRE, "/weblogin")
        reply = (await api.wait_for_reply(CADRE.id, since=mark))[0]
        url = re.search(r"http://\S+/login/\S+", reply["text"])
        assert url, reply["text"]
        sent = api.calls("sendMessage", since=mark)[-1].params
        assert sent["link_preview_options"] == {"is_disabled": True}
        await sign_in_and_add(http, url.group(0), ["网页上记的一条"])

        mark = api.mark()
        api.send_text(CADRE, "/today")
        today = (await api.wait_for_reply(CADRE.id, since=mark))[0]["text"]
        assert "网页上记的一条" in today

        mark = api.mark()
        api.send_text(CADRE, "手机上记的一条")
        await api.wait_for_reply(CADRE.id, since=mark)
        async with http.get(url.group(0).split("/login/")[0] + "/") as day:
            assert "手机上记的一条" in await day.text()

        # Served over plain http: no Mini App button (Telegram wants HTTPS), /app says why.
        mark = api.mark()
        api.send_text(CADRE, "/app")
        assert (await api.wait_for_reply(CADRE.id, since=mark))[0]["text"] == zh.WEB_APP_NO_HTTPS
        assert api.menu_button == {"type": "default"}


async def test_served_over_https_the_menu_button_and_app_open_the_mini_app(
    db_url: str, clock: FrozenClock, api: FakeBotApi
) -> None:
    config = web_config(
        db_url, {"public_url": "https://rizhi.example.gov.cn/"}, token=TOKEN,
        base_url=api.base_url, base_file_url=api.base_file_url, poll_timeout=1,
    )  # fmt: skip
    await add_cadre(config, clock, telegram_user_id=CADRE.id)

    async with running(config, clock):
        assert api.menu_button == {
            "type": "web_app",
            "text": zh.WEB_MENU_BUTTON,
            "web_app": {"url": "https://rizhi.example.gov.cn/app"},
        }
        mark = api.mark()
        api.send_text(CADRE, "/app")
        reply = (await api.wait_for_reply(CADRE.id, since=mark))[0]
        assert reply["text"] == zh.WEB_APP_OPEN
        button = reply["reply_markup"]["inline_keyboard"][0][0]
        assert button == {
            "text": zh.WEB_APP_BUTTON,
            "web_app": {"url": "https://rizhi.example.gov.cn/app"},
        }


def test_weblink_prints_one_link_per_roster_id(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    assert main(["-c", str(config_path), "init"]) == 0
    roster = config_path.parent / "roster.csv"
    roster.write_text(
        "工号,姓名,单位,职务,上级工号,角色\nN001,王网页,县网信办,科员,,cadre\n", encoding="utf-8"
    )
    assert main(["-c", str(config_path), "roster", "import", str(roster)]) == 0
    capsys.readouterr()

    assert main(["-c", str(config_path), "weblink", "N001", "N404"]) == 1

    out, err = capsys.readouterr()
    assert re.search(r"王网页（N001）的网页登录链接，\d\d-\d\d \d\d:\d\d 前有效", out), out
    assert out.count("http://127.0.0.1:8080/login/") == 1
    assert zh.WEB_LINK_UNKNOWN.format(roster_id="N404") in err
