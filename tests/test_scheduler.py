"""The scheduled jobs without Telegram: who is reminded when, the nudge, 稍后提醒, the weekly
digest, housekeeping, /settings rules, the job runner on a test clock, the scheduler lease and
`worklog jobs`, on SQLite and PostgreSQL.

What a job did is read back from the outbox rows it planned. The clock starts on Friday
2026-11-20 10:00 in Shanghai; the days used are ordinary working days (Thu 11-19, Fri 11-20,
Mon 11-23) and a weekend; a holiday comes from the config's calendar.extra_holidays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.app import build_jobs_runner, build_services
from bot.cli import main
from bot.config import CalendarConfig, Config, DatabaseConfig
from scheduler.jobs import MAX_NAP_SECONDS, Job, JobRunner, build_jobs, run_job
from services import zh
from services.entries import EntrySource
from services.errors import NotAllowed, UsageError
from services.policy import SchedulerRules
from services.reminders import JobOutcome, ReminderService, reminder_buttons
from storage.db import create_engine
from storage.locks import SchedulerLease
from storage.models import Absence, InboxUpdate, OutboxMessage, OutboxStatus, Person
from tests.services_fixtures import SHANGHAI, Env, person_row

pytest_plugins = ("tests.services_fixtures",)

THU, FRI, SAT, SUN, MON = (date(2026, 11, d) for d in (19, 20, 21, 22, 23))
RULES = SchedulerRules()
GRACE = timedelta(minutes=RULES.grace_minutes)
# The jobs these tests look at (others may run beside them).
JOB_NAMES = ["daily-reminder", "daily-nudge", "weekly-digest", "housekeeping"]


def reminder_jobs(env: Env) -> list[Job]:
    """The daily and weekly jobs (the period-end ones are tested in test_period_jobs.py)."""
    jobs = build_jobs(env.services.reminders, RULES, SHANGHAI)
    return [job for job in jobs if job.name in JOB_NAMES]


ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "roster_sample.csv"

_accounts = itertools.count(70_001)
_messages = itertools.count(1)


def moment(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def reminder_text(day: date) -> str:
    return zh.DAILY_REMINDER.format(
        date=f"{day.month}月{day.day}日", weekday=zh.WEEKDAYS[day.weekday()]
    )


def nudge_text(day: date) -> str:
    return zh.DAILY_NUDGE.format(date=f"{day.month}月{day.day}日")


async def cadre(
    env: Env, roster_id: str, name: str | None = None, *, bound: bool = True, **kwargs: object
) -> int:
    """A roster person, with a Telegram account bound unless `bound` is False."""
    account = next(_accounts) if bound else None
    return await env.person(roster_id, name, telegram_user_id=account, **kwargs)  # type: ignore[arg-type]


async def set_person(env: Env, person_id: int, **values: object) -> None:
    async with env.sessions() as db:
        await db.execute(update(Person).where(Person.id == person_id).values(**values))
        await db.commit()


async def log(env: Env, person_id: int, day: date = FRI, hour: int = 10) -> int:
    """The cadre sends one log message on `day`; returns the entry's id."""
    source = EntrySource.telegram(person_id, next(_messages), moment(day, hour))
    recorded = await env.entries.record(person_id, "走访慰问困难群众5户", source)
    return recorded.entries[0].id


async def absence(
    env: Env, person_id: int, start: date, end: date, *, withdrawn: bool = False
) -> None:
    await env.insert_rows(
        Absence,
        [
            {
                "person_id": person_id,
                "start_date": start,
                "end_date": end,
                "reason": "出差",
                "kind": "trip",
                "created_at": moment(start, 9),
                "withdrawn": withdrawn,
            }
        ],
    )


async def planned(env: Env, kind: str) -> dict[int, OutboxMessage]:
    """The outbox rows of one kind, by the person they go to."""
    rows = await env.rows(OutboxMessage, OutboxMessage.kind == kind)
    by_person = {row.person_id: row for row in rows}
    assert len(by_person) == len(rows), "one row per person"
    return by_person


async def at_time(env: Env, when: datetime) -> ReminderService:
    env.clock.set(when)
    return env.services.reminders


async def deliver(env: Env, *people: int) -> None:
    """The sender delivers the due messages of `people` (the others stay in flight)."""
    for message in await env.services.outbox.pending(1000, replies=False):
        if message.person_id in people:
            await env.services.outbox.sent(message)


# -- the daily reminder ---------------------------------------------------------------------


async def test_daily_reminder_reaches_only_those_due_each_at_their_time_and_once(
    env: Env,
) -> None:
    due = await cadre(env, "c01")
    unbound = await cadre(env, "c02", bound=False)
    gone = await cadre(env, "c03", active=False)
    blocked = await cadre(env, "c04")
    await set_person(env, blocked, bot_blocked_at=moment(THU, 18))
    logged = await cadre(env, "c05")
    await log(env, logged)
    away = await cadre(env, "c06")
    await absence(env, away, THU, SAT)
    came_back = await cadre(env, "c07")  # the absence was withdrawn
    await absence(env, came_back, FRI, FRI, withdrawn=True)
    took_back = await cadre(env, "c08")  # withdrew today's only entry
    await env.entries.withdraw(took_back, await log(env, took_back))
    yesterday_only = await cadre(env, "c09")
    await log(env, yesterday_only, THU)
    early = await cadre(env, "c10")
    await set_person(env, early, remind_at=time(16, 30))
    late = await cadre(env, "c11")
    await set_person(env, late, remind_at=time(19, 0))
    assert unbound and gone  # seeded so that they are left out

    # 16:00: nobody's time yet (the default is 17:30).
    reminders = await at_time(env, moment(FRI, 16))
    assert await reminders.daily_reminder() == JobOutcome("daily-reminder", "2026-11-20", 0)
    # 16:30: the cadre who chose 16:30.
    reminders = await at_time(env, moment(FRI, 16, 30))
    assert (await reminders.daily_reminder()).messages == 1
    assert list(await planned(env, "daily")) == [early]
    # 17:30: everyone else due by default; the 19:00 cadre not yet.
    reminders = await at_time(env, moment(FRI, 17, 30))
    assert (await reminders.daily_reminder()).messages == 4
    assert sorted(await planned(env, "daily")) == [due, came_back, took_back, yesterday_only, early]
    # Running again (every ten minutes, a restart, an operator) plans nothing twice.
    assert (await reminders.daily_reminder()).messages == 0
    env.clock.set(moment(FRI, 18, 50))
    assert (await reminders.daily_reminder()).messages == 0
    # 19:00: the cadre who chose 19:00.
    env.clock.set(moment(FRI, 19))
    assert (await reminders.daily_reminder()).messages == 1
    rows = await planned(env, "daily")
    assert sorted(rows) == sorted([due, came_back, took_back, yesterday_only, early, late])

    row = rows[late]
    assert row.key == f"daily:2026-11-20:{late}"
    assert row.text == reminder_text(FRI)
    assert row.text == "11月20日（周五）还没有记工作日志。\n直接发消息即可记录，一行一件事。"
    assert json.loads(row.buttons) == [
        [["今天请假", "rm:x:leave:2026-11-20"], ["今天出差", "rm:x:trip:2026-11-20"]],
        [["稍后提醒", "rm:l:2026-11-20"]],
    ]
    assert json.loads(row.buttons) == json.loads(json.dumps(reminder_buttons(FRI)))
    assert (row.reminds_of, row.status, row.chat_id) == (FRI, "pending", None)
    assert row.not_before == moment(FRI, 19)
    assert rows[early].not_before == moment(FRI, 16, 30)


async def test_no_reminder_on_a_weekend_or_an_extra_holiday(env: Env) -> None:
    await cadre(env, "c01")
    reminders = await at_time(env, moment(SAT, 17, 30))
    outcome = await reminders.daily_reminder()
    assert outcome == JobOutcome("daily-reminder", "2026-11-21", 0, zh.JOB_NOTE_NOT_WORKING_DAY)
    assert (await reminders.daily_reminder(SUN)).note == zh.JOB_NOTE_NOT_WORKING_DAY
    nudge = await reminders.daily_nudge()
    assert nudge == JobOutcome("daily-nudge", "2026-11-21", 0, zh.JOB_NOTE_NUDGE_OFF)

    # Thursday 11-19 made a holiday by the admin (calendar.extra_holidays).
    config = Config(
        database=DatabaseConfig(url=str(env.engine.url)),
        calendar=CalendarConfig(extra_holidays=(THU,)),
    )
    holiday = build_services(config, env.engine, env.clock).services.reminders
    env.clock.set(moment(THU, 17, 30))
    assert (await holiday.daily_reminder()).note == zh.JOB_NOTE_NOT_WORKING_DAY
    assert (await holiday.daily_nudge()).note == zh.JOB_NOTE_NUDGE_OFF
    assert await env.count(OutboxMessage) == 0
    # The same Thursday is an ordinary working day without the override.
    assert (await env.services.reminders.daily_reminder()).messages == 1


async def test_a_run_for_a_past_day_reminds_everyone_due_that_day(env: Env) -> None:
    """An operator catching up on Thursday's reminder on Friday morning."""
    plain = await cadre(env, "c01")
    latest = await cadre(env, "c02")
    await set_person(env, latest, remind_at=RULES.reminder_window_end)
    logged_thursday = await cadre(env, "c03")
    await log(env, logged_thursday, THU, 15)
    logged_friday = await cadre(env, "c04")  # Friday's entry does not cover Thursday
    await log(env, logged_friday, FRI, 9)

    reminders = await at_time(env, moment(FRI, 10))
    jobs = build_jobs(reminders, RULES, SHANGHAI)
    outcome = await run_job(jobs, "daily-reminder", "2026-11-19")
    assert outcome == JobOutcome("daily-reminder", "2026-11-19", 3)
    rows = await planned(env, "daily")
    assert sorted(rows) == [plain, latest, logged_friday]
    assert {r.key for r in rows.values()} == {f"daily:2026-11-19:{p}" for p in rows}
    assert {(r.text, r.reminds_of) for r in rows.values()} == {(reminder_text(THU), THU)}
    assert reminder_text(THU).startswith("11月19日（周四）")
    # Again: nothing twice. And no reminder for today planned by the catch-up.
    assert (await run_job(jobs, "daily-reminder", "11-19")).messages == 0
    assert (await run_job(jobs, "daily-reminder", None)).messages == 0  # 10:00: not yet due
    with pytest.raises(UsageError) as bad:
        await run_job(jobs, "daily-reminder", "昨天下午")
    assert bad.value.reply == zh.JOB_BAD_DAY.format(text="昨天下午")


async def test_planning_takes_the_same_few_statements_for_5_or_2000_people(env: Env) -> None:
    unit_id = await env.unit()

    async def seed(numbers: range) -> None:
        rows = []
        for n in numbers:
            row = person_row(f"bulk{n:05d}", unit_id)
            row["telegram_user_id"] = 500_000 + n
            rows.append(row)
        await env.insert_rows(Person, rows)

    await seed(range(5))
    reminders = await at_time(env, moment(FRI, 17, 30))
    with env.statements() as few:
        assert (await reminders.daily_reminder()).messages == 5
    await seed(range(5, 2000))
    with env.statements() as many:
        assert (await reminders.daily_reminder()).messages == 1995
    with env.statements() as again:
        assert (await reminders.daily_reminder()).messages == 0

    assert await env.count(OutboxMessage, OutboxMessage.kind == "daily") == 2000
    inserts = [s for s in many if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1, inserts
    assert len(few) == len(many) <= 4, many
    assert len(again) <= len(many)


# -- a reminder is skipped once the day is logged or excused --------------------------------


async def test_a_planned_reminder_is_skipped_once_the_day_is_logged_or_excused(
    env: Env,
) -> None:
    logs = await cadre(env, "c01")
    excused = await cadre(env, "c02")
    silent = await cadre(env, "c03")
    reminders = await at_time(env, moment(FRI, 17, 30))
    assert (await reminders.daily_reminder()).messages == 3
    # Thursday's catch-up reminder for the cadre who logs Friday stays due: another day.
    assert (await reminders.daily_reminder(THU)).messages == 3

    env.clock.set(moment(FRI, 17, 31))
    await log(env, logs, FRI, 17)
    await env.services.entries.add_absence(excused, "11-20", None, "病假")

    due = await env.services.outbox.pending(100, replies=False)
    assert sorted((m.person_id, m.reminds_of) for m in due) == sorted(
        [(silent, FRI), (logs, THU), (excused, THU), (silent, THU)]
    )
    rows = {(r.person_id, r.reminds_of): r for r in await env.rows(OutboxMessage)}
    for skipped in [(logs, FRI), (excused, FRI)]:
        assert rows[skipped].status == OutboxStatus.SKIPPED.value
        assert rows[skipped].sent_at is None
    assert rows[(silent, FRI)].status == "pending"  # claimed: being sent
    for message in due:
        await env.services.outbox.sent(message)
    # Skipped rows are done with: they never come due again.
    env.clock.set(moment(FRI, 23))
    assert await env.services.outbox.pending(100, replies=False) == []


# -- the second nudge -------------------------------------------------------------------------


async def test_daily_nudge_only_after_a_sent_reminder_still_nothing_and_not_muted(
    env: Env,
) -> None:
    nudged = await cadre(env, "c01")
    unsent = await cadre(env, "c02")  # the reminder is still on its way
    logs_later = await cadre(env, "c03")
    muted = await cadre(env, "c04")
    excused_later = await cadre(env, "c05")
    blocks_later = await cadre(env, "c06")
    never_reminded = await cadre(env, "c07")
    await set_person(env, never_reminded, remind_at=time(21, 0))
    moves_account = await cadre(env, "c08")  # the account was bound to someone else since
    reminders = env.services.reminders
    await reminders.set_second_nudge(muted, False)

    reminders = await at_time(env, moment(FRI, 17, 30))
    assert (await reminders.daily_reminder()).messages == 7
    await deliver(env, nudged, logs_later, muted, excused_later, blocks_later, moves_account)
    env.clock.set(moment(FRI, 19))
    await log(env, logs_later, FRI, 19)
    await env.services.entries.add_absence(excused_later, "今天", None, "出差")
    await set_person(env, blocks_later, bot_blocked_at=moment(FRI, 18))
    await set_person(env, moves_account, telegram_user_id=None)

    env.clock.set(moment(FRI, 20, 30))
    assert await reminders.daily_nudge() == JobOutcome("daily-nudge", "2026-11-20", 1)
    [row] = (await planned(env, "daily-nudge")).values()
    assert (row.person_id, row.key, row.text) == (
        nudged,
        f"daily-nudge:2026-11-20:{nudged}",
        nudge_text(FRI),
    )
    assert (row.reminds_of, row.not_before) == (FRI, moment(FRI, 20, 30))
    assert json.loads(row.buttons)[1] == [["稍后提醒", "rm:l:2026-11-20"]]
    # Never twice, even once the reminder still on its way has gone out.
    await deliver(env, unsent, nudged)
    assert (await reminders.daily_nudge()).messages == 1  # now the first was sent too
    assert sorted(await planned(env, "daily-nudge")) == sorted([nudged, unsent])
    assert (await reminders.daily_nudge()).messages == 0

    # An organisation without the second nudge sends none.
    off = ReminderService(
        env.wiring.uow,
        env.clock,
        reminders.policy,
        dataclasses.replace(RULES, second_nudge=False),
    )
    assert (await off.daily_nudge()).note == zh.JOB_NOTE_NUDGE_OFF


# -- 稍后提醒 ---------------------------------------------------------------------------------


async def test_snooze_queues_a_later_reminder_refused_for_a_past_day_or_a_logged_one(
    env: Env,
) -> None:
    me = await cadre(env, "c01")
    reminders = await at_time(env, moment(FRI, 17, 40))
    assert await reminders.snooze(me, FRI) == RULES.snooze_minutes == 60
    [row] = (await planned(env, "daily-later")).values()
    assert row.key == f"daily-later:2026-11-20:{me}:1740"
    assert (row.text, row.reminds_of) == (nudge_text(FRI), FRI)
    assert row.not_before == moment(FRI, 18, 40)
    assert json.loads(row.buttons) == json.loads(json.dumps(reminder_buttons(FRI)))
    # Not due before its time; due after it.
    assert await env.services.outbox.pending(10, replies=False) == []
    env.clock.set(moment(FRI, 18, 40))
    assert [m.id for m in await env.services.outbox.pending(10, replies=False)] == [row.id]

    with pytest.raises(NotAllowed) as passed:
        await reminders.snooze(me, THU)
    assert passed.value.reply == zh.REMINDER_DAY_PASSED
    await log(env, me, FRI, 18)
    with pytest.raises(NotAllowed) as logged:
        await reminders.snooze(me, FRI)
    assert logged.value.reply == zh.ALREADY_LOGGED.format(date="11月20日")
    away = await cadre(env, "c02")
    await absence(env, away, FRI, FRI)
    with pytest.raises(NotAllowed):
        await reminders.snooze(away, FRI)
    assert await env.count(OutboxMessage) == 1


# -- the weekly digest ----------------------------------------------------------------------


async def test_weekly_digest_to_each_reachable_supervisor_laggards_first(env: Env) -> None:
    boss = await cadre(env, "s01", "王科长")
    full = await cadre(env, "r01", "赵一", supervisor_id=boss)
    half = await cadre(env, "r02", "钱二", supervisor_id=boss)
    blocked = await cadre(env, "r03", "孙三", supervisor_id=boss)
    await set_person(env, blocked, bot_blocked_at=moment(THU, 9))
    await cadre(env, "r04", "李四", supervisor_id=boss, active=False)  # left: not listed
    on_leave = await cadre(env, "r05", "周五", supervisor_id=boss, bound=False)
    await absence(env, on_leave, date(2026, 11, 16), FRI)
    unbound_boss = await cadre(env, "s02", "吴科长", bound=False)
    await cadre(env, "r06", "郑六", supervisor_id=unbound_boss)
    blocked_boss = await cadre(env, "s03", "冯科长")
    await set_person(env, blocked_boss, bot_blocked_at=moment(THU, 9))
    await cadre(env, "r07", "陈七", supervisor_id=blocked_boss)
    for d in range(16, 21):
        await log(env, full, date(2026, 11, d))
    await log(env, half, date(2026, 11, 16))
    await log(env, half, date(2026, 11, 17))
    await log(env, half, MON)  # this week: not in last week's digest

    reminders = await at_time(env, moment(MON, 9))
    assert await reminders.weekly_digest() == JobOutcome("weekly-digest", "2026-W47", 1)
    [row] = (await planned(env, "weekly")).values()
    assert (row.person_id, row.key) == (boss, f"weekly:2026-W47:{boss}")
    assert (row.reminds_of, row.buttons) == (None, None)
    assert row.text == "\n".join(
        [
            "上周（11月16日–11月22日）团队日志完成情况，4人：",
            "孙三 0/5天 0%",
            "钱二 2/5天 40%",
            "赵一 5/5天 100%",
            "周五 0/0天 —",
            "收不到提醒（已屏蔽机器人）：孙三",
            "/team 上周  查看详情",
        ]
    )
    # Twice (a restart, the operator) → once; an operator's week by its label works too.
    # (The outcome counts the digests due, planned before or not: the outbox keeps one.)
    await reminders.weekly_digest()
    jobs = build_jobs(reminders, RULES, SHANGHAI)
    assert (await run_job(jobs, "weekly-digest", "2026-W47")).run_key == "2026-W47"
    assert (await run_job(jobs, "weekly-digest", "2026-11-18")).run_key == "2026-W47"
    assert await env.count(OutboxMessage) == 1


async def test_weekly_digest_lists_twenty_and_counts_the_rest(env: Env) -> None:
    boss = await cadre(env, "s01", "王科长")
    for n in range(23):
        await cadre(env, f"r{n:02d}", f"干部{n:02d}", supervisor_id=boss)
    reminders = await at_time(env, moment(MON, 9))
    await reminders.weekly_digest()
    [row] = (await planned(env, "weekly")).values()
    lines = row.text.split("\n")
    assert lines[0] == "上周（11月16日–11月22日）团队日志完成情况，23人："
    assert lines[1:21] == [f"干部{n:02d} 0/5天 0%" for n in range(20)]
    assert lines[21:] == [zh.WEEKLY_DIGEST_MORE.format(count=3), zh.WEEKLY_DIGEST_FOOT]


# -- housekeeping -----------------------------------------------------------------------------


async def test_housekeeping_empties_old_processed_payloads_and_keeps_the_rows(env: Env) -> None:
    now = moment(FRI, 3)
    payload = json.dumps({"message": {"text": "走访慰问困难群众5户"}}, ensure_ascii=False)

    def inbox(n: int, status: str, age_days: float, processed: bool = True) -> dict[str, object]:
        when = now - timedelta(days=age_days)
        return {
            "update_id": n,
            "dedup_key": f"tg:{n}",
            "payload": payload,
            "status": status,
            "attempts": 1,
            "received_at": when,
            "processed_at": when if processed else None,
        }

    await env.insert_rows(
        InboxUpdate,
        [
            inbox(1, "done", 31),  # older than the retention: emptied
            inbox(2, "done", 29),  # newer: kept
            inbox(3, "pending", 40, processed=False),  # not processed: kept
            inbox(4, "failed", 40),  # kept for the operator
        ],
    )
    reminders = await at_time(env, now)
    outcome = await reminders.housekeeping()
    assert outcome.note == zh.JOB_NOTE_PURGED.format(count=1)
    rows = {r.update_id: r for r in await env.rows(InboxUpdate)}
    assert {n: r.payload for n, r in rows.items()} == {1: "{}", 2: payload, 3: payload, 4: payload}
    assert rows[1].status == "done"
    assert (await reminders.housekeeping()).note == zh.JOB_NOTE_PURGED.format(count=0)


# -- /settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("18:00", time(18)),
        ("18点", time(18)),
        ("18点30", time(18, 30)),
        ("18点30分", time(18, 30)),
        ("１８：００", time(18)),
        (" 18：30 ", time(18, 30)),
        ("16:00", time(16)),
        ("21:00", time(21)),
    ],
)
async def test_parse_time_accepts(env: Env, typed: str, expected: time) -> None:
    assert env.services.reminders.parse_time(typed) == expected


@pytest.mark.parametrize(
    "typed", ["15:59", "21:01", "25:00", "18:60", "18", "18:5", "六点", "abc", "", "8点"]
)
async def test_parse_time_refuses(env: Env, typed: str) -> None:
    with pytest.raises(UsageError) as refused:
        env.services.reminders.parse_time(typed)
    assert refused.value.reply == zh.SETTINGS_BAD_TIME.format(start="16:00", end="21:00")


async def test_settings_are_stored_and_choices_are_few(env: Env) -> None:
    me = await cadre(env, "c01")
    reminders = env.services.reminders
    view = await reminders.settings(me)
    assert (view.remind_at, view.own_time, view.second_nudge, view.nudge_enabled) == (
        time(17, 30),
        False,
        True,
        True,
    )
    view = await reminders.set_time(me, time(18, 30))
    assert (view.remind_at, view.own_time) == (time(18, 30), True)
    view = await reminders.set_second_nudge(me, False)
    assert (view.remind_at, view.second_nudge) == (time(18, 30), False)
    person = await env.one(Person, Person.id == me)
    assert (person.remind_at, person.second_nudge_muted) == (time(18, 30), True)
    assert await reminders.settings(me) == view
    with pytest.raises(UsageError):
        await reminders.set_time(me, time(22, 0))
    view = await reminders.set_time(me, None)
    assert (view.remind_at, view.own_time) == (time(17, 30), False)
    view = await reminders.set_second_nudge(me, True)
    person = await env.one(Person, Person.id == me)
    assert (person.remind_at, person.second_nudge_muted) == (None, False)

    choices = reminders.choices()
    assert choices == [time(h) for h in range(16, 22)]
    # At most eight buttons: a wide window is offered every few hours, a narrow one in full.
    for start, end, expected in [
        (time(0), time(23, 59), [time(h) for h in range(0, 24, 3)]),
        (time(17), time(17), [time(17)]),
        (time(16), time(19, 30), [time(16 + m // 60, m % 60) for m in range(0, 240, 30)]),
    ]:
        rules = dataclasses.replace(RULES, reminder_window_start=start, reminder_window_end=end)
        wide = ReminderService(env.wiring.uow, env.clock, reminders.policy, rules).choices()
        assert wide == expected


# -- the job runner ---------------------------------------------------------------------------


class Sleeper:
    """The runner's sleep: moves the test clock instead of waiting; stops the runner at `until`."""

    def __init__(self, env: Env, until: datetime | None = None) -> None:
        self.env = env
        self.until = until
        self.naps: list[float] = []
        self.runner: JobRunner | None = None
        self.after: list[object] = []  # callbacks run after each nap, in turn

    async def __call__(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.env.clock.advance(seconds=seconds)
        if self.until is not None and self.env.clock.now() >= self.until:
            assert self.runner is not None
            self.runner.stop()
        await asyncio.sleep(0)


def recording(env: Env, jobs: list[Job], fired: list[tuple[str, datetime]]) -> list[Job]:
    """The jobs with the same triggers, recording when each runs instead of running."""

    def wrap(job: Job) -> Job:
        async def run(period: str | None) -> JobOutcome:
            assert period is None
            fired.append((job.name, env.clock.now()))
            return JobOutcome(job.name, "", 0)

        return dataclasses.replace(job, run=run)

    return [wrap(job) for job in jobs]


async def test_runner_fires_each_job_at_its_cron_times(env: Env) -> None:
    fired: list[tuple[str, datetime]] = []
    jobs = recording(env, reminder_jobs(env), fired)
    assert set(JOB_NAMES) <= {job.name for job in jobs}
    env.clock.set(moment(SUN, 15, 55))
    sleeper = Sleeper(env, until=moment(MON, 9, 5))
    runner = JobRunner(jobs, env.clock, GRACE, sleep=sleeper)
    sleeper.runner = runner
    await runner.run()

    def times(name: str) -> list[datetime]:
        return [when for job, when in fired if job == name]

    every_ten = [moment(SUN, h, m) for h in range(16, 22) for m in range(0, 60, 10)]
    assert times("daily-reminder") == every_ten
    assert times("daily-nudge") == [moment(SUN, 20, 30)]
    assert times("housekeeping") == [moment(MON, 3)]
    assert times("weekly-digest") == [moment(MON, 9)]
    assert len(runner.outcomes) == len(fired)
    assert max(sleeper.naps) == MAX_NAP_SECONDS and min(sleeper.naps) > 0


async def test_a_fire_missed_while_down_runs_once_within_the_grace(env: Env) -> None:
    people = [await cadre(env, f"c{n:02d}") for n in range(3)]
    jobs = reminder_jobs(env)
    # Down since 15:00; back at 17:45: the fires from 16:00 to 17:40 run once, now.
    env.clock.set(moment(FRI, 17, 45))
    runner = JobRunner(jobs, env.clock, GRACE)
    ran = await runner.tick()
    assert ran == [JobOutcome("daily-reminder", "2026-11-20", 3)]
    assert sorted(await planned(env, "daily")) == people
    assert await runner.tick() == []  # nothing new until the next fire
    env.clock.advance(minutes=4, seconds=59)
    assert await runner.tick() == []
    env.clock.advance(seconds=1)  # 17:50
    assert await runner.tick() == [JobOutcome("daily-reminder", "2026-11-20", 0)]
    assert await env.count(OutboxMessage) == 3


async def test_a_fire_missed_beyond_the_grace_is_skipped(env: Env) -> None:
    await cadre(env, "c01")
    jobs = reminder_jobs(env)
    # Back at 22:31: the 21:50 reminder fire is within the grace, the 20:30 nudge is not.
    env.clock.set(moment(FRI, 22, 31))
    runner = JobRunner(jobs, env.clock, GRACE)
    assert [o.job for o in await runner.tick()] == ["daily-reminder"]

    # The process stood still (suspended) from Friday 22:31 to Saturday 05:01: the 03:00
    # housekeeping is 2h01m late and skipped; Sunday's runs.
    env.clock.set(moment(SAT, 5, 1))
    assert await runner.tick() == []
    env.clock.set(moment(SUN, 4, 59))
    assert [o.job for o in await runner.tick()] == ["housekeeping"]
    assert [o.job for o in runner.outcomes] == ["daily-reminder", "housekeeping"]


async def test_a_failing_job_is_tried_again_on_the_next_tick(env: Env) -> None:
    people = [await cadre(env, f"c{n:02d}") for n in range(2)]
    jobs = reminder_jobs(env)
    env.clock.set(moment(FRI, 17, 30))
    runner = JobRunner(jobs, env.clock, GRACE)
    with env.fail_statement("INSERT INTO outbox_messages"):
        assert await runner.tick() == []
    assert runner.outage.attempts == 1
    assert await env.count(OutboxMessage) == 0  # the failed run left nothing half-planned
    env.clock.advance(seconds=30)
    assert await runner.tick() == [JobOutcome("daily-reminder", "2026-11-20", 2)]
    assert runner.outage.attempts == 0
    assert sorted(await planned(env, "daily")) == people
    assert await runner.tick() == []


class FlakyLease:
    """A lease whose database is away for the first `failures` asks."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.asked = 0
        self.released = 0

    async def acquire(self) -> bool:
        self.asked += 1
        if self.asked <= self.failures:
            raise OSError("connection refused")
        return True

    async def release(self) -> None:
        self.released += 1


async def test_the_runner_waits_for_the_database_before_taking_the_lease(env: Env) -> None:
    await cadre(env, "c01")
    jobs = reminder_jobs(env)
    env.clock.set(moment(FRI, 17, 30))
    lease = FlakyLease(failures=2)
    sleeper = Sleeper(env)

    async def sleep(seconds: float) -> None:
        await sleeper(seconds)
        if runner.outcomes:
            runner.stop()

    runner = JobRunner(jobs, env.clock, GRACE, lease=lease, sleep=sleep)
    await runner.run()  # the database being away at start does not end the scheduler
    assert (lease.asked, lease.released) == (3, 1)
    assert sleeper.naps[:2] == [MAX_NAP_SECONDS, MAX_NAP_SECONDS]
    assert runner.outcomes == [JobOutcome("daily-reminder", "2026-11-20", 1)]


async def test_one_process_at_a_time_holds_the_scheduler_lease(env: Env, db_url: str) -> None:
    other_engine = create_engine(db_url)
    mine, theirs = SchedulerLease(env.engine), SchedulerLease(other_engine)
    try:
        assert await mine.acquire()
        if env.engine.dialect.name != "postgresql":
            assert await theirs.acquire()  # SQLite: one process by design, always granted
            await theirs.release()
            await mine.release()
            return
        assert not await theirs.acquire()
        assert await mine.acquire()  # asking again while holding it
        assert not await theirs.acquire()

        # A second runner waits for the lease; the first process stops; it takes over.
        me = await cadre(env, "c01")
        jobs = reminder_jobs(env)
        env.clock.set(moment(FRI, 17, 30))
        sleeper = Sleeper(env)

        async def sleep(seconds: float) -> None:
            await sleeper(seconds)
            if len(sleeper.naps) == 2:
                await mine.release()  # the first process stops
            if runner.outcomes:
                runner.stop()

        runner = JobRunner(jobs, env.clock, GRACE, lease=theirs, sleep=sleep)
        await runner.run()
        assert sleeper.naps[:2] == [MAX_NAP_SECONDS, MAX_NAP_SECONDS]  # refused twice
        assert runner.outcomes == [JobOutcome("daily-reminder", "2026-11-20", 1)]
        assert list(await planned(env, "daily")) == [me]
        # The runner let the lease go when it stopped.
        assert await mine.acquire()
        assert not await theirs.acquire()
    finally:
        await mine.release()
        await theirs.release()
        await other_engine.dispose()


async def test_the_service_runner_takes_its_grace_and_lease_from_the_config(env: Env) -> None:
    me = await cadre(env, "c01")
    config = Config(
        database=DatabaseConfig(url=str(env.engine.url)),
        scheduler=dataclasses.replace(RULES, grace_minutes=30),
    )
    env.clock.set(moment(FRI, 18, 5))
    sleeper = Sleeper(env)

    async def sleep(seconds: float) -> None:
        await sleeper(seconds)
        runner.stop()

    runner = build_jobs_runner(env.wiring, config, env.engine, sleep=sleep)
    assert runner.grace == timedelta(minutes=30)
    assert isinstance(runner.lease, SchedulerLease)
    await runner.run()
    assert runner.outcomes == [JobOutcome("daily-reminder", "2026-11-20", 1)]
    assert list(await planned(env, "daily")) == [me]
    # It let the lease go on stopping: another process may take it at once.
    other = SchedulerLease(env.engine)
    assert await other.acquire()
    await other.release()


# -- worklog jobs -----------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("WORKLOG_TELEGRAM_TOKEN", raising=False)
    monkeypatch.delenv("WORKLOG_DATABASE_URL", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/worklog.db"\n'
        '[calendar]\nextra_holidays = ["2026-11-19"]\n',
        encoding="utf-8",
    )
    return path


def test_worklog_jobs_list_and_run(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ["-c", str(config_file)]
    assert main([*cfg, "jobs", "list"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    names = [line.split("\t")[0] for line in lines]
    assert names[:3] == JOB_NAMES[:3] and set(JOB_NAMES) <= set(names)
    assert all(len(line.split("\t")) == 3 and "下次：" in line for line in lines)
    assert "工作日16:00–21:00每10分钟" in lines[0]

    assert main([*cfg, "roster", "import", str(SAMPLE)]) == 0
    capsys.readouterr()
    db = config_file.parent / "worklog.db"
    with sqlite3.connect(db) as conn:
        conn.execute("update people set telegram_user_id = 90000 + id where id <= 3")

    run = [*cfg, "jobs", "run", "daily-reminder", "--period"]
    assert main([*run, "2026-11-20"]) == 0
    done = zh.JOB_DONE.format(name="daily-reminder", key="2026-11-20", count=3, note="")
    assert capsys.readouterr().out.strip() == done.strip()
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select key, kind, reminds_of, status from outbox_messages order by id"
        ).fetchall()
    assert rows == [(f"daily:2026-11-20:{n}", "daily", "2026-11-20", "pending") for n in (1, 2, 3)]
    assert main([*run, "2026-11-20"]) == 0  # twice → once
    assert "计划发送 0 条" in capsys.readouterr().out
    assert main([*run, "2026-11-19"]) == 0  # the config's extra holiday
    assert zh.JOB_NOTE_NOT_WORKING_DAY in capsys.readouterr().out

    assert main([*cfg, "jobs", "run", "nope"]) == 2
    assert capsys.readouterr().err.strip() == zh.JOB_UNKNOWN.format(
        name="nope", names=", ".join(names)
    )
    assert main([*run, "someday"]) == 2
    assert capsys.readouterr().err.strip() == zh.JOB_BAD_DAY.format(text="someday")
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from outbox_messages").fetchone()[0] == 3
