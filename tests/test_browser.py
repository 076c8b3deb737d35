"""The mobile web page in a real browser: headless Chromium on a 390×844 touch screen.

The page is served on 127.0.0.1 over the same services as the running bot (the real
Application against the fake Bot API, on SQLite and on PostgreSQL), so what is added on the
web is what the bot's /today shows. Each test taps and types as a person would and asserts on
what the screen shows and on what was stored; a full-page screenshot of each step goes to
$WORKLOG_ARTIFACTS (default artifacts/screenshots/).

Needs the playwright package (the test extra) and Debian's chromium (`./dev` installs it as
root); without them the module is skipped, unless WORKLOG_TEST_REQUIRE_BROWSER=1 (CI).

One browser serves the whole session and every test gets a fresh context, so the tests run on
the session's event loop; the bot fixtures are redefined here to run on that loop too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from urllib.parse import quote, urlsplit

import pytest
import pytest_asyncio

from services import zh
from services.clock import FrozenClock
from storage.models import LogEntry, WebLogin, WebSession
from tests.browser import (
    CHROMIUM,
    PHONE,
    REQUIRE_BROWSER,
    Phone,
    Site,
    browser_missing,
    login_path,
    serve,
    shot_name,
    signed_init_data,
)
from tests.fakebot import FakeBotApi, FakeUser
from tests.harness import TOKEN, BotHarness

MISSING = browser_missing()
if MISSING is not None:
    if REQUIRE_BROWSER:
        pytest.fail(
            f"browser tests required (WORKLOG_TEST_REQUIRE_BROWSER=1): {MISSING}", pytrace=False
        )
    pytest.skip(f"browser tests skipped: {MISSING}", allow_module_level=True)

from playwright.async_api import Browser, Locator, async_playwright  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="session")

ZHANG = FakeUser(id=3001, first_name="伟")
CHEN = FakeUser(id=3002, first_name="六")
LIU = FakeUser(id=3003, first_name="五")
FIRST = "与县发改委对接项目用地问题"
SECOND = "加班整理汇报材料"
REGULAR = zh.KIND_LABELS["regular"]
AFTER_HOURS = zh.KIND_LABELS["after_hours"]
MARKUP = '<script>alert("x")</script>走访<b>企业</b><img src=x onerror="alert(1)">'
# "Well under" the 200 KB a page may weigh on a county's mobile network.
PAGE_BUDGET = 200 * 1024


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def api(clock: FrozenClock) -> AsyncIterator[FakeBotApi]:
    """conftest's fake Bot API, on the session's loop (where the browser lives)."""
    server = FakeBotApi(clock=clock.now)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def bot(api: FakeBotApi, clock: FrozenClock, db_url: str) -> AsyncIterator[BotHarness]:
    """conftest's running bot, on the session's loop."""
    harness = BotHarness(api, clock, db_url)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def site(bot: BotHarness) -> AsyncIterator[Site]:
    async with serve(bot.services, TOKEN) as served:
        yield served


Phones = Callable[[], Awaitable[Phone]]


@pytest_asyncio.fixture(loop_scope="session")
async def phones(
    browser: Browser, site: Site, request: pytest.FixtureRequest
) -> AsyncIterator[Phones]:
    """Fresh phones (browser contexts: no cookies, no history) for this test."""
    name = shot_name(request.node.name)
    async with AsyncExitStack() as stack:
        made: list[Phone] = []

        async def new_phone() -> Phone:
            context = await browser.new_context(**PHONE)
            stack.push_async_callback(context.close)
            context.set_default_timeout(10_000)
            suffix = f"-phone{len(made) + 1}" if made else ""
            made.append(Phone(await context.new_page(), site.base, name + suffix))
            return made[-1]

        yield new_phone
        for phone in made:
            assert phone.dialogs == [], phone.dialogs


@pytest_asyncio.fixture(loop_scope="session")
async def phone(phones: Phones) -> Phone:
    return await phones()


async def tap_and_load(phone: Phone, target: str | Locator, role: str = "button") -> int:
    """Tap a button or link (by its name, or a locator) that loads a page; that page's status."""
    if isinstance(target, str):
        target = phone.page.get_by_role(role, name=target, exact=True)  # type: ignore[arg-type]
    async with phone.page.expect_navigation() as navigation:
        await target.tap()
    response = await navigation.value
    assert response is not None
    return response.status


async def sign_in(bot: BotHarness, phone: Phone, roster_id: str) -> None:
    """Open a fresh login link and tap 登录: the day page."""
    link = await bot.services.web_access.issue_link(roster_id=roster_id)
    await phone.open(login_path(link.url))
    assert await tap_and_load(phone, zh.WEB_LOGIN_BUTTON) == 200
    assert phone.page.url == phone.base + "/"


async def write_entries(phone: Phone, *rows: tuple[str, str]) -> None:
    """Type (text, kind label) rows into the day page's form, adding rows with ＋ 再加一条."""
    form = phone.page.locator("form#add")
    for n, (text, kind) in enumerate(rows):
        row = form.locator("#rows .row").nth(n)
        if n:
            await form.get_by_role("button", name="＋ 再加一条").tap()
            # The new row comes empty, with the cursor in it.
            assert await row.locator("textarea").evaluate("t => t === document.activeElement")
        assert await row.locator("textarea").input_value() == ""
        await row.locator("textarea").fill(text)
        await row.locator("select").select_option(label=kind)
    assert await form.locator("#rows .row").count() == len(rows)


async def test_a_link_signs_in_and_two_entries_typed_on_the_phone_reach_the_bot(
    bot: BotHarness, site: Site, phone: Phone
) -> None:
    await bot.enrol(ZHANG, "A001", "张伟")
    link = await bot.services.web_access.issue_link(roster_id="A001")
    weights: dict[str, int] = {}
    # Opening the address (a chat's link preview, then the person) shows a button, spends nothing.
    for _ in range(2):
        assert (await phone.open(login_path(link.url))).status == 200
    assert await phone.text("main p") == zh.WEB_LOGIN_CONFIRM.format(minutes=15)
    assert await phone.page.get_by_role("button", name=zh.WEB_LOGIN_BUTTON).is_visible()
    assert [row.used_at for row in await bot.rows(WebLogin)] == [None]
    assert await phone.cookies() == []
    weights["login"] = await phone.weight()
    await phone.shot("1-link")

    assert await tap_and_load(phone, zh.WEB_LOGIN_BUTTON) == 200
    assert phone.page.url == site.base + "/"
    assert await phone.cookies() == ["worklog_session"]
    assert await phone.text("header .who") == "张伟"
    assert await phone.text("h1") == "11月20日 星期五"
    assert await phone.text("p.empty") == "今天还没有记录。"
    weights["day"] = await phone.weight()

    await write_entries(phone, (FIRST, REGULAR), (SECOND, AFTER_HOURS))
    await phone.page.locator("form#add textarea[name=reflection]").fill("要提前沟通")
    await phone.shot("2-form")
    assert await tap_and_load(phone, "保存") == 200
    assert await phone.text("p.notice") == "已记录11月20日2条。"
    assert await phone.texts("ol.entries li .text") == [FIRST, SECOND]
    assert await phone.texts("ol.entries li .tag") == [AFTER_HOURS]
    assert await phone.text("p.reflection") == "心得体会：要提前沟通"
    # The form is empty again, with one row, for the next entry.
    assert await phone.page.locator("#rows .row").count() == 1
    assert await phone.page.locator("#rows textarea").input_value() == ""
    weights["saved"] = await phone.weight()
    await phone.shot("3-day")
    stored = await bot.entries("A001")
    assert [(e.item_no, e.text, e.kind, e.channel) for e in stored] == [
        (1, FIRST, "regular", "web"),
        (2, SECOND, "after_hours", "web"),
    ]

    assert await tap_and_load(phone, "本月", role="link") == 200
    assert phone.page.url == site.base + "/month"
    assert await phone.text("h1") == "2026年11月"
    today = phone.page.locator("table.calendar td", has=phone.page.locator("span.d", has_text="20"))
    assert await today.count() == 1
    assert await today.get_attribute("class") == "logged"
    assert await today.locator("span.n").inner_text() == "2条"
    assert await phone.texts("main h2") == ["11月20日"]
    assert await phone.texts("ol.entries li .text") == [FIRST, SECOND]
    weights["month"] = await phone.weight()
    await phone.shot("4-month")

    # The bot reads the same log.
    [today_reply] = await bot.say(ZHANG, "/today")
    assert today_reply.startswith("11月20日（周五）工作日志 2条\n"), today_reply
    assert FIRST in today_reply and f"{SECOND}【{AFTER_HOURS}】" in today_reply
    assert today_reply.endswith("心得体会：要提前沟通"), today_reply
    print(f"page weights (bytes): {weights}")
    assert all(0 < size < PAGE_BUDGET for size in weights.values()), weights


async def test_markup_typed_into_an_entry_is_shown_as_text(bot: BotHarness, phone: Phone) -> None:
    await bot.add_person("A001", "张伟")
    await sign_in(bot, phone, "A001")
    await write_entries(phone, (MARKUP, REGULAR))
    assert await tap_and_load(phone, "保存") == 200
    assert await phone.texts("ol.entries li .text") == [MARKUP]
    main = phone.page.locator("main")
    for tag in ("script", "b", "img"):
        assert await main.locator(tag).count() == 0, tag
    await phone.shot("day")
    await phone.open("/month")
    assert await phone.texts("ol.entries li .text") == [MARKUP]
    assert await main.locator("script, b, img").count() == 0
    assert phone.dialogs == []
    assert [e.text for e in await bot.entries()] == [MARKUP]


async def test_a_forged_or_replayed_link_is_refused_and_signs_nobody_in(
    bot: BotHarness, phones: Phones
) -> None:
    await bot.add_person("A001", "张伟")
    forger = await phones()
    assert (await forger.open("/login/not-a-real-token")).status == 200
    assert await tap_and_load(forger, zh.WEB_LOGIN_BUTTON) == 400
    assert await forger.text() == zh.WEB_LINK_FORGED
    assert await forger.cookies() == []
    await forger.shot("forged")
    assert (await forger.open("/")).status == 401
    assert await forger.text() == zh.WEB_SIGNED_OUT
    assert await forger.page.locator("header nav, footer form").count() == 0

    # 张伟 signs in with his link; the same link, forwarded to another phone, is spent.
    owner, other = await phones(), await phones()
    link = await bot.services.web_access.issue_link(roster_id="A001")
    await owner.open(login_path(link.url))
    assert await tap_and_load(owner, zh.WEB_LOGIN_BUTTON) == 200
    await other.open(login_path(link.url))
    assert await tap_and_load(other, zh.WEB_LOGIN_BUTTON) == 400
    assert await other.text() == zh.WEB_LINK_USED
    assert await other.cookies() == []
    await other.shot("replayed")
    assert (await other.open("/")).status == 401
    assert await other.text() == zh.WEB_SIGNED_OUT
    await other.shot("signed-out")
    assert [(s.via, s.ended_at) for s in await bot.rows(WebSession)] == [("link", None)]


async def open_mini_app(phone: Phone, fragment: str) -> int:
    """Open /app as Telegram does; its script posts the signed data. The answer's status."""
    page = phone.page
    await page.goto("about:blank")  # a fresh document, not a jump within /app
    async with page.expect_response(phone.base + "/auth/telegram") as answer:
        await page.goto(f"{phone.base}/app{fragment}", wait_until="commit")
    await page.wait_for_load_state("load")
    return (await answer.value).status


async def test_the_mini_app_refuses_forged_data_and_signs_in_with_telegrams(
    bot: BotHarness, clock: FrozenClock, site: Site, phone: Phone
) -> None:
    await bot.enrol(ZHANG, "A001", "张伟")
    now = int(clock.now().timestamp())
    # Opened outside Telegram: nothing to post, a hint.
    assert (await phone.open("/app")).status == 200
    await phone.page.wait_for_function("document.getElementById('app-status').textContent")
    assert await phone.text("#app-status") == "请从 Telegram 机器人中打开。"

    forged = signed_init_data(ZHANG.id, now, "999:NOT-THIS-BOT")
    assert await open_mini_app(phone, "#tgWebAppData=" + quote(forged, safe="")) == 400
    assert phone.page.url == site.base + "/auth/telegram"
    assert await phone.text() == zh.WEB_APP_DATA_BAD
    assert await phone.cookies() == []
    await phone.shot("forged")
    assert await bot.count(WebSession) == 0

    signed = signed_init_data(ZHANG.id, now, TOKEN)
    fragment = f"#tgWebAppData={quote(signed, safe='')}&tgWebAppVersion=8.0&tgWebAppPlatform=ios"
    assert await open_mini_app(phone, fragment) == 303
    assert phone.page.url == site.base + "/"
    assert await phone.text("header .who") == "张伟"
    assert await phone.text("p.empty") == "今天还没有记录。"
    assert await phone.cookies() == ["worklog_session"]
    await phone.shot("signed-in")
    assert [s.via for s in await bot.rows(WebSession)] == ["telegram"]


async def test_a_form_without_its_csrf_token_is_refused_and_stores_nothing(
    bot: BotHarness, phone: Phone
) -> None:
    await bot.add_person("A001", "张伟")
    await sign_in(bot, phone, "A001")
    await write_entries(phone, ("参加全县项目推进会", REGULAR))
    await phone.page.evaluate("document.querySelector('form#add input[name=csrf]').remove()")
    assert await tap_and_load(phone, "保存") == 403
    assert await phone.text() == zh.WEB_CSRF
    await phone.shot("refused")
    assert await bot.count(LogEntry) == 0
    # Still signed in: the page, reloaded, saves the same entry.
    await phone.open("/")
    await write_entries(phone, ("参加全县项目推进会", REGULAR))
    assert await tap_and_load(phone, "保存") == 200
    assert [e.text for e in await bot.entries()] == ["参加全县项目推进会"]


async def test_a_supervisor_reads_direct_reports_and_nobody_else(
    bot: BotHarness, site: Site, phones: Phones
) -> None:
    if not site.has_route("/team"):
        pytest.skip("the web app has no /team pages yet")
    # 王科 supervises 张三 and 陈六; 刘五 is 李科's. Each of the three logged something today.
    await bot.add_person("A000", "周局")
    await bot.add_person("A001", "王科", supervisor="A000")
    await bot.add_person("A003", "李科", supervisor="A000")
    logs = {
        "A002": ("张三", ZHANG, "A001", "到城关镇调研乡村振兴项目推进情况"),
        "A005": ("陈六", CHEN, "A001", "接待来访群众3人次"),
        "A004": ("刘五", LIU, "A003", "参加全县安全生产工作会议"),
    }
    for roster_id, (name, user, boss, text) in logs.items():
        await bot.enrol(user, roster_id, name, supervisor=boss)
        [reply] = await bot.say(user, text)
        assert reply.startswith("已记录 11月20日"), reply
    ids = {roster_id: (await bot.person(roster_id)).id for roster_id in logs}
    texts = {roster_id: log[3] for roster_id, log in logs.items()}

    boss = await phones()
    await sign_in(bot, boss, "A001")
    assert await tap_and_load(boss, "团队", role="link") == 200
    assert urlsplit(boss.page.url).path == "/team"
    people = boss.page.locator("main a[href^='/team/']")
    listed = {}
    for link in await people.all():
        listed[urlsplit(await link.get_attribute("href") or "").path] = await link.inner_text()
    assert sorted(listed) == sorted([f"/team/{ids['A002']}", f"/team/{ids['A005']}"])
    assert "张三" in listed[f"/team/{ids['A002']}"] and "陈六" in listed[f"/team/{ids['A005']}"]
    assert "刘五" not in await boss.text()
    await boss.shot("team")

    assert await tap_and_load(boss, people.filter(has_text="张三")) == 200
    assert urlsplit(boss.page.url).path == f"/team/{ids['A002']}"
    assert "张三" in await boss.text("h1")
    assert await boss.texts("ol.entries li .text") == [texts["A002"]]
    await boss.shot("report")

    # Someone else's report, and a peer reading a peer: refused, nothing of theirs shown.
    refused = await boss.open(f"/team/{ids['A004']}")
    assert refused.status == 403
    assert await boss.page.locator("main .message").count() == 1
    assert await boss.page.locator("ol.entries").count() == 0
    seen = await boss.text()
    assert texts["A004"] not in seen and "刘五" not in seen
    await boss.shot("refused")
    peer = await phones()
    await sign_in(bot, peer, "A002")
    assert await peer.page.get_by_role("link", name="团队").count() == 0
    refused = await peer.open(f"/team/{ids['A005']}")
    assert refused.status == 403
    assert texts["A005"] not in await peer.text()
