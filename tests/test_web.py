"""The web page over HTTP (aiohttp's test server, the real services, SQLite and PostgreSQL):
sign-in by link and by the Mini App's signed data, adding and withdrawing entries, the month,
and bad input — a forged or replayed link, a missing CSRF token, another person's entry,
markup in entries, dates outside the window, oversized posts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from services import zh
from services.entries import EntrySource, FormRow
from services.policy import WebSettings
from services.web_access import verify_init_data
from storage.models import LogEntry, Person, Project, ProjectMember, WebSession
from storage.models import Rating as RatingRow
from tests.services_fixtures import Env, at
from web.app import COOKIE, build_web_app

pytest_plugins = ("tests.services_fixtures",)

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
async def client(env: Env) -> AsyncIterator[TestClient]:
    app = build_web_app(env.services, WebSettings(logins_per_minute=8), bot_token=TOKEN)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def path_of(url: str) -> str:
    return url[url.index("/login/") :]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def nonce_of(html: str) -> str:
    match = re.search(r'name="nonce" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def sign_in(env: Env, client: TestClient, roster_id: str) -> str:
    """Open a fresh link as a person would; the day page's HTML."""
    link = await env.services.web_access.issue_link(roster_id=roster_id)
    client.session.cookie_jar.clear()
    page = await client.get(path_of(link.url))
    assert page.status == 200 and "登录" in await page.text()
    signed_in = await client.post(path_of(link.url))
    assert signed_in.status == 200 and str(signed_in.url).endswith("/")
    return await signed_in.text()


async def test_a_link_signs_in_once_and_the_day_page_adds_entries(
    env: Env, client: TestClient
) -> None:
    person = await env.person("W001", "王网页")
    link = await env.services.web_access.issue_link(roster_id="W001")
    # Opening the address (or a link preview fetching it) does not use the link up.
    for _ in range(2):
        page = await client.get(path_of(link.url))
        assert page.status == 200
    signed_in = await client.post(path_of(link.url), allow_redirects=False)
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/"
    cookie = signed_in.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here; public_url https:// adds it
    day = await client.get("/")
    html = await day.text()
    assert day.status == 200 and "王网页" in html and "今天还没有记录" in html
    # Two rows, the second after hours; the reply is the day page with both.
    form = {
        "csrf": csrf_of(html),
        "nonce": nonce_of(html),
        "date": "2026-11-20",
        "item": ["与县发改委对接项目用地问题", "加班整理汇报材料"],
        "kind": ["regular", "after_hours"],
        "reflection": "要提前沟通",
    }
    saved = await client.post("/entries", data=form)
    text = await saved.text()
    assert saved.status == 200 and "已记录11月20日2条。" in text
    assert "与县发改委对接项目用地问题" in text and "八小时外" in text
    entries = await env.rows(LogEntry, LogEntry.person_id == person)
    assert [(e.text, e.kind, e.channel) for e in entries] == [
        ("与县发改委对接项目用地问题", "regular", "web"),
        ("加班整理汇报材料", "after_hours", "web"),
    ]
    # The bot's /today reads the same log.
    day_view = await env.services.entries.day(person)
    assert [e.text for e in day_view.entries] == [e.text for e in entries]
    assert day_view.reflection == "要提前沟通"
    # The same form sent twice (a double tap, a reload) stores nothing more.
    again = await client.post("/entries", data=form)
    assert zh.WEB_REPLAYED in await again.text()
    assert await env.count(LogEntry) == 2
    # The month page shows the day as logged and lists the entries.
    month = await (await client.get("/month")).text()
    assert "2026年11月" in month and "加班整理汇报材料" in month
    assert '<td class="logged"><span class="d">20</span><span class="n">2条</span>' in month
    # A used link stays used.
    client.session.cookie_jar.clear()
    replay = await client.post(path_of(link.url))
    assert replay.status == 400 and zh.WEB_LINK_USED in await replay.text()
    assert await env.count(WebSession) == 1


async def test_forged_and_expired_links_show_a_page_never_a_session(
    env: Env, client: TestClient
) -> None:
    await env.person("W001", "王网页")
    forged = await client.post("/login/not-a-real-token")
    assert forged.status == 400 and zh.WEB_LINK_FORGED in await forged.text()
    link = await env.services.web_access.issue_link(roster_id="W001")
    env.clock.advance(minutes=16)
    expired = await client.post(path_of(link.url))
    assert expired.status == 400 and zh.WEB_LINK_EXPIRED in await expired.text()
    assert await env.count(WebSession) == 0
    page = await client.get("/")
    assert page.status == 401 and zh.WEB_SIGNED_OUT in await page.text()


async def test_posts_without_the_csrf_token_or_with_bad_input_store_nothing(
    env: Env, client: TestClient
) -> None:
    await env.person("W001", "王网页")
    html = await sign_in(env, client, "W001")
    base = {"nonce": "n1", "date": "2026-11-20", "item": ["一条记录"], "kind": ["regular"]}
    for csrf in (None, "", "wrong"):
        form = dict(base) if csrf is None else {**base, "csrf": csrf}
        refused = await client.post("/entries", data=form)
        assert refused.status == 403 and zh.WEB_CSRF in await refused.text()
    token = csrf_of(html)
    cases = [
        ({**base, "date": "2026-11-01"}, "只能补记", 403),
        ({**base, "date": "2026-11-21"}, "将来的日期", 403),
        ({**base, "date": "not-a-date"}, zh.WEB_BAD_DATE, 400),
        ({**base, "item": ["   "]}, "内容是空的", 400),
        ({**base, "item": ["一件事"] * 31, "kind": []}, zh.TOO_MANY_ROWS.format(limit=30), 400),
    ]
    for form, shown, status in cases:
        refused = await client.post("/entries", data={**form, "csrf": token})
        assert refused.status == status, form
        assert shown in await refused.text(), form
    # 10,000 rows in one post are refused before they are read.
    flood = await client.post("/entries", data={**base, "csrf": token, "item": ["一件事"] * 10_000})
    assert flood.status == 413 and zh.WEB_TOO_LARGE in await flood.text()
    assert await env.count(LogEntry) == 0


async def test_markup_in_an_entry_is_shown_as_text(env: Env, client: TestClient) -> None:
    await env.person("W001", "王网页")
    html = await sign_in(env, client, "W001")
    form = {
        "csrf": csrf_of(html),
        "nonce": "x",
        "date": "2026-11-20",
        "item": ['<script>alert("x")</script>走访<b>企业</b>'],
        "kind": ["regular"],
    }
    page = await (await client.post("/entries", data=form)).text()
    assert "<script>alert" not in page and "<b>企业</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;走访&lt;b&gt;企业&lt;/b&gt;" in page


async def test_only_ones_own_entries_can_be_withdrawn(env: Env, client: TestClient) -> None:
    other = await env.person("W002", "李别人")
    await env.person("W001", "王网页")
    theirs = await env.services.entries.record_items(
        other,
        env.services.entries.today(),
        [FormRow("别人的记录")],
        EntrySource.web(other, "seed", env.clock.now()),
    )
    html = await sign_in(env, client, "W001")
    token = csrf_of(html)
    refused = await client.post(f"/entries/{theirs.entries[0].id}/withdraw", data={"csrf": token})
    assert refused.status == 404 and zh.STALE_BUTTON in await refused.text()
    for bad in ("99999999999", "abc"):
        missing = await client.post(f"/entries/{bad}/withdraw", data={"csrf": token})
        assert missing.status == 404
    [entry] = await env.rows(LogEntry)
    assert entry.withdrawn is False


def init_data(user_id: int, signed_at: int, token: str = TOKEN, **extra: str) -> str:
    fields = {"auth_date": str(signed_at), "user": json.dumps({"id": user_id}), **extra}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


async def test_the_mini_app_signs_in_with_telegrams_signed_data(
    env: Env, client: TestClient
) -> None:
    await env.person("W001", "王网页", telegram_user_id=5001)
    now = int(env.clock.now().timestamp())
    refused = [
        (init_data(5001, now, token="999:OTHER"), zh.WEB_APP_DATA_BAD),
        (init_data(5001, now)[:-2] + "00", zh.WEB_APP_DATA_BAD),
        ("user=%7B%22id%22%3A5001%7D", zh.WEB_APP_DATA_BAD),
        (init_data(5001, now - 2 * 3600), zh.WEB_APP_DATA_OLD),
        (init_data(6001, now), zh.WEB_APP_NOT_BOUND),
    ]
    for data, shown in refused:
        answer = await client.post("/auth/telegram", data={"init_data": data})
        assert answer.status == 400, data
        assert shown in await answer.text(), data
    assert await env.count(WebSession) == 0
    client.session.cookie_jar.clear()
    signed_in = await client.post("/auth/telegram", data={"init_data": init_data(5001, now)})
    assert "王网页" in await signed_in.text()
    assert (await env.one(WebSession)).via == "telegram"


def test_init_data_check_is_telegrams_algorithm() -> None:
    now = at(20)
    data = init_data(42, int(now.timestamp()), query_id="AAH", chat_type="sender")
    assert verify_init_data(data, TOKEN, now, timedelta(hours=1)) == 42


async def test_logins_are_rate_limited_and_logout_ends_the_session(
    env: Env, client: TestClient
) -> None:
    await env.person("W001", "王网页")
    html = await sign_in(env, client, "W001")
    out = await client.post("/logout", data={"csrf": csrf_of(html)})
    assert zh.WEB_LOGGED_OUT in await out.text()
    assert (await client.get("/")).status == 401
    assert (await env.one(WebSession)).ended_at is not None
    # Eight sign-in attempts a minute from one address (the fixture's setting), then 429.
    statuses = [(await client.post("/login/guess")).status for _ in range(8)]
    assert statuses == [400] * 7 + [429]


async def record(env: Env, person_id: int, *texts: str) -> None:
    await env.services.entries.record_items(
        person_id,
        env.services.entries.today(),
        [FormRow(text) for text in texts],
        EntrySource.web(person_id, f"seed-{person_id}-{texts[0]}", env.clock.now()),
    )


async def test_a_supervisor_reads_the_team_and_a_reports_entries_as_in_the_bot(
    env: Env, client: TestClient
) -> None:
    boss = await env.person("B001", "赵主任")
    report = await env.person("R001", "钱科员", supervisor_id=boss)
    idle = await env.person("R002", "孙科员", supervisor_id=boss)
    stranger = await env.person("S001", "周外人")
    await record(env, report, "起草<b>年度</b>总结", "走访企业2家")
    await record(env, stranger, "别人的秘密")

    html = await sign_in(env, client, "B001")
    assert 'href="/team"' in html  # the nav shows the team to a supervisor
    team = await client.get("/team")
    page = await team.text()
    assert team.status == 200
    assert page.index("孙科员") < page.index("钱科员")  # laggards first
    assert f'href="/team/{report}?period=' in page and "今天未记" in page

    drill = await client.get(f"/team/{report}?period=本月")
    text = await drill.text()
    assert drill.status == 200
    assert "起草&lt;b&gt;年度&lt;/b&gt;总结" in text and "走访企业2家" in text
    reads = await env.audit("read")
    assert sorted((r.actor_person_id, r.subject_person_id, r.command) for r in reads) == sorted(
        [(boss, report, "team"), (boss, idle, "team"), (boss, report, "review")]
    )

    # Someone else's log: refused, recorded, nothing shown.
    refused = await client.get(f"/team/{stranger}")
    body = await refused.text()
    assert refused.status == 403 and "别人的秘密" not in body and zh.WEB_NOT_YOUR_REPORT in body
    [attempt] = await env.audit("read_refused")
    assert (attempt.actor_person_id, attempt.subject_person_id) == (boss, stranger)
    for bad in ("0", "abc", "99999999999"):
        assert (await client.get(f"/team/{bad}")).status == 404
    # A period word the page does not offer falls back to this month.
    assert (await client.get(f"/team/{report}?period=<script>")).status == 200


async def test_a_cadre_without_reports_has_no_team(env: Env, client: TestClient) -> None:
    await env.person("W001", "王网页")
    html = await sign_in(env, client, "W001")
    assert 'href="/team"' not in html
    answer = await client.get("/team")
    assert answer.status == 403 and zh.NO_REPORTS in await answer.text()


async def test_an_entry_is_edited_on_its_page_and_its_history_shown(
    env: Env, client: TestClient
) -> None:
    me = await env.person("W001", "王网页")
    other = await env.person("W002", "李别人")
    await record(env, me, "与县发改委对接项目用地")
    await record(env, other, "别人的记录")
    mine, theirs = sorted(await env.rows(LogEntry), key=lambda e: e.person_id != me)
    html = await sign_in(env, client, "W001")
    assert f'href="/entries/{mine.id}"' in html
    token = csrf_of(html)

    page = await (await client.get(f"/entries/{mine.id}")).text()
    assert "没有修改过" in page and "保存修改" in page
    form = {
        "csrf": token,
        "text": "与县自然资源局对接<项目>用地",
        "kind": "other",
        "collaborator": "县自然资源局",
        "shown_collaborator": "",
    }
    edited = await client.post(f"/entries/{mine.id}", data=form)
    text = await edited.text()
    assert edited.status == 200 and zh.WEB_EDITED.format(n=1) in text
    assert "与县自然资源局对接&lt;项目&gt;用地" in text and "修改内容" in text
    stored = await env.one(LogEntry, LogEntry.id == mine.id)
    assert (stored.text, stored.kind, stored.collaborator) == (
        "与县自然资源局对接<项目>用地",
        "other",
        "县自然资源局",
    )
    again = await client.post(f"/entries/{mine.id}", data=form)
    assert zh.WEB_UNCHANGED in await again.text()

    # Someone else's entry, a blank text, an unknown kind, a missing token: refused, unchanged.
    refusals = [
        (f"/entries/{theirs.id}", {**form, "text": "篡改"}, 404),
        (f"/entries/{mine.id}", {**form, "text": "  "}, 400),
        (f"/entries/{mine.id}", {**form, "kind": "boss"}, 400),
        (f"/entries/{mine.id}", {**form, "csrf": "", "text": "无令牌"}, 403),
        (f"/entries/{mine.id}", {**form, "collaborator": "长" * 101}, 400),
    ]
    for path, data, status in refusals:
        assert (await client.post(path, data=data)).status == status, data
    assert (await client.get(f"/entries/{theirs.id}")).status == 404
    assert (await env.one(LogEntry, LogEntry.id == theirs.id)).text == "别人的记录"
    assert (await env.one(LogEntry, LogEntry.id == mine.id)).text == "与县自然资源局对接<项目>用地"

    # Withdrawn: the page keeps the history and offers no form.
    await client.post(f"/entries/{mine.id}/withdraw", data={"csrf": token})
    page = await (await client.get(f"/entries/{mine.id}")).text()
    assert "保存修改" not in page and "已撤回" in page and "撤回" in page
    history = page[page.index('<ol class="history">') :]
    # The new text brought its collaborator with it (the extractor), so no change of its own.
    labels = re.findall(r'<span class="meta">\S+ \S+ ([^<]+)</span>', history)
    assert labels == ["修改内容", "修改类别", "撤回"]
    assert "合作者：县发改委 → 县自然资源局" in history


async def add_project(env: Env, name: str, member: int | None) -> int:
    now = env.clock.now()
    row = {"name": name, "aliases": "", "category": "工业", "stage": "building",
           "created_at": now, "updated_at": now}  # fmt: skip
    await env.insert_rows(Project, [row])
    project = await env.one(Project, Project.name == name)
    if member is not None:
        await env.insert_rows(ProjectMember, [{"project_id": project.id, "person_id": member}])
    return int(project.id)


async def test_the_add_form_picks_a_project_and_a_collaborator_per_row(
    env: Env, client: TestClient
) -> None:
    me = await env.person("W001", "王网页")
    mine = await add_project(env, "华新技改扩能项目", me)
    foreign = await add_project(env, "别家物流园", None)
    html = await sign_in(env, client, "W001")
    assert f'<option value="{mine}">项目：华新技改扩能项目</option>' in html
    assert "别家物流园" not in html
    base = {"csrf": csrf_of(html), "date": "2026-11-20"}

    saved = await client.post(
        "/entries",
        data=[
            *base.items(), ("nonce", "p1"),
            ("item", "现场协调设备进场"), ("kind", "regular"), ("with", "县工信局"),
            ("project", str(mine)),
            ("item", "参加理论学习"), ("kind", "other"), ("with", ""), ("project", ""),
        ],
    )  # fmt: skip
    assert zh.WEB_SAVED.format(date="11月20日", count=2) in await saved.text()
    first, second = sorted(await env.rows(LogEntry), key=lambda e: e.item_no)
    assert (first.project_id, first.collaborator) == (mine, "县工信局")
    assert (second.project_id, second.kind) == (None, "other")

    # A project the cadre is not on, a made-up or huge id: refused, nothing stored.
    for bad in (str(foreign), "999999", "99999999999", "x"):
        refused = await client.post(
            "/entries",
            data=[*base.items(), ("nonce", f"bad{bad}"), ("item", "伪造"), ("project", bad)],
        )
        assert refused.status == 403, bad
        assert zh.WEB_PROJECT_NOT_YOURS in await refused.text()
    assert await env.count(LogEntry) == 2


async def test_collaborator_suggestions_come_from_the_roster(env: Env, client: TestClient) -> None:
    await env.person("W001", "王网页")
    await env.person("W002", "王小明", unit="县发改委")
    await env.person("W003", "王退休", active=False)
    await env.person("W004", "李%号")
    assert (await client.get("/people?q=王")).status == 401  # only when signed in
    await sign_in(env, client, "W001")

    found = await (await client.get("/people?q=王")).json()
    assert {"value": "王小明", "unit": "县发改委"} in found
    assert all(item["value"] != "王退休" for item in found)
    units = await (await client.get("/people?q=发改")).json()
    assert units == [{"value": "县发改委", "unit": "单位"}]
    assert await (await client.get("/people?q=%")).json() == []  # a wildcard is a character
    assert [i["value"] for i in await (await client.get("/people?q=李%")).json()] == ["李%号"]
    assert await (await client.get("/people?q=")).json() == []
    assert await (await client.get("/people?q=" + "长" * 500)).json() == []


async def test_a_rater_sees_the_quota_and_rates_within_it(env: Env, client: TestClient) -> None:
    rater = await env.person("RT01", "吴评定")
    async with env.sessions() as db:
        await db.execute(update(Person).where(Person.id == rater).values(roles="cadre,rater"))
        await db.commit()
    cadres = [await env.person(f"C00{i}", f"干部{i}") for i in range(1, 6)]  # 5 → 2 好
    await env.person("X001", "外单位", unit="县外事办")
    html = await sign_in(env, client, "RT01")
    assert 'href="/ratings"' in html
    page = await (await client.get("/ratings")).text()
    assert "干部1" in page and "未评定" in page and "外单位" not in page
    assert '<span class="name">吴评定' not in page  # not oneself
    token = csrf_of(page)

    for who in ("C001", "C002"):
        saved = await client.post("/ratings", data={"csrf": token, "who": who, "grade": "好"})
        assert saved.status == 200 and "已评定" in await saved.text()
    full = await client.post("/ratings", data={"csrf": token, "who": "C003", "grade": "好"})
    assert full.status == 400 and "名额" in await full.text()
    fair = await client.post("/ratings", data={"csrf": token, "who": "C003", "grade": "较好"})
    assert "较好" in await fair.text()
    rows = {(r.person_id, r.grade) for r in await env.rows(RatingRow)}
    assert rows == {(cadres[0], "good"), (cadres[1], "good"), (cadres[2], "fair")}

    # Outside the rater's units, a forged grade or unit, no token: refused, nothing stored.
    refusals = [
        ({"csrf": token, "who": "X001", "grade": "差"}, 403),
        ({"csrf": token, "who": "C004", "grade": "优秀"}, 400),
        ({"csrf": "", "who": "C004", "grade": "差"}, 403),
    ]
    for data, status in refusals:
        assert (await client.post("/ratings", data=data)).status == status, data
    assert len(await env.rows(RatingRow)) == 3
    other_unit = await env.unit("县外事办")
    assert (await client.get(f"/ratings?unit={other_unit}")).status == 403
    assert (await client.get("/ratings?unit=abc")).status == 404


async def test_the_ratings_page_is_for_raters_only(env: Env, client: TestClient) -> None:
    await env.person("W001", "王网页")
    html = await sign_in(env, client, "W001")
    assert 'href="/ratings"' not in html
    answer = await client.get("/ratings")
    assert answer.status == 403 and zh.RATE_NOT_RATER in await answer.text()


async def test_a_large_team_is_paged_like_team_in_the_bot(env: Env, client: TestClient) -> None:
    boss = await env.person("B001", "赵主任")
    size = env.services.review.rules.team_page_size
    for n in range(size + 1):
        await env.person(f"R{n:03d}", f"科员{n:03d}", supervisor_id=boss)
    await sign_in(env, client, "B001")

    first = await (await client.get("/team?period=上月")).text()
    assert first.count('<a href="/team/') == size
    assert 'href="/team?period=%E4%B8%8A%E6%9C%88&amp;page=2">下一页' in first
    assert "上一页" not in first and "第1/2页" in first
    second = await (await client.get("/team?period=上月&page=2")).text()
    assert second.count('<a href="/team/') == 1 and "第2/2页" in second
    assert 'href="/team?period=%E4%B8%8A%E6%9C%88&amp;page=1">◀ 上一页' in second
    assert "下一页" not in second
    # A page past the end shows the last one; a page that is no number shows the first.
    assert "第2/2页" in await (await client.get("/team?page=99")).text()
    assert "第1/2页" in await (await client.get("/team?page=x")).text()
