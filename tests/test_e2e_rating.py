"""End-to-end: a rater fills the 好 quota from the phone, the next 好 is refused with the quota
shown, /quota and /grades, and bad input; the real Application against the fake Bot API, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import io

import openpyxl

from services import zh
from services.roster import RosterRow
from storage.models import AuditLog, Rating
from tests.fakebot import FakeUser
from tests.harness import BotHarness

RATER = FakeUser(3001, "评")
CADRE = FakeUser(3002, "三")

# 县发改委 has six people (40 % → 2 好); 孙评 rates 县委 and the units below it.
OFFICE = [
    # roster id, name, unit, position, supervisor, role, parent unit
    ("R001", "孙评", "县委", "书记", "", "评定", ""),
    ("A001", "张三", "县发改委", "科员", "", "", "县委"),
    ("A002", "李四", "县发改委", "科员", "", "", "县委"),
    ("A003", "王五", "县发改委", "科员", "", "", "县委"),
    ("A004", "赵六", "县发改委", "科员", "", "", "县委"),
    ("A005", "钱七", "县发改委", "科员", "", "", "县委"),
    ("A006", "孙八", "县发改委", "科员", "", "", "县委"),
    ("B001", "周九", "县财政局", "科员", "", "", ""),
]


async def open_office(bot: BotHarness) -> None:
    report = await bot.services.roster.import_rows(
        [RosterRow(n, *row) for n, row in enumerate(OFFICE, start=2)]
    )
    assert report.refused == [], report.render()
    for roster_id, user, name, unit in [
        ("R001", RATER, "孙评", "县委"),
        ("A001", CADRE, "张三", "县发改委"),
    ]:
        token = await bot.invite(roster_id)
        assert await bot.say(user, f"/start {token}") == [zh.BOUND.format(name=name, unit=unit)]


def quota(used: int) -> str:
    return f"县发改委：参评6人，上限40%\n  最多2人 已用{used} 剩余{2 - used}"


async def test_a_rater_fills_the_quota_and_the_next_good_is_refused(bot: BotHarness) -> None:
    await open_office(bot)
    assert await bot.say(RATER, "/rate 张三 好") == [
        "已评定 张三（县发改委）2026Q4：好\n" + quota(1)
    ]
    assert await bot.say(RATER, "/rate 李四 好") == [
        "已评定 李四（县发改委）2026Q4：好\n" + quota(2)
    ]
    assert await bot.say(RATER, "/rate 王五 好") == [
        "不能评为「好」：王五 所在单位 2026Q4 的「好」等次名额已用完。\n"
        + quota(2)
        + "\n可先调整其他人的等次，或评为较好。"
    ]
    assert await bot.say(RATER, "/rate 王五 较好") == [
        "已评定 王五（县发改委）2026Q4：较好\n" + quota(2)
    ]
    # A change frees the place, and is kept on record.
    assert await bot.say(RATER, "/rate A002 一般") == [
        "已将 李四（县发改委）2026Q4 的等次由「好」改为「一般」（已留档）。\n" + quota(1)
    ]
    assert await bot.say(RATER, "/quota") == [
        "2026Q4「好」等次名额：\n"
        "县发改委：参评6人，上限40%\n  最多2人 已用1 剩余1\n"
        "县委：参评1人，上限40%\n  最多0人 已用0 剩余0"
    ]
    ratings = {(r.person_id, r.grade) for r in await bot.rows(Rating)}
    ids = {rid: (await bot.person(rid)).id for rid in ("A001", "A002", "A003")}
    assert ratings == {(ids["A001"], "good"), (ids["A002"], "average"), (ids["A003"], "fair")}
    [changed] = await bot.rows(AuditLog, AuditLog.action == "rating_changed")
    assert changed.subject_person_id == ids["A002"]


async def test_bad_rate_commands_get_a_clear_reply_and_store_nothing(bot: BotHarness) -> None:
    await open_office(bot)
    cases = [
        ("/rate", zh.RATE_USAGE),
        ("/rate 张三", zh.RATE_USAGE),
        ("/rate 张三 优秀", zh.RATE_BAD_GRADE.format(word="优秀")),
        ("/rate 张三 好 2027Q1", zh.FUTURE_PERIOD.format(label="2027Q1")),
        ("/rate 张三 好 2026-13", zh.BAD_PERIOD.format(text="2026-13")),
        ("/rate 张三 好 11月", zh.RATE_QUARTER_ONLY.format(text="11月")),
        ("/rate 孙评 好", zh.RATE_SELF),
        ("/rate 周九 好", zh.NOT_IN_REACH.format(name="周九")),
        ("/rate 张三 好 2026Q4 多余", zh.RATE_USAGE),
    ]
    for text, reply in cases:
        assert await bot.say(RATER, text) == [reply], text
    assert await bot.say(CADRE, "/rate 李四 好") == [zh.RATE_NOT_RATER]
    assert await bot.say(CADRE, "/quota") == [zh.RATE_NOT_RATER]
    assert await bot.say(CADRE, "/grades") == [zh.GRADES_NOT_RATER]
    assert await bot.count(Rating) == 0


async def test_grades_sends_the_units_table(bot: BotHarness) -> None:
    await open_office(bot)
    await bot.say(RATER, "/rate 张三 好")
    mark = bot.api.mark()
    bot.api.send_text(RATER, "/grades 2026Q4")
    [reply] = await bot.api.wait_for_reply(RATER.id, since=mark)
    assert reply["caption"] == "2026Q4 考核表：7人（截至今天）。"
    assert reply["document"]["file_name"] == "考核表_2026Q4.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(bot.api.document_bytes(reply)))
    rows = list(book[zh.GRADES_SHEET].values)
    assert rows[0] == zh.GRADES_HEADER
    by_id = {row[1]: row for row in rows[1:]}
    # Every person of the rater's units, rated or not; 周九 of 县财政局 is not among them.
    assert set(by_id) == {"R001", "A001", "A002", "A003", "A004", "A005", "A006"}
    assert by_id["A001"][16] == "好" and by_id["A002"][16] is None
    assert by_id["A002"][19].startswith(zh.GRADE_REASONS["not_rated"])
    assert await bot.say(RATER, "/grades 11月") == [zh.GRADES_PERIOD_KIND.format(text="11月")]
