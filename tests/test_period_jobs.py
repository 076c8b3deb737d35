"""The period jobs without Telegram: the quarterly review reminder (季查阅), the monthly summary
notice (月小结), the 5+2 form notice and its deadline, the last working day they hang on, and
the job runner firing them on 2026-12-31, on SQLite and PostgreSQL.

What a job did is read back from the outbox rows it planned. The official calendar decides
the last working days: 2026-09-30 (Wed), 2026-10-30 (Fri; the 31st is a Saturday),
2026-11-30 (Mon) and 2026-12-31 (Thu). The 5+2 form of 2026Q4 is due 2027-01-07.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta

import pytest

from bot.app import build_services
from bot.config import CalendarConfig, Config, DatabaseConfig
from scheduler.calendar import WorkCalendar
from scheduler.jobs import JobRunner, build_jobs, run_job
from scoring.dates import Period
from services import zh
from services.errors import UsageError
from services.policy import SchedulerRules
from services.reminders import JobOutcome, ReminderService
from storage.models import FiveTwoForm, MonthlySummary, OutboxMessage
from tests.services_fixtures import SHANGHAI, Env
from tests.test_scheduler import cadre, moment, set_person

pytest_plugins = ("tests.services_fixtures",)

RULES = SchedulerRules()
GRACE = timedelta(minutes=RULES.grace_minutes)
Q3, Q4 = Period.quarter(2026, 3), Period.quarter(2026, 4)
NOV, DEC = Period.month(2026, 11), Period.month(2026, 12)
Q4_LAST = date(2026, 12, 31)  # Thursday, a working day: the last of November is Mon 11-30
Q4_DEADLINE = date(2027, 1, 7)
SUMMARY_BUTTON = [[["查看本月小结草稿", "sm:2026-11:go"]]]


async def rows_of(env: Env, prefix: str) -> dict[tuple[str, int], OutboxMessage]:
    """The outbox rows whose key starts with `prefix`, by (key's job, person)."""
    rows = [r for r in await env.rows(OutboxMessage) if r.key.startswith(prefix)]
    by_key = {(r.key.split(":")[0], r.person_id): r for r in rows}
    assert len(by_key) == len(rows), "one row per job and person"
    return by_key


async def texts(env: Env, prefix: str) -> dict[int, str]:
    """Person → text of the outbox rows whose key starts with `prefix` (one each)."""
    return {pid: row.text for (_, pid), row in (await rows_of(env, prefix)).items()}


async def summary(env: Env, person_id: int, month: str, *, confirmed: bool) -> None:
    when = moment(date(2026, 11, 25), 15)
    await env.insert_rows(
        MonthlySummary,
        [
            {
                "person_id": person_id,
                "month": month,
                "draft": "本月走访慰问困难群众5户",
                "text": "本月走访慰问困难群众5户" if confirmed else None,
                "confirmed_at": when if confirmed else None,
                "created_at": when,
                "updated_at": when,
            }
        ],
    )


async def fivetwo(env: Env, person_id: int, quarter: str, *, submitted: bool) -> None:
    when = moment(date(2026, 12, 28), 15)
    await env.insert_rows(
        FiveTwoForm,
        [
            {
                "person_id": person_id,
                "quarter": quarter,
                "best": json.dumps(["走访慰问困难群众5户"], ensure_ascii=False),
                "weaker": "[]",
                "self_assessment": "完成较好" if submitted else None,
                "submitted_at": when if submitted else None,
                "created_at": when,
                "updated_at": when,
            }
        ],
    )


def review_text(quarter: str, *names: str) -> str:
    return zh.QUARTERLY_REVIEW.format(quarter=quarter, count=len(names), names="、".join(names))


# -- the last working day ---------------------------------------------------------------------


async def test_last_working_day_steps_back_over_weekends_and_holidays(env: Env) -> None:
    reminders = env.services.reminders
    calendar = WorkCalendar()
    expected = {
        Period.month(2026, 9): date(2026, 9, 30),
        Period.month(2026, 10): date(2026, 10, 30),  # Sat 10-31 is no working day
        NOV: date(2026, 11, 30),
        DEC: date(2026, 12, 31),
        Q3: date(2026, 9, 30),
        Q4: date(2026, 12, 31),
        Period.month(2026, 2): date(2026, 2, 28),  # a Saturday worked (调休)
    }
    for period, day in expected.items():
        assert reminders.last_working_day(period) == day, period
        assert calendar.is_working_day(day)
    assert not calendar.is_working_day(date(2026, 10, 31))

    # 2030 has no official schedule: Mon–Fri, and nothing raises.
    assert reminders.last_working_day(Period.month(2030, 3)) == date(2030, 3, 29)
    assert reminders.last_working_day(Period.quarter(2030, 2)) == date(2030, 6, 28)
    assert reminders.last_working_day(Period.month(2030, 12)) == date(2030, 12, 31)

    # The admin's extra holiday moves it back a day.
    config = Config(
        database=DatabaseConfig(url=str(env.engine.url)),
        calendar=CalendarConfig(extra_holidays=(date(2026, 12, 31),)),
    )
    holiday = build_services(config, env.engine, env.clock).services.reminders
    assert holiday.last_working_day(DEC) == holiday.last_working_day(Q4) == date(2026, 12, 30)


async def test_monthly_summary_in_october_goes_out_on_friday_the_30th(env: Env) -> None:
    me = await cadre(env, "c01")
    reminders = env.services.reminders
    env.clock.set(moment(date(2026, 10, 31), 16))
    outcome = await reminders.monthly_summary()
    assert outcome == JobOutcome("monthly-summary", "2026-10", 0, zh.JOB_NOTE_NOT_YET)
    env.clock.set(moment(date(2026, 10, 30), 16))
    assert await reminders.monthly_summary() == JobOutcome("monthly-summary", "2026-10", 1)
    [row] = (await rows_of(env, "monthly-summary:")).values()
    assert (row.person_id, row.key) == (me, f"monthly-summary:2026-10:{me}")
    assert json.loads(row.buttons) == [[["查看本月小结草稿", "sm:2026-10:go"]]]


# -- the quarterly review (季查阅) -------------------------------------------------------------


async def test_quarterly_review_tells_each_supervisor_whom_they_have_not_read(env: Env) -> None:
    boss = await cadre(env, "s01", "王科长")
    read = await cadre(env, "r01", "赵一", supervisor_id=boss)
    read_last_quarter = await cadre(env, "r02", "钱二", supervisor_id=boss)
    team_only = await cadre(env, "r03", "孙三", supervisor_id=boss)  # only seen in /team
    await cadre(env, "r04", "李四", supervisor_id=boss, bound=False)  # unbound: still listed
    await cadre(env, "r05", "周五", supervisor_id=boss, active=False)  # left: not listed
    diligent = await cadre(env, "s02", "吴科长")
    await cadre(env, "r06", "郑六", supervisor_id=diligent)
    unbound_boss = await cadre(env, "s03", "冯科长", bound=False)
    await cadre(env, "r07", "陈七", supervisor_id=unbound_boss)
    blocked_boss = await cadre(env, "s04", "褚科长")
    await cadre(env, "r08", "卫八", supervisor_id=blocked_boss)
    await set_person(env, blocked_boss, bot_blocked_at=moment(date(2026, 11, 2), 9))
    assert read and read_last_quarter and team_only
    review = env.services.review

    # A read on the evening before the quarter began does not count for it.
    env.clock.set(moment(date(2026, 9, 30), 23, 59))
    await review.review(boss, "r02")
    env.clock.set(moment(date(2026, 11, 20), 10))
    await review.review(boss, "r01")
    await review.review(boss, "r01", "上月")  # twice, another period: still one read
    await review.team(boss)  # a /team overview is no /review
    await review.review(diligent, "r06", "本季度")
    assert len(await env.audit("read")) == 3 + 1 + 4  # /team read its 4 active reports

    # Any other day than the quarter's last working day: nothing.
    reminders = env.services.reminders
    for day in (date(2026, 12, 30), date(2027, 1, 1), date(2026, 11, 30)):
        env.clock.set(moment(day, 10))
        outcome = await reminders.quarterly_review()
        assert (outcome.messages, outcome.note) == (0, zh.JOB_NOTE_NOT_YET), day
    assert await env.count(OutboxMessage) == 0

    env.clock.set(moment(Q4_LAST, 10))
    assert await reminders.quarterly_review() == JobOutcome("quarterly-review", "2026Q4", 2)
    rows = await rows_of(env, "quarterly-review:")
    assert sorted(pid for _, pid in rows) == sorted([boss, diligent])
    row = rows[("quarterly-review", boss)]
    assert row.key == f"quarterly-review:2026Q4:{boss}"
    assert row.text == review_text("2026Q4", "钱二", "孙三", "李四")
    assert row.text.startswith("2026Q4 季查阅提醒：本季度您还没有调阅以下3名下属的日志：")
    assert "：钱二、孙三、李四\n发送 /review" in row.text
    assert (row.buttons, row.reminds_of, row.status) == (None, None, "pending")
    assert row.not_before == moment(Q4_LAST, 10)
    done = rows[("quarterly-review", diligent)]
    assert done.text == zh.QUARTERLY_REVIEW_DONE.format(quarter="2026Q4")

    # Twice (a restart, the operator) → once.
    await reminders.quarterly_review()
    jobs = build_jobs(reminders, RULES, SHANGHAI)
    assert (await run_job(jobs, "quarterly-review", "2026Q4")).run_key == "2026Q4"
    assert await env.count(OutboxMessage) == 2


async def test_quarterly_review_for_a_given_quarter_runs_any_day_and_counts_its_reads(
    env: Env,
) -> None:
    boss = await cadre(env, "s01", "王科长")
    await cadre(env, "r01", "赵一", supervisor_id=boss)
    await cadre(env, "r02", "钱二", supervisor_id=boss)
    review = env.services.review
    env.clock.set(moment(date(2026, 9, 15), 10))
    await review.review(boss, "r01")  # in Q3
    env.clock.set(moment(date(2026, 11, 20), 10))
    await review.review(boss, "r02")  # in Q4

    reminders = env.services.reminders
    jobs = build_jobs(reminders, RULES, SHANGHAI)
    outcome = await run_job(jobs, "quarterly-review", "2026Q4")  # a Friday in November
    assert outcome == JobOutcome("quarterly-review", "2026Q4", 1)
    # A past quarter counts the reads made in it, not those made since.
    assert (await run_job(jobs, "quarterly-review", "2026Q3")).messages == 1
    got = await texts(env, "quarterly-review:2026Q4:")
    assert got == {boss: review_text("2026Q4", "赵一")}
    got = await texts(env, "quarterly-review:2026Q3:")
    assert got == {boss: review_text("2026Q3", "钱二")}

    for bad in ("2026-11", "下周", "someday"):
        with pytest.raises(UsageError) as refused:
            await run_job(jobs, "quarterly-review", bad)
        assert refused.value.reply == zh.JOB_BAD_QUARTER.format(text=bad)
    assert await env.count(OutboxMessage) == 2


async def test_quarterly_review_lists_thirty_names_and_counts_all(env: Env) -> None:
    boss = await cadre(env, "s01", "王科长")
    for n in range(32):
        await cadre(env, f"r{n:02d}", f"干部{n:02d}", supervisor_id=boss)
    env.clock.set(moment(Q4_LAST, 10))
    await env.services.reminders.quarterly_review()
    text = (await texts(env, "quarterly-review:"))[boss]
    assert "以下32名下属" in text
    assert "、".join(f"干部{n:02d}" for n in range(30)) in text
    assert "干部30" not in text and "干部31" not in text


# -- the monthly summary (月小结) -------------------------------------------------------------


async def test_monthly_summary_to_everyone_reachable_without_a_confirmed_one(env: Env) -> None:
    plain = await cadre(env, "c01")
    confirmed = await cadre(env, "c02")
    await summary(env, confirmed, "2026-11", confirmed=True)
    drafted = await cadre(env, "c03")  # opened the draft, never confirmed
    await summary(env, drafted, "2026-11", confirmed=False)
    last_month = await cadre(env, "c04")  # confirmed October's, not November's
    await summary(env, last_month, "2026-10", confirmed=True)
    await cadre(env, "c05", bound=False)
    gone = await cadre(env, "c06", active=False)
    blocked = await cadre(env, "c07")
    await set_person(env, blocked, bot_blocked_at=moment(date(2026, 11, 2), 9))
    assert gone

    reminders = env.services.reminders
    for day in (date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 20)):
        env.clock.set(moment(day, 16))
        assert await reminders.monthly_summary() == JobOutcome(
            "monthly-summary", "2026-11", 0, zh.JOB_NOTE_NOT_YET
        )
    assert await env.count(OutboxMessage) == 0

    env.clock.set(moment(date(2026, 11, 30), 16))
    assert await reminders.monthly_summary() == JobOutcome("monthly-summary", "2026-11", 3)
    rows = await rows_of(env, "monthly-summary:")
    assert sorted(pid for _, pid in rows) == sorted([plain, drafted, last_month])
    text = zh.MONTHLY_NOTICE.format(month="2026年11月")
    assert text.startswith("今天是2026年11月最后一个工作日，请写本月小结。")
    for (_, pid), row in rows.items():
        assert row.key == f"monthly-summary:2026-11:{pid}"
        assert (row.kind, row.text, row.reminds_of) == ("monthly-summary", text, None)
        assert json.loads(row.buttons) == SUMMARY_BUTTON
        assert row.buttons == json.dumps(
            [[(zh.BUTTON_OPEN_SUMMARY, "sm:2026-11:go")]], ensure_ascii=False
        )

    # Twice → once; the operator's month by its label on another day works too.
    await reminders.monthly_summary()
    env.clock.set(moment(date(2026, 12, 2), 10))
    jobs = build_jobs(reminders, RULES, SHANGHAI)
    assert (await run_job(jobs, "monthly-summary", "2026-11")).run_key == "2026-11"
    assert await env.count(OutboxMessage) == 3
    with pytest.raises(UsageError) as refused:
        await run_job(jobs, "monthly-summary", "2026Q4")
    assert refused.value.reply == zh.JOB_BAD_MONTH.format(text="2026Q4")


# -- the 5+2 form and its deadline ------------------------------------------------------------


async def test_fivetwo_notice_then_the_late_ones_and_their_supervisors(env: Env) -> None:
    boss = await cadre(env, "s01", "王科长")
    await fivetwo(env, boss, "2026Q4", submitted=True)
    plain = await cadre(env, "r01", "赵一", supervisor_id=boss)
    early = await cadre(env, "r02", "钱二", supervisor_id=boss)
    await fivetwo(env, early, "2026Q4", submitted=True)
    started = await cadre(env, "r03", "孙三", supervisor_id=boss)  # begun, not submitted
    await fivetwo(env, started, "2026Q4", submitted=False)
    in_time = await cadre(env, "r04", "李四", supervisor_id=boss)  # submits after the notice
    await fivetwo(env, in_time, "2026Q3", submitted=True)  # last quarter's does not count
    unbound = await cadre(env, "r05", "周五", supervisor_id=boss, bound=False)
    await cadre(env, "r06", "吴六", supervisor_id=boss, active=False)
    lone = await cadre(env, "c01", "郑七")  # no supervisor
    assert unbound

    reminders = env.services.reminders
    for day in (date(2026, 12, 30), date(2026, 11, 30)):
        env.clock.set(moment(day, 10))
        assert await reminders.quarterly_fivetwo() == JobOutcome(
            "quarterly-fivetwo", "2026Q4", 0, zh.JOB_NOTE_NOT_YET
        )
    env.clock.set(moment(Q4_LAST, 10))
    assert await reminders.quarterly_fivetwo() == JobOutcome("quarterly-fivetwo", "2026Q4", 4)
    rows = await rows_of(env, "quarterly-fivetwo:")
    assert sorted(pid for _, pid in rows) == sorted([plain, started, in_time, lone])
    notice = zh.FIVETWO_NOTICE.format(quarter="2026Q4", deadline="1月7日")
    assert "1月7日前提交" in notice
    for (_, pid), row in rows.items():
        assert row.key == f"quarterly-fivetwo:2026Q4:{pid}"
        assert (row.kind, row.text, row.buttons) == ("quarterly-fivetwo", notice, None)
    await reminders.quarterly_fivetwo()  # twice → once
    assert await env.count(OutboxMessage) == 4

    await fivetwo(env, in_time, "2026Q4", submitted=True)
    # Up to the deadline nobody is late.
    for day in (Q4_DEADLINE, date(2027, 1, 2)):
        env.clock.set(moment(day, 10))
        assert await reminders.fivetwo_deadline() == JobOutcome(
            "fivetwo-deadline", "2026Q4", 0, zh.JOB_NOTE_NOT_YET
        )
    env.clock.set(moment(Q4_LAST, 10))  # in Q4 the deadline looked at is Q3's (10-07)
    assert await reminders.fivetwo_deadline() == JobOutcome(
        "fivetwo-deadline", "2026Q3", 0, zh.JOB_NOTE_NOT_YET
    )
    assert await env.count(OutboxMessage) == 4
    env.clock.set(moment(Q4_DEADLINE + timedelta(days=1), 10))
    assert await reminders.fivetwo_deadline() == JobOutcome("fivetwo-deadline", "2026Q4", 4)
    rows = await rows_of(env, "fivetwo-late")
    late = zh.FIVETWO_LATE.format(quarter="2026Q4")
    assert {key: row.text for key, row in rows.items()} == {
        ("fivetwo-late", plain): late,
        ("fivetwo-late", started): late,
        ("fivetwo-late", lone): late,
        ("fivetwo-late-team", boss): zh.FIVETWO_LATE_TEAM.format(
            quarter="2026Q4", count=3, names="赵一、孙三、周五"
        ),
    }
    assert rows[("fivetwo-late", plain)].key == f"fivetwo-late:2026Q4:{plain}"
    assert rows[("fivetwo-late-team", boss)].key == f"fivetwo-late-team:2026Q4:{boss}"
    assert rows[("fivetwo-late-team", boss)].text.endswith("您的3名下属逾期未交：赵一、孙三、周五")
    assert {row.kind for row in rows.values()} == {"fivetwo-late"}

    # Twice → once; the operator's quarter on another day works too.
    await reminders.fivetwo_deadline()
    jobs = build_jobs(reminders, RULES, SHANGHAI)
    assert (await run_job(jobs, "fivetwo-deadline", "2026Q4")).run_key == "2026Q4"
    assert await env.count(OutboxMessage) == 4 + 4


async def test_the_fivetwo_deadline_follows_the_config(env: Env) -> None:
    me = await cadre(env, "c01")
    base = env.services.reminders
    rules = dataclasses.replace(RULES, fivetwo_deadline_days=10)
    reminders = ReminderService(env.wiring.uow, env.clock, base.policy, rules)
    env.clock.set(moment(Q4_LAST, 10))
    await reminders.quarterly_fivetwo()
    assert await texts(env, "quarterly-fivetwo:") == {
        me: zh.FIVETWO_NOTICE.format(quarter="2026Q4", deadline="1月10日")
    }
    env.clock.set(moment(date(2027, 1, 8), 10))
    assert (await reminders.fivetwo_deadline()).note == zh.JOB_NOTE_NOT_YET
    env.clock.set(moment(date(2027, 1, 11), 10))
    assert (await reminders.fivetwo_deadline()).messages == 1
    # Q3's deadline (the day after 10-10) is long past: only an operator's run reaches it.
    assert (await reminders.fivetwo_deadline(Q3)).messages == 1
    for quarter in ("2026Q4", "2026Q3"):
        late = zh.FIVETWO_LATE.format(quarter=quarter)
        assert await texts(env, f"fivetwo-late:{quarter}:") == {me: late}
    assert await env.count(OutboxMessage, OutboxMessage.kind == "fivetwo-late") == 2


# -- the runner on the quarter's last day --------------------------------------------------


async def test_the_runner_fires_the_period_jobs_on_new_years_eve(env: Env) -> None:
    boss = await cadre(env, "s01", "王科长")
    report = await cadre(env, "r01", "赵一", supervisor_id=boss)
    env.clock.set(datetime(2026, 12, 31, 10, 0, tzinfo=SHANGHAI))
    runner = JobRunner(build_jobs(env.services.reminders, RULES, SHANGHAI), env.clock, GRACE)

    ran = {outcome.job: outcome for outcome in await runner.tick()}
    assert ran["quarterly-review"] == JobOutcome("quarterly-review", "2026Q4", 1)
    assert ran["quarterly-fivetwo"] == JobOutcome("quarterly-fivetwo", "2026Q4", 2)
    assert ran["fivetwo-deadline"].messages == 0  # the deadline is next year
    assert "monthly-summary" not in ran
    assert await texts(env, "quarterly-review:2026Q4:") == {boss: review_text("2026Q4", "赵一")}
    assert sorted(await texts(env, "quarterly-fivetwo:2026Q4:")) == sorted([boss, report])
    assert await runner.tick() == []

    env.clock.set(datetime(2026, 12, 31, 15, 59, tzinfo=SHANGHAI))
    assert "monthly-summary" not in {o.job for o in await runner.tick()}
    env.clock.set(datetime(2026, 12, 31, 16, 0, tzinfo=SHANGHAI))
    ran = {outcome.job: outcome for outcome in await runner.tick()}
    assert ran["monthly-summary"] == JobOutcome("monthly-summary", "2026-12", 2)
    # The year's last working day is also the year-end notice's day.
    assert ran["year-end"] == JobOutcome("year-end", "2026", 2)
    assert set((await texts(env, "year-end:2026:")).values()) == {
        zh.YEAR_END_NOTICE.format(year=2026)
    }
    rows = await rows_of(env, "monthly-summary:2026-12:")
    assert sorted(pid for _, pid in rows) == sorted([boss, report])
    for row in rows.values():
        assert row.text == zh.MONTHLY_NOTICE.format(month="2026年12月")
        assert json.loads(row.buttons) == [[["查看本月小结草稿", "sm:2026-12:go"]]]
    assert await env.count(OutboxMessage) == 1 + 2 + 2 + 2


# -- the official calendar in the reminders ----------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 9, 20), 1),  # a Sunday worked instead of the National Day break (调休)
        (date(2026, 10, 10), 1),  # a Saturday worked (调休)
        (date(2026, 10, 1), 0),  # 国庆节
        (date(2026, 10, 7), 0),  # still the National Day break, a Wednesday
        (date(2026, 2, 17), 0),  # 春节, a Tuesday
        (date(2027, 1, 4), 1),  # 2027 is not published: Monday by the Mon–Fri fallback
        (date(2030, 6, 8), 0),  # a Saturday in the fallback
    ],
)
async def test_daily_reminder_follows_the_official_calendar(
    env: Env, day: date, expected: int
) -> None:
    person = await cadre(env, "c01")
    env.clock.set(datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(hours=18))
    outcome = await env.services.reminders.daily_reminder()
    assert (outcome.run_key, outcome.messages) == (day.isoformat(), expected)
    rows = await rows_of(env, f"daily:{day.isoformat()}:")
    assert [pid for _, pid in rows] == ([person] if expected else [])


async def test_housekeeping_tells_admins_once_when_a_years_schedule_is_missing(env: Env) -> None:
    admin = await cadre(env, "a01", "许主任")
    await cadre(env, "c01", "赵一")
    unbound = await cadre(env, "a02", "未绑定", bound=False)
    await set_person(env, admin, roles="cadre,admin")
    await set_person(env, unbound, roles="admin")
    reminders = env.services.reminders

    env.clock.set(datetime(2026, 11, 20, 3, 0, tzinfo=SHANGHAI))  # 2026 is published
    assert (await reminders.housekeeping()).messages == 0
    env.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI))  # December: 2027 is not
    assert (await reminders.housekeeping()).messages == 1
    env.clock.set(datetime(2026, 12, 2, 3, 0, tzinfo=SHANGHAI))
    await reminders.housekeeping()  # the next day: the same notice is not queued again
    assert await texts(env, "calendar-missing:") == {admin: zh.CALENDAR_MISSING.format(year=2027)}


async def test_raters_are_reminded_on_the_quarters_last_working_day(env: Env) -> None:
    rater = await cadre(env, "p01", "冯书记")
    await set_person(env, rater, roles="cadre,rater")
    away = await cadre(env, "p02", "未绑定", bound=False)
    await set_person(env, away, roles="rater")
    await cadre(env, "c01", "赵一")
    reminders = env.services.reminders

    env.clock.set(datetime(2026, 12, 30, 10, 0, tzinfo=SHANGHAI))
    assert (await reminders.rating_reminder()).messages == 0
    env.clock.set(datetime(2026, 12, 31, 10, 0, tzinfo=SHANGHAI))
    assert await reminders.rating_reminder() == JobOutcome("rating-reminder", "2026Q4", 1)
    await reminders.rating_reminder()
    assert await texts(env, "rating-reminder:") == {
        rater: zh.RATING_REMINDER.format(quarter="2026Q4")
    }
