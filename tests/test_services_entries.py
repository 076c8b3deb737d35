"""EntryService without Telegram: recording, edits and their history, backfill, reflections,
absences, completeness, transactions and set-based reads, on SQLite and PostgreSQL.

The clock stands at Friday 2026-11-20 10:00 in Shanghai; the calendar is Mon–Fri and the
backfill window three working days (Tue 11-17 is the oldest day that may still change).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest

from scoring.completeness import Completeness
from scoring.dates import Period
from services import zh
from services.entries import Activity, EntryChange, EntryService, EntrySource, EntryView
from services.errors import DomainError, NotAllowed, NotFound, UsageError
from storage.models import (
    Absence,
    Channel,
    EntryHistory,
    EntryKind,
    InboxUpdate,
    LogEntry,
    Person,
    Reflection,
)
from storage.repositories import EntryCounts, PeopleScope
from tests.services_fixtures import OTHER_UNIT, Env, InjectedFault, at, person_row, processing

pytest_plugins = ("tests.services_fixtures",)

CHAT = 9001
TODAY = date(2026, 11, 20)
ORIGINAL = "1.与县发改委对接项目用地问题\n2.走访慰问困难群众5户\n3.起草年度工作总结"
LONG_ITEM = "起草全县重点项目推进情况汇报，" + "逐项核对投资进度" * 70  # 575 characters


def nov(*days: int) -> list[date]:
    return [date(2026, 11, d) for d in days]


def tg(message_id: int, day: int = 20, hour: int = 10) -> EntrySource:
    """A message of the cadre's chat, sent on `day` of November at `hour`."""
    return EntrySource.telegram(CHAT, message_id, at(day, hour))


@pytest.fixture
async def me(env: Env) -> int:
    return await env.person("c001", "王五", telegram_user_id=CHAT)


async def stored_entries(env: Env, *where: Any) -> list[LogEntry]:
    return await env.rows(LogEntry, *where)


async def history(env: Env) -> list[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    """(entry id, action, before, after) of every history row, oldest first."""
    return [
        (h.entry_id, h.action, json.loads(h.before), json.loads(h.after))
        for h in await env.rows(EntryHistory)
    ]


def snapshot(entry: EntryView | LogEntry) -> dict[str, Any]:
    """An entry as its history rows describe it."""
    return {
        "text": entry.text,
        "kind": str(entry.kind),
        "collaborator": entry.collaborator,
        "withdrawn": entry.withdrawn,
    }


# -- recording ---------------------------------------------------------------------------------


async def test_numbered_message_becomes_numbered_entries_with_collaborator_and_flags(
    env: Env, me: int
) -> None:
    text = f"1.与县发改委对接项目用地问题\n2.走访慰问困难群众5户\n3.{LONG_ITEM}"

    result = await env.entries.record(me, text, tg(1), attachment="photo-1")

    assert (result.work_date, result.late, result.after_hours, result.replayed) == (
        TODAY,
        False,
        False,
        False,
    )
    assert [(e.item_no, e.text) for e in result.entries] == [
        (1, "与县发改委对接项目用地问题"),
        (2, "走访慰问困难群众5户"),
        (3, LONG_ITEM),
    ]
    assert [e.collaborator for e in result.entries] == ["县发改委", "困难群众", None]
    assert [e.is_overlong for e in result.entries] == [False, False, True]
    stored = await stored_entries(env)
    assert [EntryView.of(e) for e in stored] == list(result.entries)
    assert [(e.channel, e.source_key, e.source_part, e.attachment_file_id) for e in stored] == [
        ("telegram", "9001:1", 0, "photo-1"),
        ("telegram", "9001:1", 1, None),
        ("telegram", "9001:1", 2, None),
    ]
    assert {(e.person_id, e.kind, e.is_late, e.withdrawn, e.created_at) for e in stored} == {
        (me, "regular", False, False, env.clock.now())
    }


async def test_message_is_dated_by_when_it_was_sent(env: Env, me: int) -> None:
    cases = [  # (sent at, work date, after hours)
        (at(20, 10), TODAY, False),
        (at(20, 18), TODAY, True),
        (at(21, 2), TODAY, True),  # 加班到凌晨 belongs to the day it started
        (at(21, 10), date(2026, 11, 21), True),  # a Saturday
    ]
    for message_id, (sent_at, work_date, after_hours) in enumerate(cases, 1):
        source = EntrySource.telegram(CHAT, message_id, sent_at)
        result = await env.entries.record(me, "与县发改委对接项目用地问题", source)
        assert (result.work_date, result.after_hours) == (work_date, after_hours), sent_at
    assert [e.work_date for e in await stored_entries(env)] == [c[1] for c in cases]


async def test_the_same_source_recorded_twice_is_stored_once(env: Env, me: int) -> None:
    first = await env.entries.record(me, ORIGINAL, tg(7))

    again = await env.entries.record(me, ORIGINAL, tg(7))

    assert again.replayed and not first.replayed
    assert (again.work_date, again.entries) == (first.work_date, first.entries)
    assert await env.count(LogEntry) == 3


async def test_web_and_telegram_sources_with_the_same_key_are_distinct(env: Env, me: int) -> None:
    web = EntrySource(Channel.WEB, f"{CHAT}:1", at(20))

    from_web = await env.entries.record(me, "与县财政局核对预算", web)
    from_telegram = await env.entries.record(me, "与县财政局核对预算", tg(1))

    assert not from_web.replayed and not from_telegram.replayed
    assert [e.item_no for e in from_web.entries + from_telegram.entries] == [1, 2]
    stored = await stored_entries(env)
    assert [(e.channel, e.source_key) for e in stored] == [
        ("web", "9001:1"),
        ("telegram", "9001:1"),
    ]


async def test_entries_are_numbered_per_person_and_day(env: Env, me: int) -> None:
    colleague = await env.person("c002", telegram_user_id=9002)

    first = await env.entries.record(me, "1.对接项目\n2.起草总结", tg(1))
    second = await env.entries.record(me, "走访企业", tg(2))
    theirs = await env.entries.record(colleague, "值守", EntrySource.telegram(9002, 1, at(20)))
    yesterday = await env.entries.record(me, "整理档案", tg(3, day=19))

    numbers = [[e.item_no for e in r.entries] for r in (first, second, theirs, yesterday)]
    assert numbers == [[1, 2], [3], [1], [1]]


async def test_empty_message_is_refused_and_stores_nothing(env: Env, me: int) -> None:
    for message_id, text in enumerate(["", "   ", "\n \t\u3000\n", "1.\n2.", "；；"], 1):
        with pytest.raises(UsageError) as refused:
            await env.entries.record(me, text, tg(message_id))
        assert refused.value.reply == zh.EMPTY_MESSAGE
    assert await env.count(LogEntry) == 0


# -- edited messages ---------------------------------------------------------------------------


async def test_edit_changes_a_line_and_finds_its_collaborator_again(env: Env, me: int) -> None:
    recorded = await env.entries.record(me, ORIGINAL, tg(1))
    env.clock.advance(minutes=5)

    result = await env.entries.apply_edit(me, ORIGINAL.replace("县发改委", "县财政局"), tg(1))

    assert result is not None
    [changed] = result.entries
    before = recorded.entries[0]
    assert (changed.id, changed.item_no, changed.text, changed.collaborator) == (
        before.id,
        1,
        "与县财政局对接项目用地问题",
        "县财政局",
    )
    after = snapshot(before) | {"text": changed.text, "collaborator": "县财政局"}
    assert await history(env) == [(before.id, "edit", snapshot(before), after)]
    stored = await env.one(LogEntry, LogEntry.id == before.id)
    assert (snapshot(stored), stored.updated_at) == (after, env.clock.now())


async def test_edit_withdraws_the_entries_of_removed_lines(env: Env, me: int) -> None:
    recorded = await env.entries.record(me, ORIGINAL, tg(1))

    result = await env.entries.apply_edit(me, "1.与县发改委对接项目用地问题", tg(1))

    assert result is not None
    assert [(e.item_no, e.withdrawn) for e in result.entries] == [(2, True), (3, True)]
    assert [(entry_id, action) for entry_id, action, *_ in await history(env)] == [
        (recorded.entries[1].id, "edit_withdraw"),
        (recorded.entries[2].id, "edit_withdraw"),
    ]
    stored = await stored_entries(env)  # never deleted: the texts stay
    assert [(e.text, e.withdrawn) for e in stored] == [
        (e.text, e.item_no > 1) for e in recorded.entries
    ]


async def test_a_removed_line_that_comes_back_restores_its_entry(env: Env, me: int) -> None:
    recorded = await env.entries.record(me, ORIGINAL, tg(1))
    await env.entries.apply_edit(me, "1.与县发改委对接项目用地问题\n2.走访慰问困难群众5户", tg(1))

    result = await env.entries.apply_edit(me, ORIGINAL, tg(1))

    assert result is not None
    third = recorded.entries[2]
    assert [(e.id, e.withdrawn) for e in result.entries] == [(third.id, False)]
    assert (await history(env))[-1] == (
        third.id,
        "restore",
        snapshot(third) | {"withdrawn": True},
        snapshot(third),
    )
    assert [e.withdrawn for e in await stored_entries(env)] == [False, False, False]


async def test_a_line_withdrawn_with_the_button_stays_withdrawn_when_edited(
    env: Env, me: int
) -> None:
    recorded = await env.entries.record(me, ORIGINAL, tg(1))
    await env.entries.withdraw(me, recorded.entries[1].id)

    await env.entries.apply_edit(me, ORIGINAL.replace("5户", "6户"), tg(1))

    second = await env.one(LogEntry, LogEntry.id == recorded.entries[1].id)
    assert (second.text, second.withdrawn) == ("走访慰问困难群众6户", True)
    assert [action for _, action, *_ in await history(env)] == ["withdraw", "edit"]


async def test_edit_appends_new_lines_after_the_days_last_entry(env: Env, me: int) -> None:
    await env.entries.record(me, "1.对接项目\n2.起草总结", tg(1))
    await env.entries.record(me, "走访企业", tg(2))

    result = await env.entries.apply_edit(me, "1.对接项目\n2.起草总结\n3.整理档案\n4.值班", tg(1))

    assert result is not None
    assert [(e.item_no, e.text, e.withdrawn) for e in result.entries] == [
        (4, "整理档案", False),
        (5, "值班", False),
    ]
    from_message = await stored_entries(env, LogEntry.source_key == f"{CHAT}:1")
    assert [(e.item_no, e.source_part) for e in from_message] == [(1, 0), (2, 1), (4, 2), (5, 3)]
    assert await history(env) == []  # new entries have no before


async def test_edit_that_changes_no_item_changes_nothing(env: Env, me: int) -> None:
    await env.entries.record(me, ORIGINAL, tg(1))
    renumbered = ORIGINAL.replace("1.", "1、").replace("2.", "（2）").replace("3.", "③")

    assert await env.entries.apply_edit(me, renumbered, tg(1)) is None
    assert await history(env) == []


async def test_edit_to_an_empty_text_is_refused_and_keeps_the_entries(env: Env, me: int) -> None:
    await env.entries.record(me, ORIGINAL, tg(1))

    with pytest.raises(UsageError):
        await env.entries.apply_edit(me, " \n ", tg(1))

    assert [e.withdrawn for e in await stored_entries(env)] == [False, False, False]
    assert await history(env) == []


async def test_edit_of_a_message_that_made_no_entries_records_it_now(env: Env, me: int) -> None:
    result = await env.entries.apply_edit(me, "与县发改委对接项目用地问题", tg(5), "photo-5")

    assert result is not None and not result.replayed
    [stored] = await stored_entries(env)
    assert (stored.item_no, stored.attachment_file_id, stored.source_key) == (
        1,
        "photo-5",
        "9001:5",
    )


async def test_edit_of_an_old_message_that_made_no_entries_is_refused(env: Env, me: int) -> None:
    with pytest.raises(NotAllowed):
        await env.entries.apply_edit(me, "与县发改委对接项目用地问题", tg(5, day=2), "photo-5")
    assert await env.count(LogEntry) == 0


async def test_edit_outside_the_backfill_window_is_refused(env: Env, me: int) -> None:
    inside = await env.entries.record(me, "对接项目", tg(1, day=17))  # Tue: 3 working days ago
    outside = await env.entries.record(me, "起草总结", tg(2, day=16))  # Mon: 4 working days

    assert await env.entries.apply_edit(me, "对接项目用地", tg(1, day=17)) is not None
    with pytest.raises(NotAllowed) as refused:
        await env.entries.apply_edit(me, "起草年度总结", tg(2, day=16))

    assert refused.value.reply == zh.OUT_OF_WINDOW.format(date="11月16日", window=3)
    stored = await env.one(LogEntry, LogEntry.id == outside.entries[0].id)
    assert stored.text == "起草总结"
    assert [(entry_id, action) for entry_id, action, *_ in await history(env)] == [
        (inside.entries[0].id, "edit")
    ]


# -- changes by id or number -------------------------------------------------------------------

Change = Callable[[EntryService, int, EntryView], Awaitable[EntryChange]]
CHANGES: dict[str, tuple[Change, str, dict[str, Any]]] = {
    "withdraw": (lambda s, p, e: s.withdraw(p, e.id), "withdraw", {"withdrawn": True}),
    "withdraw_today": (
        lambda s, p, e: s.withdraw_today(p, e.item_no),
        "withdraw",
        {"withdrawn": True},
    ),
    "change_kind": (
        lambda s, p, e: s.change_kind(p, e.id, EntryKind.AFTER_HOURS),
        "kind",
        {"kind": "after_hours"},
    ),
    "edit_today": (
        lambda s, p, e: s.edit_today(p, e.item_no, " 与县财政局  核对预算 "),
        "edit",
        {"text": "与县财政局 核对预算", "collaborator": "县财政局"},
    ),
    "set_collaborator": (
        lambda s, p, e: s.set_collaborator(p, e.item_no, "张三"),
        "collaborator",
        {"collaborator": "张三"},
    ),
}


@pytest.mark.parametrize("name", CHANGES)
async def test_each_change_writes_one_history_row(env: Env, me: int, name: str) -> None:
    change, action, delta = CHANGES[name]
    recorded = await env.entries.record(
        me, "1.与县发改委对接项目用地问题\n2.走访慰问困难群众5户", tg(1)
    )
    target = recorded.entries[1]
    env.clock.advance(minutes=3)

    result = await change(env.entries, me, target)

    expected = snapshot(target) | delta
    assert result.changed and snapshot(result.entry) == expected
    assert [s.id for s in result.siblings] == [e.id for e in recorded.entries]
    row = await env.one(EntryHistory)
    assert (row.entry_id, row.action, row.changed_by, row.changed_at) == (
        target.id,
        action,
        me,
        env.clock.now(),
    )
    assert (json.loads(row.before), json.loads(row.after)) == (snapshot(target), expected)
    assert snapshot(await env.one(LogEntry, LogEntry.id == target.id)) == expected
    # The same change again changes nothing and writes no second row.
    assert not (await change(env.entries, me, target)).changed
    assert await env.count(EntryHistory) == 1


async def test_someone_elses_entries_cannot_be_changed(env: Env, me: int) -> None:
    other = await env.person("c002", telegram_user_id=9002)
    their_source = EntrySource.telegram(9002, 1, at(20))
    [theirs] = (await env.entries.record(other, "与县发改委对接项目用地问题", their_source)).entries
    attempts: list[tuple[Callable[[], Awaitable[object]], type[DomainError]]] = [
        (lambda: env.entries.withdraw(me, theirs.id), NotFound),
        (lambda: env.entries.change_kind(me, theirs.id, EntryKind.OTHER), NotFound),
        (lambda: env.entries.withdraw(me, theirs.id + 1000), NotFound),
        (lambda: env.entries.withdraw_today(me, theirs.item_no), NotFound),
        (lambda: env.entries.apply_edit(me, "改掉", their_source), NotAllowed),
    ]
    for attempt, error in attempts:
        with pytest.raises(error):
            await attempt()

    stored = await env.one(LogEntry)
    assert snapshot(stored) == snapshot(theirs)
    assert await env.count(EntryHistory) == 0


async def test_a_withdrawn_entry_cannot_be_changed_further(env: Env, me: int) -> None:
    [entry] = (await env.entries.record(me, "与县发改委对接项目用地问题", tg(1))).entries
    await env.entries.withdraw(me, entry.id)
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: env.entries.change_kind(me, entry.id, EntryKind.OTHER),
        lambda: env.entries.edit_today(me, 1, "改掉"),
        lambda: env.entries.set_collaborator(me, 1, "张三"),
    ]
    for attempt in attempts:
        with pytest.raises(NotAllowed) as refused:
            await attempt()
        assert refused.value.reply == zh.ENTRY_IS_WITHDRAWN.format(n=1)

    again = await env.entries.withdraw(me, entry.id)

    assert not again.changed and again.entry.withdrawn
    assert [action for _, action, *_ in await history(env)] == ["withdraw"]


# -- backfill, reflections, absences -----------------------------------------------------------


async def test_backfill_records_a_past_day_marked_late(env: Env, me: int) -> None:
    await env.entries.record(me, "值班", tg(1, day=19))

    result = await env.entries.backfill(me, "昨天", "1.与县发改委对接\n2.起草总结", tg(2))

    assert (result.work_date, result.late, result.replayed) == (date(2026, 11, 19), True, False)
    assert [(e.item_no, e.is_late) for e in result.entries] == [(2, True), (3, True)]
    stored = await stored_entries(env, LogEntry.source_key == f"{CHAT}:2")
    assert [(e.work_date, e.item_no, e.is_late) for e in stored] == [
        (date(2026, 11, 19), 2, True),
        (date(2026, 11, 19), 3, True),
    ]
    again = await env.entries.backfill(me, "昨天", "1.与县发改委对接\n2.起草总结", tg(2))
    assert again.replayed and again.entries == result.entries


async def test_backfill_accepts_the_window_and_refuses_other_days(env: Env, me: int) -> None:
    oldest = await env.entries.backfill(me, "11-17", "对接项目", tg(1))
    assert (oldest.work_date, oldest.late) == (date(2026, 11, 17), True)
    refusals = [
        ("11-16", NotAllowed, zh.BACKFILL_TOO_OLD.format(window=3, date="11月16日")),
        ("今天", UsageError, zh.BACKFILL_TODAY),
        ("11-25", NotAllowed, zh.FUTURE_DATE.format(date="11月25日")),
        ("下周", UsageError, zh.BAD_DATE.format(text="下周")),
    ]
    for message_id, (day, error, reply) in enumerate(refusals, 2):
        with pytest.raises(error) as refused:
            await env.entries.backfill(me, day, "对接项目", tg(message_id))
        assert refused.value.reply == reply
    assert await env.count(LogEntry) == 1


async def test_replacing_a_reflection_keeps_the_old_text_in_the_audit_log(
    env: Env, me: int
) -> None:
    assert await env.entries.reflect(me, "  做群众工作要多听少说 ") == (TODAY, False)
    assert await env.entries.reflect(me, "做群众工作要多听少说") == (TODAY, False)

    assert await env.entries.reflect(me, "调研要沉下去") == (TODAY, True)

    stored = await env.one(Reflection)
    assert (stored.person_id, stored.work_date, stored.text) == (me, TODAY, "调研要沉下去")
    [line] = await env.audit("reflection_replaced")
    assert (line.actor_person_id, line.subject_person_id, json.loads(line.detail)) == (
        me,
        me,
        {"work_date": "2026-11-20", "before": "做群众工作要多听少说", "after": "调研要沉下去"},
    )
    assert (await env.entries.day(me)).reflection == "调研要沉下去"


async def test_the_same_absence_is_stored_once(env: Env, me: int) -> None:
    first = await env.entries.add_absence(me, "11-23", "11-25", "出差 学习")
    again = await env.entries.add_absence(me, "11-23", "11-25", "  出差   学习 ")

    assert first == again
    assert (first.start_date, first.end_date, first.reason) == (*nov(23, 25), "出差 学习")
    assert first.kind == "trip"
    assert await env.count(Absence) == 1
    await env.entries.add_absence(me, "11-23", "11-25", "培训")
    await env.entries.add_absence(me, "11-23", None, "出差 学习")
    spans = [(a.start_date, a.end_date, a.reason, a.kind) for a in await env.rows(Absence)]
    assert spans == [
        (*nov(23, 25), "出差 学习", "trip"),
        (*nov(23, 25), "培训", "training"),
        (*nov(23, 23), "出差 学习", "trip"),
    ]


async def test_period_completeness_counts_logged_excused_and_missing_days(
    env: Env, me: int
) -> None:
    for message_id, day in enumerate([2, 3, 4, 7, 9, 20], 1):  # the 7th is a Saturday
        await env.entries.record(me, "对接项目", tg(message_id, day=day))
    env.clock.set(at(5, 12))  # logged on the 5th, then withdrawn that day
    [withdrawn] = (await env.entries.record(me, "误发", tg(10, day=5))).entries
    await env.entries.withdraw(me, withdrawn.id)
    env.clock.set(at(20, 10))
    await env.entries.add_absence(me, "10-28", "11-02", "休假")  # the 2nd is logged anyway
    await env.entries.add_absence(me, "11-09", "11-13", "出差")  # the 9th is logged anyway
    await env.entries.add_absence(me, "11-16", None, "培训")

    month = await env.entries.period(me, "month")
    week = await env.entries.period(me, "week")

    assert month.completeness == Completeness(
        expected=10, logged=5, excused=5, missing=tuple(nov(5, 6, 17, 18, 19))
    )
    assert week.completeness == Completeness(
        expected=4, logged=1, excused=1, missing=tuple(nov(17, 18, 19))
    )
    assert sorted(month.by_day()) == nov(2, 3, 4, 5, 7, 9, 20)
    assert [e.withdrawn for e in month.by_day()[date(2026, 11, 5)]] == [True]
    assert [(a.start_date, a.reason, a.kind) for a in month.absences] == [
        (date(2026, 10, 28), "休假", "leave"),
        (date(2026, 11, 9), "出差", "trip"),
        (date(2026, 11, 16), "培训", "training"),
    ]


# -- transactions ------------------------------------------------------------------------------


async def test_a_failing_insert_leaves_nothing_of_the_message(env: Env, me: int) -> None:
    with env.fail_statement("INSERT INTO log_entries", nth=2), pytest.raises(InjectedFault):
        await env.entries.record(me, ORIGINAL, tg(1))

    assert await env.count(LogEntry) == 0
    # The unit of work was released: the message is stored whole when it comes again.
    again = await env.entries.record(me, ORIGINAL, tg(1))
    assert not again.replayed and [e.item_no for e in again.entries] == [1, 2, 3]


async def test_a_failing_history_insert_undoes_the_whole_edit(env: Env, me: int) -> None:
    recorded = await env.entries.record(me, ORIGINAL, tg(1))

    with env.fail_statement("INSERT INTO entry_history"), pytest.raises(InjectedFault):
        await env.entries.apply_edit(me, "1.与县财政局对接项目用地问题", tg(1))

    assert [snapshot(e) for e in await stored_entries(env)] == [
        snapshot(e) for e in recorded.entries
    ]
    assert await env.count(EntryHistory) == 0


async def test_a_use_case_marks_its_inbox_update_done_in_its_commit(env: Env, me: int) -> None:
    inbox_id = await env.inbox_row()

    with processing(inbox_id):
        await env.entries.record(me, "与县发改委对接项目用地问题", tg(1))

    row = await env.one(InboxUpdate)
    assert (row.status, row.processed_at is not None) == ("done", True)


async def test_the_inbox_update_and_the_work_commit_together(env: Env, me: int) -> None:
    inbox_id = await env.inbox_row()

    with (
        processing(inbox_id),
        env.fail_statement("UPDATE inbox_updates"),
        pytest.raises(InjectedFault),
    ):
        await env.entries.record(me, "与县发改委对接项目用地问题", tg(1))

    assert await env.count(LogEntry) == 0
    assert (await env.one(InboxUpdate)).status == "pending"


# -- set-based reads ---------------------------------------------------------------------------

WEEK = Period.week_of(TODAY)  # Mon 11-16 .. Sun 11-22; 11-16..11-19 are due, today once logged


def entry_rows(
    person_id: int, days: list[date], item_no: int = 1, **flags: bool
) -> list[dict[str, Any]]:
    """LogEntry rows for bulk seeding, one per day, numbered `item_no`."""
    now = at(20)
    return [
        {
            "person_id": person_id,
            "work_date": day,
            "item_no": item_no,
            "text": "对接项目",
            "kind": "regular",
            "is_late": flags.get("is_late", False),
            "is_overlong": flags.get("is_overlong", False),
            "withdrawn": flags.get("withdrawn", False),
            "channel": "cli",
            "created_at": now,
            "updated_at": now,
        }
        for day in days
    ]


def activity(
    expected: int, logged: int, excused: int, missing: list[date], counts: tuple[int, int, int]
) -> Activity:
    return Activity(Completeness(expected, logged, excused, tuple(missing)), EntryCounts(*counts))


async def test_activity_of_a_team_a_unit_and_everyone(env: Env) -> None:
    boss = await env.person("s001", "赵局长")
    r1, r2, r3 = [await env.person(f"r00{n}", supervisor_id=boss) for n in (1, 2, 3)]
    x, y = [await env.person(rid, unit=OTHER_UNIT) for rid in ("x001", "y001")]
    await env.insert_rows(
        LogEntry,
        entry_rows(r1, nov(16, 17, 18, 19, 20))
        + entry_rows(r1, nov(17), item_no=2, withdrawn=True)
        + entry_rows(r2, nov(16), is_late=True)
        + entry_rows(r2, nov(17), is_overlong=True)
        + entry_rows(r2, nov(18), withdrawn=True)
        + entry_rows(boss, nov(20))
        + entry_rows(x, nov(13)),  # last week: outside the period
    )
    await env.entries.add_absence(r2, "11-19", None, "出差")
    await env.entries.add_absence(y, "11-16", "11-20", "培训")
    expected = {
        r1: activity(5, 5, 0, [], (5, 0, 0)),
        r2: activity(3, 2, 1, nov(18), (2, 1, 1)),
        r3: activity(4, 0, 0, nov(16, 17, 18, 19), (0, 0, 0)),
        boss: activity(5, 1, 0, nov(16, 17, 18, 19), (1, 0, 0)),
        x: activity(4, 0, 0, nov(16, 17, 18, 19), (0, 0, 0)),
        y: activity(0, 0, 4, [], (0, 0, 0)),
    }
    scopes = [
        (PeopleScope(reports_of=boss), [r1, r2, r3]),
        (PeopleScope(unit_ids=(await env.unit(OTHER_UNIT),)), [x, y]),
        (PeopleScope(person_ids=(r2, x)), [r2, x]),
        (PeopleScope(), [boss, r1, r2, r3, x, y]),
    ]
    for scope, people in scopes:
        result = await env.entries.activity_of(scope, WEEK)
        assert result == {pid: expected[pid] for pid in people}, scope
    assert expected[y].completeness.rate is None


async def test_activity_of_takes_the_same_few_statements_for_5_or_2000_people(env: Env) -> None:
    unit_id = await env.unit()
    scope = PeopleScope(unit_ids=(unit_id,))

    async def seed(numbers: range) -> list[int]:
        await env.insert_rows(Person, [person_row(f"bulk{n:05d}", unit_id) for n in numbers])
        ids = [p.id for p in await env.rows(Person, Person.roster_id >= f"bulk{numbers[0]:05d}")]
        await env.insert_rows(LogEntry, [row for pid in ids for row in entry_rows(pid, nov(19))])
        absences = [
            {
                "person_id": pid,
                "start_date": date(2026, 11, 16),
                "end_date": date(2026, 11, 18),
                "reason": "出差",
                "created_at": at(20),
                "withdrawn": False,
            }
            for pid in ids[::2]
        ]
        await env.insert_rows(Absence, absences)
        return ids

    await seed(range(5))
    with env.statements() as few:
        small = await env.entries.activity_of(scope, WEEK)
    ids = await seed(range(5, 2000))
    with env.statements() as many:
        large = await env.entries.activity_of(scope, WEEK)

    assert (len(small), len(large)) == (5, 2000)
    assert len(few) == len(many) <= 4, many
    away, present = ids[0], ids[1]  # every other person seeded was away 11-16..11-18
    assert large[away] == activity(1, 1, 3, [], (1, 0, 0))
    assert large[present] == activity(4, 1, 0, nov(16, 17, 18), (1, 0, 0))
