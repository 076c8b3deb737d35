"""QualityService without Telegram, the nightly job and /review's markers, on SQLite and
PostgreSQL: which entries get which flags, set-based (a few statements a day), an edit sends
an entry back to be checked, the grade export's counts, and the job by the runner and by name.

The clock stands at Friday 2026-11-20 10:00 in Shanghai.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

import openpyxl
import pytest

from scheduler.jobs import JobRunner, build_jobs, run_job
from services import zh
from services.entries import EntrySource
from services.errors import UsageError
from services.policy import SchedulerRules
from services.sheets import review_workbook
from storage.models import LogEntry
from storage.repositories import PeopleScope
from tests.services_fixtures import OTHER_UNIT, SHANGHAI, Env, at

pytest_plugins = ("tests.services_fixtures",)

NOV19 = date(2026, 11, 19)
VISIT = "走访慰问城关镇困难群众，送去米面油"
TOUR = "陪同县领导调研城关镇人居环境整治"
CONTRACT = "审核招商引资合同及项目资金拨付"


class Log:
    """Entries inserted straight into the table, numbered per person and day."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.numbers: dict[tuple[int, date], int] = {}
        self.ids: dict[str, int] = {}

    async def add(
        self, name: str, person: int, day: date, text: str, *, withdrawn: bool = False
    ) -> None:
        number = self.numbers[person, day] = self.numbers.get((person, day), 0) + 1
        when = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(hours=9)
        row: dict[str, Any] = {
            "person_id": person,
            "work_date": day,
            "item_no": number,
            "text": text,
            "channel": "cli",
            "withdrawn": withdrawn,
            "created_at": when,
            "updated_at": when,
        }
        await self.env.insert_rows(LogEntry, [row])
        self.ids[name] = (await self.env.rows(LogEntry))[-1].id

    async def quality(self) -> dict[str, str | None]:
        by_id = {e.id: e.quality for e in await self.env.rows(LogEntry)}
        return {name: by_id[i] for name, i in self.ids.items()}


async def test_check_flags_a_day_set_based_and_counts_for_the_export(env: Env) -> None:
    me = await env.person("c001", "张三")
    mate = await env.person("c002", "李四")
    stranger = await env.person("c003", "王五", unit=OTHER_UNIT)
    log = Log(env)
    await log.add("visit-earlier", me, date(2026, 11, 10), VISIT)
    await log.add("contract-too-early", me, date(2026, 10, 19), CONTRACT)  # 31 days before
    await log.add("tour-mate", mate, date(2026, 11, 17), TOUR)
    await log.add("old-withdrawn", me, date(2026, 11, 12), "督导城关镇森林防火隐患排查整改")
    await log.add("x", me, date(2026, 11, 12), "督导城关镇森林防火隐患排查整改", withdrawn=True)
    # 11-19, the day checked:
    await log.add("visit", me, NOV19, "1.走访慰问城关镇困难群众 送去米面油。")
    await log.add("meeting", me, NOV19, "开会")
    await log.add("tour", me, NOV19, "陪同县领导到城关镇调研人居环境整治")
    await log.add("contract", me, NOV19, CONTRACT)
    await log.add("tour-stranger", stranger, NOV19, TOUR)
    await log.add("long", mate, NOV19, "走访城关镇困难群众。" * 21)
    await log.add("withdrawn", mate, NOV19, "开会", withdrawn=True)
    await log.add("today", me, date(2026, 11, 20), VISIT)  # outside the range

    quality = env.services.quality
    with env.statements() as seen:
        assert await quality.check(NOV19, NOV19) == 6
    # Read the day, the earlier texts and the unit's entries; one UPDATE for all of them.
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 3
    assert len([s for s in seen if s.lstrip().upper().startswith("UPDATE")]) == 1
    got = await log.quality()
    assert {name: got[name] for name in got if name not in ("x",)} == {
        "visit-earlier": None,
        "contract-too-early": None,
        "tour-mate": None,
        "old-withdrawn": None,
        "visit": "repeat",
        "meeting": "trivial",
        "tour": "copy",
        "contract": "",
        "tour-stranger": "",
        "long": "long",
        "withdrawn": None,
        "today": None,
    }
    # Checked entries are not checked again; other days had nothing to check.
    assert await quality.check(date(2026, 11, 1), NOV19) == 3  # 11-10, 11-12, 11-17
    assert await quality.check(NOV19, NOV19) == 0

    async with env.wiring.uow() as uow:
        flagged = await uow.entries.flag_counts(PeopleScope(), date(2026, 11, 1), NOV19)
        team = await uow.entries.flag_counts(
            PeopleScope(person_ids=(mate, stranger)), date(2026, 11, 1), NOV19
        )
    assert flagged == {me: 3}  # repeat, trivial, copy; long is not counted
    assert team == {}


async def test_an_edit_sends_the_entry_back_to_be_checked(env: Env) -> None:
    me = await env.person("c001", "张三")
    log = Log(env)
    await log.add("earlier", me, NOV19, VISIT)
    source = EntrySource.telegram(7001, 1, at(20))
    await env.entries.record(me, "起草城关镇人居环境整治实施方案", source)
    quality = env.services.quality
    today = date(2026, 11, 20)
    assert await quality.check(today, today) == 1
    [entry] = await env.rows(LogEntry, LogEntry.work_date == today)
    assert entry.quality == ""

    await env.entries.edit_today(me, 1, VISIT)
    [entry] = await env.rows(LogEntry, LogEntry.work_date == today)
    assert entry.quality is None
    assert await quality.check(today, today) == 1
    [entry] = await env.rows(LogEntry, LogEntry.work_date == today)
    assert entry.quality == "repeat"


async def test_the_nightly_job_checks_yesterday_and_the_backfill_window(env: Env) -> None:
    me = await env.person("c001", "张三")
    log = Log(env)
    await log.add("monday", me, date(2026, 11, 16), VISIT)
    await log.add("backfilled", me, date(2026, 11, 17), VISIT)  # 3 working days before 11-20
    await log.add("friday", me, date(2026, 11, 20), "开会")
    await log.add("too-old", me, date(2026, 11, 13), "开会")
    rules = SchedulerRules()
    jobs = build_jobs(env.services.reminders, rules, SHANGHAI, quality=env.services.quality)
    [job] = [job for job in jobs if job.name == "quality"]
    assert job.about == zh.JOB_ABOUT["quality"].format(at="04:30")

    # Saturday 04:30: Friday's log is closed (the day rolls over at 04:00).
    env.clock.set(datetime(2026, 11, 21, 4, 29, tzinfo=SHANGHAI))
    runner = JobRunner(jobs, env.clock, timedelta(minutes=rules.grace_minutes))
    env.clock.set(datetime(2026, 11, 21, 4, 30, tzinfo=SHANGHAI))
    ran = {outcome.job: outcome for outcome in await runner.tick()}
    outcome = ran["quality"]
    assert (outcome.run_key, outcome.messages) == ("2026-11-20", 0)
    assert outcome.note == zh.JOB_NOTE_QUALITY.format(
        count=2, start=date(2026, 11, 17), end=date(2026, 11, 20)
    )
    assert await log.quality() == {
        "monday": None,
        "backfilled": "repeat",
        "friday": "trivial",
        "too-old": None,
    }

    # By name for a period: the whole month (up to today), nothing twice.
    outcome = await run_job(jobs, "quality", "2026-11")
    assert (outcome.run_key, outcome.note) == (
        "2026-11",
        zh.JOB_NOTE_QUALITY.format(count=2, start=date(2026, 11, 1), end=date(2026, 11, 21)),
    )
    assert await log.quality() == {
        "monday": "",
        "backfilled": "repeat",
        "friday": "trivial",
        "too-old": "trivial",
    }
    with pytest.raises(UsageError) as refused:
        await run_job(jobs, "quality", "someday")
    assert refused.value.reply == zh.JOB_BAD_PERIOD.format(text="someday")


async def test_review_shows_the_markers_and_the_file_has_a_column(env: Env) -> None:
    boss = await env.person("s001", "吴科长")
    me = await env.person("c001", "张三", supervisor_id=boss)
    log = Log(env)
    await log.add("visit-earlier", me, date(2026, 11, 10), VISIT)
    await log.add("visit", me, NOV19, VISIT)
    await log.add("meeting", me, NOV19, "开会。" * 70)
    await log.add("unchecked", me, date(2026, 11, 20), "开会")
    await env.services.quality.check(NOV19, NOV19)

    view = await env.services.review.review(boss, "c001")
    flags = {row.entry.text[:4]: row.flags for row in view.entries}
    assert flags == {
        VISIT[:4]: ("repeat",),
        "开会。开": ("long", "trivial"),
        "开会": (),
    }
    book = openpyxl.load_workbook(io.BytesIO(review_workbook(view)))
    column = [row[-1] for row in book.active.iter_rows(values_only=True)]
    assert column == ["质量提示", None, "重复", "琐碎、过长", None]
