"""End-to-end: the daily reminder, its buttons (今天请假 / 今天出差 / 稍后提醒) and /settings.

The real Application, durable intake and outbox sender run against the fake Bot API, on
SQLite and PostgreSQL. The scheduled jobs are called as the runner calls them, at moments
set on the test clock (Friday 2026-11-20, an ordinary working day); what each cadre receives
is read from the fake Bot API, what was stored from the database.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time
from typing import Any

import openpyxl
from sqlalchemy import select, update

from services import zh
from storage.models import Absence, OutboxMessage, Person, Unit
from tests.fakebot import FakeUser
from tests.harness import BotHarness, buttons, press
from tests.services_fixtures import SHANGHAI

FRI = date(2026, 11, 20)
WANG = FakeUser(3001, "五")
ZHAO = FakeUser(3002, "一")
QIAN = FakeUser(3003, "二")
REMINDER = "11月20日（周五）还没有记工作日志。\n直接发消息即可记录，一行一件事。"
LATER = "提醒：11月20日 的工作日志还没有记录。\n如今天请假或出差，请点下方按钮。"
REMINDER_BUTTONS = [
    [("今天请假", "rm:x:leave:2026-11-20"), ("今天出差", "rm:x:trip:2026-11-20")],
    [("稍后提醒", "rm:l:2026-11-20")],
]


def friday(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, tzinfo=SHANGHAI)


def received(bot: BotHarness, user: FakeUser, since: int) -> list[str]:
    """Texts the bot sent `user` since the mark."""
    return [
        c.text or ""
        for c in bot.api.calls("sendMessage", since=since)
        if c.ok and c.result["chat"]["id"] == user.id
    ]


async def remind(bot: BotHarness, at: datetime, *users: FakeUser) -> list[dict[str, Any]]:
    """Run the daily reminder at `at`; the reminder each of `users` receives."""
    bot.clock.set(at)
    mark = bot.api.mark()
    outcome = await bot.services.reminders.daily_reminder()
    assert outcome.messages == len(users), outcome
    messages = [(await bot.api.wait_for_reply(u.id, since=mark))[0] for u in users]
    await bot.settle()
    return messages


async def wake_sender(bot: BotHarness) -> None:
    """The clock moved: let the sender look for what came due (as its idle poll would)."""
    bot.wiring.outbox_wake.set()
    await bot.settle()


async def outbox(bot: BotHarness, kind: str) -> dict[int, OutboxMessage]:
    return {r.person_id: r for r in await bot.rows(OutboxMessage, OutboxMessage.kind == kind)}


async def test_reminder_buttons_excuse_the_day_as_leave_or_trip(bot: BotHarness) -> None:
    await bot.enrol(WANG, "C001", "王五")
    await bot.enrol(ZHAO, "C002", "赵一")
    await bot.enrol(QIAN, "C003", "钱二")
    [reply] = await bot.say(QIAN, "起草会议纪要")  # logged today: no reminder
    assert reply.startswith("已记录 11月20日"), reply

    mark = bot.api.mark()
    wang_msg, zhao_msg = await remind(bot, friday(17, 30), WANG, ZHAO)
    assert received(bot, QIAN, mark) == []
    for message in (wang_msg, zhao_msg):
        assert message["text"] == REMINDER
        assert buttons(message) == REMINDER_BUTTONS

    answer = await press(bot, WANG, wang_msg["message_id"], "rm:x:leave:2026-11-20")
    note = zh.EXCUSED_BY_BUTTON.format(date="11月20日", what="请假")
    assert answer["text"] == note == "已登记11月20日请假，这天不计入未记录天数。"
    shown = bot.api.message(WANG.id, wang_msg["message_id"])
    assert shown is not None
    assert shown["text"] == f"{REMINDER}\n\n{note}"
    assert buttons(shown) == []  # the buttons have done their job

    # 赵一 taps 今天出差 twice in a row (both taps carry the message as it was): one absence,
    # the note shown once.
    mark = bot.api.mark()
    for _ in range(2):
        bot.api.press_button(ZHAO, zhao_msg["message_id"], "rm:x:trip:2026-11-20")
    await bot.settle()
    note = zh.EXCUSED_BY_BUTTON.format(date="11月20日", what="出差")
    answers = bot.api.calls("answerCallbackQuery", since=mark)
    assert [a.params["text"] for a in answers] == [note, note]
    shown = bot.api.message(ZHAO.id, zhao_msg["message_id"])
    assert shown is not None and shown["text"] == f"{REMINDER}\n\n{note}"

    wang, zhao = await bot.person("C001"), await bot.person("C002")
    absences = {a.person_id: a for a in await bot.rows(Absence)}
    assert sorted(absences) == sorted([wang.id, zhao.id])
    leave, trip = absences[wang.id], absences[zhao.id]
    assert (leave.kind, leave.start_date, leave.end_date) == ("leave", FRI, FRI)
    assert (leave.reason, leave.withdrawn) == (zh.EXCUSE_REASON["leave"], False)
    assert (trip.kind, trip.start_date, trip.end_date) == ("trip", FRI, FRI)
    assert trip.reason == zh.EXCUSE_REASON["trip"]
    assert {r.status for r in (await outbox(bot, "daily")).values()} == {"sent"}

    # Excused: no second nudge tonight.
    bot.clock.set(friday(20, 30))
    assert (await bot.services.reminders.daily_nudge()).messages == 0
    assert [r.key for r in await bot.rows(OutboxMessage, OutboxMessage.kind != "reply")] == [
        f"daily:2026-11-20:{wang.id}",
        f"daily:2026-11-20:{zhao.id}",
    ]


async def test_later_reminder_arrives_unless_the_cadre_logged_meanwhile(bot: BotHarness) -> None:
    await bot.enrol(WANG, "C001", "王五")
    await bot.enrol(ZHAO, "C002", "赵一")
    wang_msg, zhao_msg = await remind(bot, friday(17, 30), WANG, ZHAO)
    snoozed = zh.SNOOZED.format(minutes=60)
    for user, message in [(WANG, wang_msg), (ZHAO, zhao_msg)]:
        answer = await press(bot, user, message["message_id"], "rm:l:2026-11-20")
        assert answer["text"] == snoozed == "好的，60分钟后再提醒您。"
        shown = bot.api.message(user.id, message["message_id"])
        assert shown is not None and shown["text"] == f"{REMINDER}\n\n{snoozed}"
        assert buttons(shown) == []
    later = await outbox(bot, "daily-later")
    wang, zhao = await bot.person("C001"), await bot.person("C002")
    assert sorted(later) == sorted([wang.id, zhao.id])
    assert {(r.not_before, r.reminds_of, r.status) for r in later.values()} == {
        (friday(18, 30), FRI, "pending")
    }

    # 赵一 logs meanwhile; nothing arrives before the hour is up.
    bot.clock.set(friday(17, 50))
    [reply] = await bot.say(ZHAO, "接待来访群众3人次")
    assert reply.startswith("已记录 11月20日"), reply
    mark = bot.api.mark()
    bot.clock.set(friday(18, 29))
    await wake_sender(bot)
    assert received(bot, WANG, mark) == [] and received(bot, ZHAO, mark) == []

    # An hour after the tap: 王五 is reminded again, 赵一 (logged) is not.
    bot.clock.set(friday(18, 31))
    bot.wiring.outbox_wake.set()
    [again] = await bot.api.wait_for_reply(WANG.id, since=mark)
    await bot.settle()
    assert again["text"] == LATER
    assert buttons(again) == REMINDER_BUTTONS
    assert received(bot, ZHAO, mark) == []
    later = await outbox(bot, "daily-later")
    assert (later[wang.id].status, later[zhao.id].status) == ("sent", "skipped")

    # 稍后提醒 once the day is logged: refused, nothing queued.
    answer = await press(bot, ZHAO, zhao_msg["message_id"], "rm:l:2026-11-20", edits=False)
    assert answer["text"] == zh.ALREADY_LOGGED.format(date="11月20日")
    assert len(await outbox(bot, "daily-later")) == 2


async def test_forged_reminder_and_settings_buttons_are_stale(bot: BotHarness) -> None:
    await bot.enrol(WANG, "C001", "王五")
    [message] = await remind(bot, friday(17, 30), WANG)
    for data in [
        "rm:",
        "rm:x:holiday:2026-11-20",
        "rm:x:leave",
        "rm:x:leave:2026-02-30",
        "rm:l:20261120",
        "rm:l:2026-11-20:1",
        "rm:y:2026-11-20",
        "st:",
        "st:x",
        "st:t:123",
        "st:t:9999",
        "st:t:1790",
        "st:n:2",
        "st:d:1",
    ]:
        answer = await press(bot, WANG, message["message_id"], data, edits=False)
        assert answer["text"] == zh.STALE_BUTTON, data
    # A past day's 稍后提醒 is refused as such.
    answer = await press(bot, WANG, message["message_id"], "rm:l:2026-11-19", edits=False)
    assert answer["text"] == zh.REMINDER_DAY_PASSED

    wang = await bot.person("C001")
    assert (wang.remind_at, wang.second_nudge_muted) == (None, False)
    assert await bot.rows(Absence) == []
    assert list(await outbox(bot, "daily-later")) == []


async def test_settings_buttons_and_typed_time(bot: BotHarness) -> None:
    await bot.enrol(WANG, "C001", "王五")
    await bot.enrol(ZHAO, "C002", "赵一")

    def settings_text(at: str, own: bool, nudge: str) -> str:
        return zh.SETTINGS_TEXT.format(
            time=at,
            own=zh.SETTINGS_OWN if own else zh.SETTINGS_DEFAULT,
            nudge_at="20:30",
            nudge=nudge,
        )

    times = [(f"{h}:00", f"st:t:{h}00") for h in range(16, 22)]
    mark = bot.api.mark()
    bot.api.send_text(WANG, "/settings")
    [shown] = await bot.api.wait_for_reply(WANG.id, since=mark)
    assert shown["text"] == settings_text("17:30", False, zh.SETTINGS_NUDGE_ON)
    assert buttons(shown) == [
        times[:4],
        times[4:],
        [("恢复默认", "st:d"), ("关闭第二次提醒", "st:n:0")],
    ]

    answer = await press(bot, WANG, shown["message_id"], "st:t:1800")
    assert answer["text"] == zh.SETTINGS_SAVED
    edited = bot.api.message(WANG.id, shown["message_id"])
    assert edited is not None
    assert edited["text"] == settings_text("18:00", True, zh.SETTINGS_NUDGE_ON)
    assert buttons(edited)[:2] == [times[:4], times[4:]]
    answer = await press(bot, WANG, shown["message_id"], "st:n:0")
    edited = bot.api.message(WANG.id, shown["message_id"])
    assert edited is not None
    assert edited["text"] == settings_text("18:00", True, zh.SETTINGS_NUDGE_OFF)
    assert buttons(edited)[2] == [("恢复默认", "st:d"), ("开启第二次提醒", "st:n:1")]
    wang = await bot.person("C001")
    assert (wang.remind_at, wang.second_nudge_muted) == (time(18, 0), True)

    # The chosen time is when the reminder comes: not at 17:30, at 18:00.
    mark = bot.api.mark()
    await remind(bot, friday(17, 30), ZHAO)
    assert received(bot, WANG, mark) == []
    [reminder] = await remind(bot, friday(18), WANG)
    assert reminder["text"] == REMINDER

    await press(bot, WANG, shown["message_id"], "st:d")
    edited = bot.api.message(WANG.id, shown["message_id"])
    assert edited is not None
    assert edited["text"] == settings_text("17:30", False, zh.SETTINGS_NUDGE_OFF)

    [reply] = await bot.say(WANG, "/settings 18点30")
    assert reply == settings_text("18:30", True, zh.SETTINGS_NUDGE_OFF)
    [reply] = await bot.say(WANG, "/settings 25:00")
    assert reply == zh.SETTINGS_BAD_TIME.format(start="16:00", end="21:00")
    [reply] = await bot.say(WANG, "/settings 下班后")
    assert reply == zh.SETTINGS_BAD_TIME.format(start="16:00", end="21:00")
    wang = await bot.person("C001")
    assert (wang.remind_at, wang.second_nudge_muted) == (time(18, 30), True)
    zhao = await bot.person("C002")
    assert (zhao.remind_at, zhao.second_nudge_muted) == (None, False)
    assert await bot.count(Person) == 2


async def test_half_year_publication_reaches_each_units_admins_as_an_xlsx(bot: Any) -> None:
    """半年公示: the admin of a parent unit gets every cadre of the unit tree; the admin of a
    child unit only theirs; the file arrives through the outbox as a document."""
    city_admin, town_admin = FakeUser(id=9101, first_name="许"), FakeUser(id=9102, first_name="冯")
    await bot.enrol(city_admin, "Z001", "许主任", unit="县委组织部", roles="cadre,admin")
    await bot.enrol(town_admin, "Z002", "冯书记", unit="城关镇", roles="cadre,admin")
    await bot.add_person("Z003", "赵一", unit="城关镇")
    async with bot.db() as db:
        units = dict((await db.execute(select(Unit.name, Unit.id))).all())
        await db.execute(
            update(Unit).where(Unit.name == "城关镇").values(parent_id=units["县委组织部"])
        )
        await db.commit()
    # Wednesday 2026-07-01 is the first working day after the first half year.
    bot.clock.set(datetime(2026, 7, 1, 9, 0, tzinfo=SHANGHAI))
    mark = bot.api.mark()
    outcome = await bot.services.reminders.half_year()
    assert (outcome.run_key, outcome.messages) == ("2026H1", 2)
    assert (await bot.services.reminders.half_year()).messages == 2  # planned once: same keys
    await bot.settle()
    sent = [c for c in bot.api.calls("sendDocument", since=mark) if c.ok]
    assert sorted(int(c.params["chat_id"]) for c in sent) == [9101, 9102]

    def people_in(chat_id: int) -> tuple[str, list[str]]:
        message = bot.api.last_message_to(chat_id)
        book = openpyxl.load_workbook(io.BytesIO(bot.api.document_bytes(message)))
        rows = list(book["干部明细"].iter_rows(values_only=True))
        assert rows[0] == zh.HALF_YEAR_DETAIL_HEADER
        return message["caption"], sorted(str(r[2]) for r in rows[1:])

    caption, names = people_in(9101)
    assert names == ["冯书记", "许主任", "赵一"]
    assert caption == zh.HALF_YEAR_CAPTION.format(label="2026年上半年", units=2, people=3)
    assert people_in(9102)[1] == ["冯书记", "赵一"]

    bot.clock.set(datetime(2026, 7, 2, 9, 0, tzinfo=SHANGHAI))  # not the day: nothing
    assert (await bot.services.reminders.half_year()).messages == 0
