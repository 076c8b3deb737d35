"""The web page's aiohttp application: sign-in, my day with the add form, my month.

Thin like the Telegram handlers: read the request into plain values, call one use case,
render its plain data with a Jinja2 template (autoescaped: entry text is never markup).
Every POST of a signed-in page carries the session's CSRF token; a login link is redeemed
by a POST from its page, so a link preview fetching the address does not use it up.
"""

from __future__ import annotations

import calendar
import hmac
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from scoring.grades import Rating
from services import Services, zh
from services.charts import heat_days
from services.entries import EntryKind, EntrySource, FormRow
from services.errors import DomainError, NotAllowed, NotFound
from services.policy import WebSettings
from services.web_access import APP_PATH, NewSession, Visitor

COOKIE = "worklog_session"
HERE = Path(__file__).parent
SERVICES = web.AppKey("services", Services)
SETTINGS = web.AppKey("settings", WebSettings)
BOT_TOKEN = web.AppKey("bot_token", str)
# The Telegram webhook's path when the service runs in webhook mode: it has its own check.
WEBHOOK_PATH = web.AppKey("webhook_path", str)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
# Pages anyone may open; everything else needs a session.
PUBLIC = ("/login/", APP_PATH, "/auth/telegram", "/static/")
MAX_ID = 2**31 - 1
KIND_OPTIONS = [(kind.value, zh.KIND_LABELS[kind.value]) for kind in EntryKind]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoginLimiter:
    """At most `limit` sign-in attempts per client address in any minute."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self.seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, address: str) -> bool:
        now = self.clock()
        recent = self.seen[address]
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        return True


LIMITER = web.AppKey("limiter", LoginLimiter)
KINDS = {kind.value: kind for kind in EntryKind}


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    page = request.app[TEMPLATES].get_template(template)
    html = page.render(visitor=request.get("visitor"), kinds=zh.KIND_LABELS, zh=zh, **values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def message(request: web.Request, text: str, status: int) -> web.Response:
    return render(request, "message.html", status, title=zh.WEB_TITLE, message=text)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; a session for private pages; CSRF on their POSTs."""
    try:
        response = await _guarded(request, handler)
    except web.HTTPRequestEntityTooLarge:
        response = message(request, zh.WEB_TOO_LARGE, 413)
    except web.HTTPNotFound:
        response = message(request, zh.WEB_NOT_FOUND, 404)
    except NotAllowed as error:
        response = message(request, error.reply, 403)
    except NotFound as error:
        response = message(request, error.reply, 404)
    except DomainError as error:
        response = message(request, error.reply, 400)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'self' https://web.telegram.org"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The login token is in the address: never hand it to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC) or request.path == request.app.get(WEBHOOK_PATH):
        return await handler(request)
    services = request.app[SERVICES]
    visitor = await services.web_access.visitor(request.cookies.get(COOKIE))
    if visitor is None:
        return message(request, zh.WEB_SIGNED_OUT, 401)
    request["visitor"] = visitor
    if request.method == "POST":
        form = await request.post()
        sent = str(form.get("csrf", ""))
        if not hmac.compare_digest(sent.encode(), visitor.csrf.encode()):
            return message(request, zh.WEB_CSRF, 403)
        request["form"] = form
    return await handler(request)


def _signed_in(request: web.Request, started: NewSession) -> web.Response:
    response = web.HTTPSeeOther("/")
    settings = request.app[SETTINGS]
    response.set_cookie(
        COOKIE,
        started.token,
        max_age=settings.signed_in_days * 86400,
        httponly=True,
        samesite="Lax",
        secure=settings.secure,
        path="/",
    )
    return response


def _client(request: web.Request) -> str:
    return request.remote or "?"


async def login_page(request: web.Request) -> web.Response:
    minutes = request.app[SETTINGS].login_ttl_minutes
    prompt = zh.WEB_LOGIN_CONFIRM.format(minutes=minutes)
    return render(request, "login.html", title=zh.WEB_TITLE, prompt=prompt)


async def login(request: web.Request) -> web.Response:
    if not request.app[LIMITER].allow(_client(request)):
        return message(request, zh.WEB_TOO_MANY_LOGINS, 429)
    started = await request.app[SERVICES].web_access.redeem(request.match_info["token"])
    return _signed_in(request, started)


async def app_page(request: web.Request) -> web.Response:
    return render(request, "app.html", title=zh.WEB_TITLE)


async def app_login(request: web.Request) -> web.Response:
    if not request.app[LIMITER].allow(_client(request)):
        return message(request, zh.WEB_TOO_MANY_LOGINS, 429)
    form = await request.post()
    access = request.app[SERVICES].web_access
    started = await access.telegram(str(form.get("init_data", "")), request.app[BOT_TOKEN])
    return _signed_in(request, started)


async def logout(request: web.Request) -> web.Response:
    await request.app[SERVICES].web_access.logout(request.cookies.get(COOKIE))
    response = message(request, zh.WEB_LOGGED_OUT, 200)
    response.del_cookie(COOKIE, path="/")
    return response


async def day_page(request: web.Request, notice: str = "") -> web.Response:
    visitor: Visitor = request["visitor"]
    entries = request.app[SERVICES].entries
    view = await entries.day(visitor.person_id)
    projects = await request.app[SERVICES].projects.choices(visitor.person_id)
    today = view.work_date
    dates = [(today.isoformat(), f"今天 {zh.md(today)}")] + [
        (day.isoformat(), f"补记 {zh.md(day)}") for day in entries.backfill_days()
    ]
    return render(
        request,
        "day.html",
        title=zh.WEB_TITLE,
        page="day",
        day_label=f"{zh.md(today)} 星期{zh.WEEKDAYS[today.weekday()]}",
        entries=view.entries,
        reflection=view.reflection,
        dates=dates,
        kind_options=KIND_OPTIONS,
        projects=projects,
        nonce=secrets.token_urlsafe(12),
        notice=notice,
    )


def _project_id(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise NotAllowed(zh.WEB_PROJECT_NOT_YOURS)
    return int(text)


async def add_entries(request: web.Request) -> web.Response:
    visitor: Visitor = request["visitor"]
    form = request["form"]
    texts = [str(v) for v in form.getall("item", [])]
    # Each row posts its fields; a row's missing field (an old page, a hand-made post) is
    # the default.
    columns = {
        name: [str(v) for v in form.getall(name, [])] for name in ("kind", "with", "project")
    }

    def cell(name: str, i: int) -> str:
        values = columns[name]
        return values[i] if i < len(values) else ""

    try:
        work_date = date.fromisoformat(str(form.get("date", "")))
    except ValueError:
        raise DomainError(zh.WEB_BAD_DATE) from None
    rows = [
        FormRow(
            text,
            KINDS.get(cell("kind", i), EntryKind.REGULAR),
            cell("with", i),
            _project_id(cell("project", i)) if text.strip() else None,
        )
        for i, text in enumerate(texts)
    ]
    nonce = str(form.get("nonce", ""))[:40] or secrets.token_urlsafe(12)
    source = EntrySource.web(visitor.person_id, nonce, request.app[SERVICES].clock.now())
    result = await request.app[SERVICES].entries.record_items(
        visitor.person_id, work_date, rows, source, str(form.get("reflection", ""))
    )
    if result.replayed:
        notice = zh.WEB_REPLAYED
    else:
        template = zh.WEB_SAVED_LATE if result.late else zh.WEB_SAVED
        notice = template.format(date=zh.md(result.work_date), count=len(result.entries))
    return await day_page(request, notice)


async def suggest_people(request: web.Request) -> web.Response:
    """Collaborator suggestions for the add and edit forms (the page's JS asks as one types)."""
    found = await request.app[SERVICES].entries.suggest_collaborators(request.query.get("q", ""))
    return web.json_response([{"value": value, "unit": unit} for value, unit in found])


async def withdraw(request: web.Request) -> web.Response:
    visitor: Visitor = request["visitor"]
    entry_id = _entry_id(request)
    change = await request.app[SERVICES].entries.withdraw(visitor.person_id, entry_id)
    return await day_page(request, zh.WEB_WITHDRAWN.format(n=change.entry.item_no))


async def entry_page(request: web.Request, notice: str = "") -> web.Response:
    """One's own entry: the edit form while it may be changed, and every change made."""
    visitor: Visitor = request["visitor"]
    services = request.app[SERVICES]
    detail = await services.entries.detail(visitor.person_id, _entry_id(request))
    return render(
        request,
        "entry.html",
        title=zh.WEB_TITLE,
        page="day",
        detail=detail,
        kind_options=KIND_OPTIONS,
        tz=services.rules.tz,
        notice=notice,
    )


async def edit_entry(request: web.Request) -> web.Response:
    visitor: Visitor = request["visitor"]
    form = request["form"]
    kind = KINDS.get(str(form.get("kind", "")))
    if kind is None:
        raise DomainError(zh.WEB_BAD_KIND)
    change = await request.app[SERVICES].entries.edit(
        visitor.person_id,
        _entry_id(request),
        str(form.get("text", "")),
        kind,
        str(form.get("collaborator", "")),
        str(form.get("shown_collaborator", "")),
    )
    notice = zh.WEB_EDITED.format(n=change.entry.item_no) if change.changed else zh.WEB_UNCHANGED
    return await entry_page(request, notice)


async def month_page(request: web.Request) -> web.Response:
    visitor: Visitor = request["visitor"]
    services = request.app[SERVICES]
    view = await services.entries.period(visitor.person_id, "month")
    by_day = view.by_day()
    counts = {day: sum(1 for e in items if not e.withdrawn) for day, items in by_day.items()}
    working = services.entries.policy.calendar.is_working_day
    days = {
        heat.day: heat
        for heat in heat_days(view.period, services.entries.today(), counts, view.absences, working)
    }
    start = view.period.start
    weeks = [
        [days.get(day) if day.month == start.month else None for day in week]
        for week in calendar.Calendar().monthdatescalendar(start.year, start.month)
    ]
    done = view.completeness
    return render(
        request,
        "month.html",
        title=zh.WEB_TITLE,
        page="month",
        month_label=f"{start.year}年{start.month}月",
        completeness=done,
        rate=_rate(done.rate),
        weekdays=list(zh.WEEKDAYS),
        weeks=weeks,
        days=[(zh.md(day), items) for day, items in sorted(by_day.items(), reverse=True)],
    )


def _rate(value: float | None) -> str:
    return zh.RATE_NONE if value is None else f"{value:.0%}"


def _period_links(path: str, current: str) -> list[tuple[str, str, bool]]:
    """The period choices of a supervisor's page: (label, address, chosen)."""
    return [
        (label, f"{path}?{urlencode({'period': word})}", word == current)
        for word, label in zh.WEB_PERIODS
    ]


def _pager(path: str, word: str, page: int, pages: int) -> dict[str, str]:
    """The addresses of the previous and next page ('' at either end); pages count from 0
    here and from 1 in the address."""

    def address(number: int) -> str:
        return f"{path}?{urlencode({'period': word, 'page': number + 1})}"

    return {
        "prev": address(page - 1) if page > 0 else "",
        "next": address(page + 1) if page + 1 < pages else "",
    }


def _page_number(request: web.Request) -> int:
    try:
        return min(max(int(request.query.get("page", "1")) - 1, 0), MAX_ID)
    except ValueError:
        return 0


def _period_word(request: web.Request) -> str:
    word = request.query.get("period", "本月")
    return word if word in dict(zh.WEB_PERIODS) else "本月"


async def team_page(request: web.Request) -> web.Response:
    """A supervisor's direct reports over a period, laggards first (as /team)."""
    visitor: Visitor = request["visitor"]
    word = _period_word(request)
    services = request.app[SERVICES]
    view = await services.review.team(visitor.person_id, word, _page_number(request))
    # 今天已记/未记 only means something on a working day.
    due_today = view.to_date and services.entries.policy.calendar.is_working_day(
        services.entries.today()
    )
    rows = [(row, _rate(row.completeness.rate)) for row in view.rows]
    return render(
        request,
        "team.html",
        title=zh.WEB_TEAM_TITLE,
        page="team",
        view=view,
        due_today=due_today,
        rows=rows,
        periods=_period_links("/team", word),
        query=urlencode({"period": word}),
        **_pager("/team", word, view.page, view.pages),
    )


async def report_page(request: web.Request) -> web.Response:
    """One report's entries over a period (as /review), access checked and recorded."""
    visitor: Visitor = request["visitor"]
    person_id = _entry_id(request, "person_id")
    word = _period_word(request)
    try:
        view = await request.app[SERVICES].review.review_page(
            visitor.person_id, person_id, word, _page_number(request), as_file=False
        )
    except NotAllowed:  # the bot's wording is about a button sent before the roster changed
        raise NotAllowed(zh.WEB_NOT_YOUR_REPORT) from None
    done = view.completeness
    path = f"/team/{person_id}"
    by_day: dict[date, list[Any]] = {}
    for item in view.entries:
        by_day.setdefault(item.entry.work_date, []).append(item)
    return render(
        request,
        "report.html",
        title=view.person.name,
        page="team",
        view=view,
        rate=_rate(done.rate),
        missing=[zh.md(day) for day in done.missing],
        days=[(zh.md(day), items) for day, items in by_day.items()],
        periods=_period_links(path, word),
        **_pager(path, word, view.page, view.pages),
    )


async def ratings_page(request: web.Request, notice: str = "") -> web.Response:
    """A rater's quarter: every unit's 好 quota, and one unit's cadres to rate."""
    visitor: Visitor = request["visitor"]
    text = request.query.get("unit") or str(request.get("form", {}).get("unit", ""))
    unit_id = _number(text) if text else None
    sheet = await request.app[SERVICES].rating.sheet(visitor.person_id, unit_id)
    return render(
        request,
        "ratings.html",
        title=zh.WEB_RATINGS_TITLE,
        page="ratings",
        sheet=sheet,
        grades=[rating.word for rating in Rating],
        notice=notice,
    )


async def rate(request: web.Request) -> web.Response:
    visitor: Visitor = request["visitor"]
    form = request["form"]
    view = await request.app[SERVICES].rating.rate(
        visitor.person_id, str(form.get("who", ""))[:50], str(form.get("grade", ""))[:10]
    )
    return await ratings_page(request, zh.rated(view))


def _number(text: str) -> int:
    """A row id as typed into an address or a form; anything else is no such page."""
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:  # ids are 32-bit in the database
        raise web.HTTPNotFound()
    return int(text)


def _entry_id(request: web.Request, key: str = "entry_id") -> int:
    """A row id from the address; anything but a 32-bit positive number is no such page."""
    return _number(request.match_info[key])


def build_web_app(
    services: Services,
    settings: WebSettings,
    bot_token: str = "",
    webhook: tuple[str, Handler] | None = None,
) -> web.Application:
    """The web page on the given services (the bot's own, in the same process), and the
    Telegram webhook (path, handler) in webhook mode."""
    app = web.Application(client_max_size=settings.max_body_kb * 1024, middlewares=[guard])
    if webhook is not None:
        app[WEBHOOK_PATH] = webhook[0]
        app.router.add_post(*webhook)
    app[SERVICES] = services
    app[SETTINGS] = settings
    app[BOT_TOKEN] = bot_token
    app[LIMITER] = LoginLimiter(settings.logins_per_minute)
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app.router.add_get("/", day_page)
    app.router.add_post("/entries", add_entries)
    app.router.add_get("/entries/{entry_id}", entry_page)
    app.router.add_post("/entries/{entry_id}", edit_entry)
    app.router.add_post("/entries/{entry_id}/withdraw", withdraw)
    app.router.add_get("/month", month_page)
    app.router.add_get("/people", suggest_people)
    app.router.add_get("/ratings", ratings_page)
    app.router.add_post("/ratings", rate)
    app.router.add_get("/team", team_page)
    app.router.add_get("/team/{person_id}", report_page)
    app.router.add_post("/logout", logout)
    app.router.add_get("/login/{token}", login_page)
    app.router.add_post("/login/{token}", login)
    app.router.add_get(APP_PATH, app_page)
    app.router.add_post("/auth/telegram", app_login)
    app.router.add_static("/static/", HERE / "static")
    return app


async def start_web(app: web.Application, settings: WebSettings) -> web.AppRunner:
    """Listen on the configured address; the caller cleans the runner up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    return runner
