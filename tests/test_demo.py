"""`worklog demo` on SQLite and PostgreSQL: the county it seeds, the login links it prints,
the refusal on a real roster, a second run, and the log topped up on a later day.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.cli import main
from bot.config import Config, DatabaseConfig
from scheduler.calendar import WorkCalendar
from scoring.dates import Period, work_date_for
from services import zh
from services.clock import FrozenClock
from services.demo import DemoService
from services.policy import WebSettings
from storage.db import create_engine
from storage.models import (
    Absence,
    Base,
    LogEntry,
    Person,
    ProjectUpdate,
    Rating,
    Unit,
    WebLogin,
)
from web.app import build_web_app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "roster_sample.csv"
LINK = re.compile(r"(?P<role>\S+)：(?P<name>\S+)（(?P<rid>DEMO-\d+)，[^\n]*\n\s+(?P<url>\S+)")
CALENDAR = WorkCalendar()


@pytest.fixture
def demo_config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config for the CLI on the test database, no token, nothing from the environment."""
    monkeypatch.delenv("WORKLOG_TELEGRAM_TOKEN", raising=False)
    monkeypatch.delenv("WORKLOG_DATABASE_URL", raising=False)
    path = tmp_path / "demo.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    return path


@pytest.fixture
async def engine(db_url: str) -> Any:
    engine = create_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def cli(*argv: str) -> int:
    """The real CLI (which runs its own event loop) in a worker thread."""
    return await asyncio.to_thread(main, list(argv))


async def counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows of every table."""
    async with engine.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in Base.metadata.sorted_tables
        }


async def rows(engine: AsyncEngine, *columns: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(*columns))).all())


async def test_demo_seeds_a_county_and_prints_links_that_sign_in(
    demo_config: Path, db_url: str, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    started = datetime.now(UTC)
    assert await cli("-c", str(demo_config), "demo") == 0
    out = capsys.readouterr().out
    finished = datetime.now(UTC)
    today = work_date_for(finished, 4, Config().logging.tz)

    # The roster: about 30 active people in several units, each but the county's first
    # leader with a supervisor; staff report to their unit's head, heads to a county leader.
    people = await rows(
        engine, Person.id, Person.roster_id, Person.unit_id, Person.supervisor_id, Person.roles
    )
    assert 28 <= len(people) <= 36
    assert all(rid.startswith("DEMO-") for _, rid, *_ in people)
    assert all(active for (active,) in await rows(engine, Person.active))
    units = dict(await rows(engine, Unit.id, Unit.parent_id))
    assert len(units) >= 4
    unit_of = {pid: unit for pid, _, unit, _, _ in people}
    supervisor_of = {pid: supervisor for pid, _, _, supervisor, _ in people}
    top = [pid for pid, supervisor in supervisor_of.items() if supervisor is None]
    assert len(top) == 1
    leaders = unit_of[top[0]]
    for pid, supervisor in supervisor_of.items():
        if unit_of[pid] == leaders or supervisor is None:
            continue
        head = supervisor if unit_of[supervisor] == unit_of[pid] else pid
        assert unit_of[supervisor_of[head]] == leaders
    assert sum("rater" in roles for *_, roles in people) == 1
    assert sum("admin" in roles for *_, roles in people) == 1

    # A month of entries on working days only, none after today or sent in the future.
    entries = await rows(
        engine,
        LogEntry.person_id,
        LogEntry.work_date,
        LogEntry.created_at,
        LogEntry.collaborator,
        LogEntry.project_id,
        LogEntry.kind,
    )
    assert len(entries) > 500
    days = {day for _, day, *_ in entries}
    assert all(CALENDAR.is_working_day(day) for day in days)
    assert max(days) <= today and min(days) >= today - timedelta(days=31)
    assert min(days) <= today - timedelta(days=20)
    assert all(created <= finished for _, _, created, *_ in entries)
    per_day = Counter((person, day) for person, day, *_ in entries)
    assert set(per_day.values()) <= {1, 2, 3, 4}
    assert {kind for *_, kind in entries} == {"regular", "other", "after_hours"}
    assert sum(collaborator is not None for *_, collaborator, _, _ in entries) > len(entries) / 4
    assert sum(project is not None for *_, project, _ in entries) >= 5
    # Gaps: some people miss working days they were not away on.
    working = {d for d in days if d < today}
    logged = {person: {d for p, d in per_day if p == person} for person, _ in per_day}
    absences = await rows(
        engine, Absence.person_id, Absence.start_date, Absence.end_date, Absence.kind
    )
    away = {
        (person, start + timedelta(days=n))
        for person, start, end, _ in absences
        for n in range((end - start).days + 1)
    }
    missing = {
        person: {d for d in working - logged.get(person, set()) if (person, d) not in away}
        for person, *_ in people
    }
    assert 2 <= sum(bool(days_missed) for days_missed in missing.values()) <= 8
    # Leave, a trip, and nothing logged while away.
    assert {"leave", "trip"} <= {kind for *_, kind in absences}
    assert not away & set(per_day)
    # 心得体会, progress updates linked to their entries, ratings within the 好 quota.
    assert (await counts(engine))["reflections"] > 0
    updates = await rows(engine, ProjectUpdate.entry_id, ProjectUpdate.completed_yuan)
    assert len(updates) >= 2 and all(entry_id for entry_id, _ in updates)
    ratings = await rows(engine, Rating.unit_id, Rating.grade, Rating.quarter)
    assert ratings and {q for *_, q in ratings} == {Period.containing("quarter", today).label}
    heads = Counter(unit_of.values())
    goods = Counter(unit for unit, grade, _ in ratings if grade == "good")
    assert all(goods[unit] <= heads[unit] * 40 // 100 for unit in goods)

    # Three login links, one per role, that sign in once each.
    assert "http://127.0.0.1:8080" in out and "weblink" in out and "15分钟" in out
    links = {m["role"]: m for m in LINK.finditer(out)}
    assert set(links) == {zh.DEMO_ROLE_CADRE, zh.DEMO_ROLE_SUPERVISOR, zh.DEMO_ROLE_RATER}
    rater = next(p for p in people if p[1] == links[zh.DEMO_ROLE_RATER]["rid"])
    assert "rater" in rater[4]
    supervisor = next(p for p in people if p[1] == links[zh.DEMO_ROLE_SUPERVISOR]["rid"])
    assert sum(s == supervisor[0] for *_, s, _ in people) >= 5
    issued = await rows(engine, WebLogin.issued_by, WebLogin.created_at)
    assert [by for by, _ in issued] == ["demo"] * 3
    assert all(started <= at <= finished for _, at in issued)

    wiring = build_services(Config(database=DatabaseConfig(url=db_url)), engine)
    app = build_web_app(wiring.services, WebSettings())
    async with TestClient(TestServer(app)) as client:
        for link in links.values():
            path = link["url"][link["url"].index("/login/") :]
            client.session.cookie_jar.clear()
            signed_in = await client.post(path)
            assert signed_in.status == 200 and str(signed_in.url).endswith("/")
            assert link["name"] in await signed_in.text()
            client.session.cookie_jar.clear()
            again = await client.post(path)
            assert again.status == 400 and zh.WEB_LINK_USED in await again.text()


async def test_a_real_roster_is_refused_and_left_alone(
    demo_config: Path, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("-c", str(demo_config), "roster", "import", str(SAMPLE)) == 0
    capsys.readouterr()
    before = await counts(engine)
    assert before["people"] == 12
    assert await cli("-c", str(demo_config), "demo") == 1
    captured = capsys.readouterr()
    assert "真实花名册" in captured.err and "12人" in captured.err
    assert "login" not in captured.out
    assert await counts(engine) == before


async def test_a_second_run_keeps_the_data_and_prints_fresh_links(
    demo_config: Path, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("-c", str(demo_config), "demo") == 0
    first = capsys.readouterr().out
    before = await counts(engine)
    assert await cli("-c", str(demo_config), "demo") == 0
    second = capsys.readouterr().out
    assert "演示数据已存在" in second
    after = await counts(engine)
    # The same day: nothing written twice (a run just after midnight may add today's log).
    for table in ("people", "units", "projects", "absences", "ratings", "project_updates"):
        assert after[table] == before[table], table
    assert after["web_logins"] == before["web_logins"] + 3
    first_links = {m["url"] for m in LINK.finditer(first)}
    second_links = {m["url"] for m in LINK.finditer(second)}
    assert len(second_links) == 3 and not first_links & second_links


async def test_the_log_is_topped_up_on_a_later_day(db_url: str, engine: AsyncEngine) -> None:
    """On a Friday morning some have logged today and some not yet; on Monday a second run
    adds Monday's log (not the weekend's) and nothing else."""
    clock = FrozenClock(datetime(2026, 11, 20, 10, 0, tzinfo=Config().logging.tz))
    services = build_services(Config(database=DatabaseConfig(url=db_url)), engine, clock).services
    report = await DemoService.of(services).seed()
    assert report.first_run and report.log_to == date(2026, 11, 20)
    assert report.log_from is not None and report.log_from >= date(2026, 10, 21)
    friday = await rows(engine, LogEntry.person_id, LogEntry.work_date, LogEntry.created_at)
    today = {person for person, day, _ in friday if day == date(2026, 11, 20)}
    assert 0 < len(today) < report.people
    assert all(created <= clock.now() for *_, created in friday)
    before = await counts(engine)

    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=Config().logging.tz))
    again = await DemoService.of(services).seed()
    assert not again.first_run and again.entries > 0
    assert again.log_from == again.log_to == date(2026, 11, 23)
    monday = await rows(engine, LogEntry.work_date)
    assert Counter(day for (day,) in monday) - Counter(day for _, day, _ in friday) == Counter(
        {date(2026, 11, 23): again.entries}
    )
    after = await counts(engine)
    for table in ("people", "absences", "ratings", "project_updates", "projects"):
        assert after[table] == before[table], table
