"""End-to-end: supervisors, raters and admins reading others' logs (下管一级), as on a phone.

The real Application and durable intake run against the fake Bot API, on SQLite and on
PostgreSQL. Who may reach whom is checked command by command against one office; every
refusal is checked for its words, for what it stored (nothing but an audit line) and for what
it revealed (nothing: an out-of-reach name reads exactly like a name nobody has).
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import openpyxl
import pytest

from services import zh
from services.policy import ReviewRules
from services.roster import RosterRow
from storage.models import (
    AuditLog,
    Comment,
    Evaluation,
    OutboxMessage,
    Person,
    SpotCheck,
    SpotCheckItem,
)
from tests.fakebot import FakeBotApi, FakeUser
from tests.harness import BotHarness, buttons, press, send

BOSS = FakeUser(2000, "局长")
SUP = FakeUser(2001, "科长")
TARGET = FakeUser(2002, "三")
SIB = FakeUser(2003, "李")
SIB_REPORT = FakeUser(2004, "五")
CADRE = FakeUser(2005, "六")
RATER = FakeUser(2006, "评")
ADMIN = FakeUser(2007, "管")
STRANGER = FakeUser(6666, "陌生人")

# The office: 王科 supervises 张三 (the target) and 陈六; 周局 supervises 王科 and his sibling
# 李科, who has 刘五; 孙评 rates 县委 and the units below it; 钱管 of 组织部 is the admin.
OFFICE = [
    # roster id, name, unit, position, supervisor, role, parent unit, account
    ("A000", "周局", "县发改委", "局长", "", "", "县委", BOSS),
    ("A001", "王科", "县发改委", "科长", "A000", "", "县委", SUP),
    ("A002", "张三", "县发改委", "科员", "A001", "", "县委", TARGET),
    ("A003", "李科", "县发改委", "科长", "A000", "", "县委", SIB),
    ("A004", "刘五", "县发改委", "科员", "A003", "", "县委", SIB_REPORT),
    ("A005", "陈六", "县发改委", "科员", "A001", "", "县委", CADRE),
    ("R001", "孙评", "县委", "书记", "", "评定", "", RATER),
    ("M001", "钱管", "组织部", "干事", "", "管理员", "", ADMIN),
]
TARGET_LOG = "1.到城关镇调研乡村振兴项目推进情况\n2.起草月度工作总结"
CADRE_LOG = "接待来访群众3人次，登记信访事项2件"
SIB_REPORT_LOG = "参加全县安全生产工作会议并作表态发言"
NOBODY = "王不在"
# Working days of November 2026 up to Friday the 20th that 张三 did not log.
MISSING = "、".join(f"11-{d:02d}" for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19))


async def import_office(bot: BotHarness, rows: list[tuple] = OFFICE) -> None:
    """Import the roster (with the 上级单位 column) and bind each account through /start."""
    report = await bot.services.roster.import_rows(
        [RosterRow(n, *row[:7]) for n, row in enumerate(rows, start=2)]
    )
    assert report.refused == [], report.render()
    await bot.wiring.load_names()
    for roster_id, name, unit, *_, user in rows:
        if user is None:
            continue
        token = await bot.invite(roster_id)
        assert await bot.say(user, f"/start {token}") == [zh.BOUND.format(name=name, unit=unit)]


async def open_office(bot: BotHarness) -> None:
    """The office with this morning's entries of 张三, 陈六 and 刘五."""
    await import_office(bot)
    for user, text in [(TARGET, TARGET_LOG), (CADRE, CADRE_LOG), (SIB_REPORT, SIB_REPORT_LOG)]:
        [reply] = await bot.say(user, text)
        assert reply.startswith("已记录 11月20日"), reply


async def pid(bot: BotHarness, roster_id: str) -> int:
    return (await bot.person(roster_id)).id


Audit = tuple[str, int | None, int | None, int | None, str | None, dict]


async def audit_since(bot: BotHarness, after: int) -> list[Audit]:
    """(action, actor, actor account, subject, command, detail) of the lines after id `after`."""
    rows = await bot.rows(AuditLog, AuditLog.id > after)
    return [
        (
            r.action,
            r.actor_person_id,
            r.actor_telegram_id,
            r.subject_person_id,
            r.command,
            json.loads(r.detail),
        )
        for r in rows
    ]


async def last_audit_id(bot: BotHarness) -> int:
    rows = await bot.rows(AuditLog)
    return rows[-1].id if rows else 0


def review_text(
    name: str, roster_id: str, lines: list[str], logged: int = 1, rate: str = "7%"
) -> str:
    """This month's review on one page of someone who logged today or not at all."""
    expected = 15 if logged else 14
    count = sum(1 for line in lines if line[:1].isdigit())
    return "\n".join(
        [
            f"{name}（{roster_id}·县发改委）2026年11月 工作日志 {count}条",
            f"应记{expected}天 已记{logged}天 请假0天",
            f"完成率 {rate}",
            f"未记：{MISSING}",
            *lines,
        ]
    )


TARGET_REVIEW = review_text(
    "张三",
    "A002",
    [
        "— 11-20 周五",
        "1. 到城关镇调研乡村振兴项目推进情况（合作者：城关镇）",
        "2. 起草月度工作总结",
    ],
)


# -- 1. who may do what ---------------------------------------------------------------------

# Commands against 张三 (the supervisor's report); {who} is the name asked for.
COMMANDS = {
    "team": "/team",
    "check": "/check",
    "check_name": "/check {who}",
    "review": "/review {who}",
    "comment": "/comment {who} + 招商项目跟进及时",
    "comments": "/comments {who}",
    "evaluate": "/evaluate {who} 本季度招商任务完成突出",
}
# The audit command of each.
AUDITED_AS = {name: "check" if name == "check_name" else name for name in COMMANDS}
# Outcome per command, in the order of COMMANDS: + done, R no reports (NO_REPORTS), N nobody
# to reach with this command (NO_REACH), X 张三 is out of reach (NOT_IN_REACH), - nothing to
# check yet, S stranger (NOT_REGISTERED).
MATRIX = [
    ("sup", SUP, "A001", "+ + + + + + +"),
    ("rater", RATER, "R001", "R R N + + + N"),
    ("admin", ADMIN, "M001", "R R N + N + N"),
    ("boss", BOSS, "A000", "+ - X X X X X"),
    ("sibling", SIB, "A003", "+ + X X X X X"),
    ("cadre", CADRE, "A005", "R R N N N N N"),
    ("stranger", STRANGER, None, "S S S S S S S"),
]


def team_text(total: int, today: int, lines: list[str]) -> str:
    return "\n".join(
        [
            f"2026年11月 下属完成情况（{total}人）",
            f"截至今天，今日已记{today}人",
            *lines,
            zh.TEAM_FOOT,
        ]
    )


def check_text(whom: str, lines: list[str]) -> str:
    head = f"抽查 2026年11月{whom}：{len(lines)}条（从{len(lines)}条中按完成率和内容抽取）"
    return "\n".join([head, *lines, zh.CHECK_FOOT])


def comments_text(authors: list[str]) -> str:
    positive = [f"2026-11-20 {a}：招商项目跟进及时" for a in authors] or [zh.COMMENTS_NONE]
    return "\n".join(
        [
            "张三 2026年 点评",
            f"【正面清单】{len(authors)}条",
            *positive,
            "【负面清单】0条",
            zh.COMMENTS_NONE,
        ]
    )


async def test_who_may_reach_whom(bot):
    """Each person against each command on 张三: replies, stored rows, audit, no disclosure."""
    await open_office(bot)
    ids = {row[0]: await pid(bot, row[0]) for row in OFFICE}
    target = ids["A002"]
    start_outbox = len(await bot.rows(OutboxMessage))
    to_target = len(bot.api.messages_to(TARGET.id))
    commenters: list[str] = []
    refusals: dict[tuple[str, str], str] = {}

    def done(actor: str, command: str) -> tuple[str, list[int]]:
        """The reply of an allowed command and whose log it showed."""
        if command == "team":
            return {
                "sup": (
                    team_text(
                        2,
                        2,
                        [
                            "1. 张三 1/15天 7% ✅今日已记",
                            "2. 陈六 1/15天 7% ✅今日已记",
                        ],
                    ),
                    [target, ids["A005"]],
                ),
                "boss": (
                    team_text(
                        2,
                        0,
                        ["1. 王科 0/14天 0% ⚠️今日未记", "2. 李科 0/14天 0% ⚠️今日未记"],
                    ),
                    [ids["A001"], ids["A003"]],
                ),
                "sibling": (
                    team_text(1, 1, ["1. 刘五 1/15天 7% ✅今日已记"]),
                    [ids["A004"]],
                ),
            }[actor]
        if command == "check":
            return {
                "sup": (
                    check_text(
                        "",
                        [
                            "1. 张三 11月20日第1条：到城关镇调研乡村振兴项目推进情况（完成率低）",
                            "2. 张三 11月20日第2条：起草月度工作总结（完成率低）",
                            "3. 陈六 11月20日第1条：接待来访群众3人次，登记信访事项2件（完成率低）",
                        ],
                    ),
                    [target, ids["A005"]],
                ),
                "sibling": (
                    check_text(
                        "",
                        ["1. 刘五 11月20日第1条：参加全县安全生产工作会议并作表态发言（完成率低）"],
                    ),
                    [ids["A004"]],
                ),
            }[actor]
        if command == "check_name":
            return (
                check_text(
                    "·张三",
                    [
                        "1. 张三 11月20日第1条：到城关镇调研乡村振兴项目推进情况（完成率低）",
                        "2. 张三 11月20日第2条：起草月度工作总结（完成率低）",
                    ],
                ),
                [target],
            )
        if command == "review":
            return TARGET_REVIEW, [target]
        if command == "comment":
            commenters.append({"sup": "王科", "rater": "孙评"}[actor])
            return "已给张三记正面点评，并已告知本人：招商项目跟进及时", []
        if command == "comments":
            return comments_text(commenters), [target]
        assert command == "evaluate"
        return "已保存对张三 2026Q4 的领导评鉴。", []

    def read_detail(command: str) -> dict:
        return {
            "team": {"period": "2026-11", "page": 1},
            "review": {"period": "2026-11", "page": 1},
            "comments": {"period": "2026"},
        }.get(command, {})

    for actor, user, roster_id, outcomes in MATRIX:
        me = ids.get(roster_id or "")
        for (command, template), outcome in zip(COMMANDS.items(), outcomes.split(), strict=True):
            named = "{who}" in template
            for who in ("张三", NOBODY) if named and outcome != "S" else ("张三",):
                text = template.format(who=who)
                before = await last_audit_id(bot)
                [reply] = await bot.say(user, text)
                lines = await audit_since(bot, before)
                audited = AUDITED_AS[command]
                where = (actor, text)
                if outcome == "S":
                    assert reply == zh.NOT_REGISTERED, where
                    assert lines == [
                        (
                            "refused_unregistered",
                            None,
                            STRANGER.id,
                            None,
                            None,
                            {"action": "message"},
                        )
                    ], where
                    continue
                if who == NOBODY:
                    # A name nobody has: refused in the same words as 张三 out of reach.
                    if outcome == "N":
                        assert reply == zh.NO_REACH[audited], where
                    else:
                        assert reply == zh.NOT_IN_REACH.format(name=NOBODY), where
                    if outcome in "NX":
                        assert reply.replace(NOBODY, "张三") == refusals[actor, command], where
                    assert lines == [
                        ("read_refused", me, None, None, audited, {"query": NOBODY})
                    ], where
                    continue
                query = who if named else ""
                if outcome in "RNX":
                    if outcome == "R":
                        assert reply == zh.NO_REPORTS, where
                    elif outcome == "N":
                        assert reply == zh.NO_REACH[audited], where
                    else:
                        assert reply == zh.NOT_IN_REACH.format(name="张三"), where
                    refusals[actor, command] = reply
                    subject = target if named else None
                    assert lines == [
                        ("read_refused", me, None, subject, audited, {"query": query})
                    ], where
                elif outcome == "-":
                    assert reply == "2026年11月下属还没有可抽查的日志。", where
                    assert lines == [], where
                else:
                    expected, shown = done(actor, command)
                    assert reply == expected, where
                    if command in ("check", "check_name"):
                        [check] = (await bot.rows(SpotCheck))[-1:]
                        detail = {"check_id": check.id, "period": "2026-11"}
                    else:
                        detail = read_detail(command)
                    assert lines == [
                        ("read", me, None, subject, audited, detail) for subject in shown
                    ], where
    await bot.settle()

    # Stored: what the allowed commands stored, and nothing else.
    comments = [(c.author_id, c.subject_id, c.positive, c.text) for c in await bot.rows(Comment)]
    assert comments == [
        (ids["A001"], target, True, "招商项目跟进及时"),
        (ids["R001"], target, True, "招商项目跟进及时"),
    ]
    evaluations = [(e.subject_id, e.quarter, e.author_id) for e in await bot.rows(Evaluation)]
    assert evaluations == [(target, "2026Q4", ids["A001"])]
    checks = [(c.checker_id, c.subject_id) for c in await bot.rows(SpotCheck)]
    assert checks == [(ids["A001"], None), (ids["A001"], target), (ids["A003"], None)]
    sampled = {(i.check_id, i.person_id) for i in await bot.rows(SpotCheckItem)}
    sibling_check = (await bot.rows(SpotCheck))[-1].id
    assert {p for c, p in sampled if c == sibling_check} == {ids["A004"]}
    # 张三 heard of the two comments, and of nothing else.
    notices = [
        (m.kind, m.text, m.status)
        for m in (await bot.rows(OutboxMessage))[start_outbox:]
        if m.person_id == target or m.chat_id == TARGET.id
    ]
    assert notices == [
        ("comment", "上级王科对您的工作给予正面点评：招商项目跟进及时", "sent"),
        ("comment", "上级孙评对您的工作给予正面点评：招商项目跟进及时", "sent"),
    ]
    assert bot.api.messages_to(TARGET.id)[to_target:] == [n[1] for n in notices]
    # Refusals and reads only: no entry of anybody changed.
    assert len(await bot.entries()) == 4


# -- 2. pages and files ---------------------------------------------------------------------


@pytest.fixture
async def small_bot(api: FakeBotApi, clock: Any, db_url: str) -> AsyncIterator[BotHarness]:
    """The bot with short /review pages and an early XLSX file (the team page stays 20)."""
    harness = BotHarness(
        api, clock, db_url, review=ReviewRules(review_page_size=4, review_file_over=10)
    )
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


TEAM = [
    (f"A1{n:02d}", f"干部{n:02d}", FakeUser(3000 + n, "干部") if n > 23 else None)
    for n in range(1, 26)
]


ZHANG_LOG = [
    "/backfill 11-17 复核城关镇项目资金拨付",
    "/backfill 前天 参加全县项目推进会",
    "/backfill 昨天 走访开发区重点企业",
    "1.起草月度工作总结\n2.与县财政局核对预算\n3.接待来访群众3人次\n4.整理档案\n"
    "5.审核招商引资合同\n6.参加党组会议",
]
LI_LOG = [
    "1.起草月度工作总结\n2.与县财政局核对预算\n3.接待来访群众3人次\n4.整理档案\n"
    "5.审核招商引资合同\n6.参加党组会议\n7.走访困难群众\n8.学习文件",
    "/edit 1 起草11月工作总结",
    "/del 2",
    "/backfill 昨天 走访开发区重点企业",
    "审核城关镇人居环境整治项目资金拨付材料\n起草调研报告",
]


async def test_team_and_review_pages_and_the_xlsx_file(small_bot):
    """25 reports page at 20 with ▶ / ◀; a long review pages; a longer one comes as XLSX."""
    bot = small_bot
    names = {24: "张三", 25: "李四"}
    await import_office(
        bot,
        [("A001", "王科", "县发改委", "科长", "", "", None, SUP)]
        + [
            (roster_id, names.get(n, name), "县发改委", "科员", "A001", "", None, user)
            for n, (roster_id, name, user) in enumerate(TEAM, start=1)
        ],
    )
    zhang, li = TEAM[23][2], TEAM[24][2]
    assert zhang is not None and li is not None
    for user, log in [(zhang, ZHANG_LOG), (li, LI_LOG)]:
        for text in log:
            [reply] = await bot.say(user, text)
            assert reply.startswith(("已记录", "已补记", "已修改", "已撤回")), reply
    people = {p.roster_id: p.id for p in await bot.rows(Person)}
    sup, zhang_id, li_id = people["A001"], people["A124"], people["A125"]

    # /team: the first 20, laggards first, and ▶; the tap redraws the message as page 2.
    before = await last_audit_id(bot)
    reply = await send(bot, SUP, "/team")
    first_page = [f"{n}. 干部{n:02d} 0/14天 0% ⚠️今日未记" for n in range(1, 21)]
    assert reply["text"] == team_text(25, 2, [*first_page, "第1/2页"])
    assert buttons(reply) == [[("下一页 ▶", "tm:2026-11:1")]]
    answer = await press(bot, SUP, reply["message_id"], "tm:2026-11:1")
    assert answer.get("text") is None
    page = bot.api.message(SUP.id, reply["message_id"])
    second_page = [
        "21. 干部21 0/14天 0% ⚠️今日未记",
        "22. 干部22 0/14天 0% ⚠️今日未记",
        "23. 干部23 0/14天 0% ⚠️今日未记",
        "24. 李四 2/15天 13% ✅今日已记",
        "25. 张三 4/15天 27% ✅今日已记",
    ]
    assert page["text"] == team_text(25, 2, [*second_page, "第2/2页"])
    assert buttons(page) == [[("◀ 上一页", "tm:2026-11:0")]]
    reads = await audit_since(bot, before)
    assert reads == [
        ("read", sup, None, people[f"A1{n:02d}"], "team", {"period": "2026-11", "page": 1})
        for n in range(1, 21)
    ] + [
        ("read", sup, None, people[rid], "team", {"period": "2026-11", "page": 2})
        for rid in ("A121", "A122", "A123", "A125", "A124")
    ]

    # /review 张三: 9 entries, 4 a page; ▶ ▶ ◀ walk the pages in place.
    head = "\n".join(
        [
            "张三（A124·县发改委）2026年11月 工作日志 9条",
            "应记15天 已记4天 请假0天",
            "完成率 27%",
            "未记：11-02、11-03、11-04、11-05、11-06、11-09、11-10、11-11、11-12、11-13、11-16",
        ]
    )
    pages = [
        [
            "— 11-17 周二",
            "1. 【补记】复核城关镇项目资金拨付（合作者：城关镇）",
            "— 11-18 周三",
            "1. 【补记】参加全县项目推进会",
            "— 11-19 周四",
            "1. 【补记】走访开发区重点企业（合作者：开发区重点企业）",
            "— 11-20 周五",
            "1. 起草月度工作总结",
            "第1/3页",
        ],
        [
            "— 11-20 周五",
            "2. 与县财政局核对预算（合作者：县财政局）",
            "3. 接待来访群众3人次（合作者：来访群众）",
            "4. 整理档案",
            "5. 审核招商引资合同",
            "第2/3页",
        ],
        ["— 11-20 周五", "6. 参加党组会议", "第3/3页"],
    ]
    pager = f"rv:{zhang_id}:2026-11"
    before = await last_audit_id(bot)
    reply = await send(bot, SUP, "/review 张三")
    assert reply["text"] == "\n".join([head, *pages[0]])
    assert buttons(reply) == [[("下一页 ▶", f"{pager}:1")]]
    message_id = reply["message_id"]
    for data, n, shown in [
        (f"{pager}:1", 1, [("◀ 上一页", f"{pager}:0"), ("下一页 ▶", f"{pager}:2")]),
        (f"{pager}:2", 2, [("◀ 上一页", f"{pager}:1")]),
        (f"{pager}:1", 1, [("◀ 上一页", f"{pager}:0"), ("下一页 ▶", f"{pager}:2")]),
    ]:
        await press(bot, SUP, message_id, data)
        page = bot.api.message(SUP.id, message_id)
        assert page["text"] == "\n".join([head, *pages[n]]), data
        assert buttons(page) == [shown], data
    assert await audit_since(bot, before) == [
        ("read", sup, None, zhang_id, "review", {"period": "2026-11", "page": page})
        for page in (1, 2, 3, 2)
    ]

    # /review 李四: 11 entries, more than 10: a short note and the whole period as XLSX.
    before = await last_audit_id(bot)
    mark = bot.api.mark()
    bot.api.send_text(SUP, "/review 李四")
    sent = await bot.api.wait_for_reply(SUP.id, count=2, since=mark)
    [note] = [m for m in sent if "text" in m]
    [document] = [m for m in sent if "document" in m]
    assert note["text"] == "李四 2026年11月 共11条，条目较多，已整理成表格文件发送。"
    assert "reply_markup" not in note
    assert document["caption"] == "李四 2026年11月 工作日志（11条）"
    assert document["document"]["file_name"] == "A125_2026-11.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(bot.api.document_bytes(document)))
    assert book.sheetnames == ["工作日志"]
    cells = [
        tuple("" if v is None else v for v in row)
        for row in book["工作日志"].iter_rows(values_only=True)
    ]
    nov = lambda day: datetime(2026, 11, day)  # noqa: E731
    assert cells == [
        zh.REVIEW_SHEET_HEADER,
        (nov(19), 1, "走访开发区重点企业", "日常工作", "开发区重点企业", "是", "", "", ""),
        (nov(20), 1, "起草11月工作总结", "日常工作", "", "", "是", "", ""),
        (nov(20), 2, "与县财政局核对预算", "日常工作", "县财政局", "", "", "是", ""),
        (nov(20), 3, "接待来访群众3人次", "日常工作", "来访群众", "", "", "", ""),
        (nov(20), 4, "整理档案", "日常工作", "", "", "", "", ""),
        (nov(20), 5, "审核招商引资合同", "日常工作", "", "", "", "", ""),
        (nov(20), 6, "参加党组会议", "日常工作", "", "", "", "", ""),
        (nov(20), 7, "走访困难群众", "日常工作", "困难群众", "", "", "", ""),
        (nov(20), 8, "学习文件", "日常工作", "", "", "", "", ""),
        (
            nov(20),
            9,
            "审核城关镇人居环境整治项目资金拨付材料",
            "日常工作",
            "城关镇",
            "",
            "",
            "",
            "",
        ),
        (nov(20), 10, "起草调研报告", "日常工作", "", "", "", "", ""),
    ]
    assert await audit_since(bot, before) == [
        ("read", sup, None, li_id, "review", {"period": "2026-11", "page": "file"})
    ]


# -- 3. comments and spot checks reach the cadre; forged buttons change nothing ----------------


async def test_comments_and_remarks_reach_the_cadre_and_forged_buttons_change_nothing(bot):
    """点评 and 抽查意见 are sent to the cadre; look-alike replies and forged taps are not."""
    await open_office(bot)
    ids = {row[0]: await pid(bot, row[0]) for row in OFFICE}
    target = ids["A002"]
    heard = len(bot.api.messages_to(TARGET.id))

    # A negative comment by name, a positive one by 工号 with a full-width sign.
    mark = bot.api.mark()
    reply = await send(bot, SUP, "/comment 张三 - 材料报送不及时")
    assert reply["text"] == "已给张三记负面点评，并已告知本人：材料报送不及时"
    [notice] = await bot.api.wait_for_reply(TARGET.id, since=mark)
    assert notice["text"] == "上级王科对您的工作提出意见：材料报送不及时\n请注意改进。"
    mark = bot.api.mark()
    reply = await send(bot, SUP, "/comment A002 ＋ 下乡调研扎实")
    assert reply["text"] == "已给张三记正面点评，并已告知本人：下乡调研扎实"
    [notice] = await bot.api.wait_for_reply(TARGET.id, since=mark)
    assert notice["text"] == "上级王科对您的工作给予正面点评：下乡调研扎实"
    # The cadre sees both on their own lists; reading one's own lists is no audited read.
    before = await last_audit_id(bot)
    assert (await send(bot, TARGET, "/comments 本月"))["text"] == "\n".join(
        [
            "您 2026年11月 收到的点评",
            "【正面清单】1条",
            "2026-11-20 王科：下乡调研扎实",
            "【负面清单】1条",
            "2026-11-20 王科：材料报送不及时",
        ]
    )
    assert await audit_since(bot, before) == []

    # /check, then 👎 on 张三's first item: the message is redrawn and a ForceReply asks why.
    check_message = await send(bot, SUP, "/check")
    first, second, third = await bot.rows(SpotCheckItem)
    assert [(i.person_id, i.position) for i in (first, second, third)] == [
        (target, 1),
        (target, 2),
        (ids["A005"], 3),
    ]
    assert buttons(check_message) == [
        [(f"{i.position} 👍", f"ck:{i.id}:g"), (f"{i.position} 👎", f"ck:{i.id}:p")]
        for i in (first, second, third)
    ]
    mark = bot.api.mark()
    bot.api.press_button(SUP, check_message["message_id"], f"ck:{first.id}:p")
    answer = await bot.api.wait_for(method="answerCallbackQuery", since=mark)
    [prompt] = await bot.api.wait_for_reply(SUP.id, since=mark)
    assert answer.params["text"] == "第1条：👎"
    redrawn = bot.api.message(SUP.id, check_message["message_id"])
    assert redrawn["text"] == "\n".join(
        [
            "抽查 2026年11月：3条",
            "1. 张三 11月20日第1条：到城关镇调研乡村振兴项目推进情况（完成率低） 👎",
            "2. 张三 11月20日第2条：起草月度工作总结（完成率低）",
            "3. 陈六 11月20日第1条：接待来访群众3人次，登记信访事项2件（完成率低）",
            zh.CHECK_FOOT,
        ]
    )
    assert buttons(redrawn) == buttons(check_message)
    assert prompt["text"] == (
        "请直接回复本消息，写明第1条的问题（张三：到城关镇调研乡村振兴项目推进情况）。"
        f"\n#抽查{first.id}"
    )
    assert prompt["reply_markup"] == {
        "force_reply": True,
        "input_field_placeholder": zh.REMARK_PLACEHOLDER,
    }

    # The supervisor's reply to the prompt is the remark; the cadre is told.
    mark = bot.api.mark()
    reply = await send(bot, SUP, "请写明调研了哪些项目、发现什么问题", reply_to=prompt)
    assert reply["text"] == "已记录对张三第1条的意见，并已转告本人。"
    [notice] = await bot.api.wait_for_reply(TARGET.id, since=mark)
    assert notice["text"] == (
        "上级王科抽查了您11月20日第1条日志：到城关镇调研乡村振兴项目推进情况\n"
        "意见：请写明调研了哪些项目、发现什么问题"
    )
    # 👍 on the second item asks nothing more.
    mark = bot.api.mark()
    answer = await press(bot, SUP, check_message["message_id"], f"ck:{second.id}:g")
    assert answer["text"] == "第2条：👍"
    await bot.settle()
    assert bot.api.calls("sendMessage", since=mark) == []
    redrawn = bot.api.message(SUP.id, check_message["message_id"])
    assert redrawn["text"] == "\n".join(
        [
            "抽查 2026年11月：3条",
            "1. 张三 11月20日第1条：到城关镇调研乡村振兴项目推进情况（完成率低） 👎",
            "   意见：请写明调研了哪些项目、发现什么问题",
            "2. 张三 11月20日第2条：起草月度工作总结（完成率低） 👍",
            "3. 陈六 11月20日第1条：接待来访群众3人次，登记信访事项2件（完成率低）",
            zh.CHECK_FOOT,
        ]
    )

    async def verdicts() -> list[tuple]:
        return [(i.verdict, i.remark) for i in await bot.rows(SpotCheckItem)]

    remarked = [("poor", "请写明调研了哪些项目、发现什么问题"), ("good", None), (None, None)]
    assert await verdicts() == remarked
    entries = len(await bot.entries())

    # Replies that only look like an answer to a prompt are log messages: to the supervisor's
    # own message carrying the marker, and to the bot's confirmation echoing it.
    mark = bot.api.mark()
    own = bot.api.send_text(SUP, f"布置抽查整改 #抽查{second.id}")
    [echo] = await bot.api.wait_for_reply(SUP.id, since=mark)
    assert echo["text"] == f"已记录 11月20日 1条：\n1. 布置抽查整改 #抽查{second.id}"
    reply = await send(bot, SUP, "整理整改台账", reply_to=own)
    assert reply["text"] == "已记录 11月20日 1条：\n2. 整理整改台账"
    reply = await send(bot, SUP, "补充整改材料", reply_to=echo)
    assert reply["text"] == "已记录 11月20日 1条：\n3. 补充整改材料"
    # Another supervisor echoing the marker of 王科's item: logged, no remark, no notice.
    echo = await send(bot, SIB, f"学习文件 #抽查{first.id}")
    assert echo["text"] == f"已记录 11月20日 1条：\n1. 学习文件 #抽查{first.id}"
    reply = await send(bot, SIB, "起草整改方案", reply_to=echo)
    assert reply["text"] == "已记录 11月20日 1条：\n2. 起草整改方案"
    assert len(await bot.entries()) == entries + 5
    assert await verdicts() == remarked

    # Taps on 王科's items by others, forged on their own messages: stale, nothing changes.
    before = await last_audit_id(bot)
    for user, data in [
        (SIB, f"ck:{first.id}:g"),
        (SIB, f"ck:{third.id}:p"),
        (TARGET, f"ck:{first.id}:g"),
        (CADRE, f"ck:{third.id}:g"),
    ]:
        message = bot.api.last_message_to(user.id)
        assert message is not None
        mark = bot.api.mark()
        answer = await press(bot, user, message["message_id"], data, edits=False)
        assert answer["text"] == zh.STALE_BUTTON, (user, data)
        assert bot.api.calls("sendMessage", since=mark) == [], (user, data)

    # Garbage and forged callback data on the check message: stale, nothing changes.
    for data in [
        "tm:",
        "tm:abc:0",
        "tm:2027-01:0",
        "tm:2026-11:99999",
        "tm:2026-11:1:2",
        "tm:2026-11:-1",
        "rv:",
        f"rv:{target}:abc:0",
        f"rv:{target}:2027-01:0",
        f"rv:{target}:2026-11:-1",
        f"rv:{target}:2026-11",
        "rv:4294967295:2026-11:0",
        "rv:99999999999:2026-11:0",
        "ck:",
        "ck::g",
        "ck:-1:g",
        f"ck:{first.id}:x",
        f"ck:{first.id}:gg",
        f"ck:{first.id}",
        "ck:2147483647:p",
        "ck:2147483648:p",
        "ck:9999999999:p",
        "ck:99999999999:p",
        f"ck:{first.id};DROP TABLE spot_checks:g",
    ]:
        mark = bot.api.mark()
        answer = await press(bot, SUP, check_message["message_id"], data, edits=False)
        assert answer["text"] == zh.STALE_BUTTON, data
        assert bot.api.calls("sendMessage", since=mark) == [], data
    assert await audit_since(bot, before) == []
    assert bot.api.message(SUP.id, check_message["message_id"]) == redrawn

    # A page of someone out of reach reads exactly like a page of nobody.
    for subject in (ids["A004"], 99999):
        before = await last_audit_id(bot)
        answer = await press(
            bot, SUP, check_message["message_id"], f"rv:{subject}:2026-11:0", edits=False
        )
        assert answer["text"] == zh.LOST_REACH
        assert await audit_since(bot, before) == [
            (
                "read_refused",
                ids["A001"],
                None,
                subject if subject != 99999 else None,
                "review",
                {"query": ""},
            )
        ]

    assert await verdicts() == remarked
    await bot.settle()
    # 张三 was told of the two comments and the one remark, nothing else.
    notices = [
        (m.kind, m.text, m.status)
        for m in await bot.rows(OutboxMessage, OutboxMessage.person_id.is_not(None))
    ]
    assert notices == [
        ("comment", "上级王科对您的工作提出意见：材料报送不及时\n请注意改进。", "sent"),
        ("comment", "上级王科对您的工作给予正面点评：下乡调研扎实", "sent"),
        (
            "remark",
            "上级王科抽查了您11月20日第1条日志：到城关镇调研乡村振兴项目推进情况\n"
            "意见：请写明调研了哪些项目、发现什么问题",
            "sent",
        ),
    ]
    told = bot.api.messages_to(TARGET.id)[heard:]
    assert [text for text in told if text.startswith("上级")] == [n[1] for n in notices]


# -- 4. a roster re-import takes access away at once ----------------------------------------


def help_text(*sections: str) -> str:
    return zh.HELP_CADRE.format(rollover=4, window=3) + "".join(sections)


async def test_reimported_roster_takes_access_away_at_once(small_bot):
    """张三 moves to 李科: 王科's command, old page button and pending remark are refused."""
    bot = small_bot
    await open_office(bot)
    ids = {row[0]: await pid(bot, row[0]) for row in OFFICE}
    target, sup = ids["A002"], ids["A001"]
    [reply] = await bot.say(TARGET, "1.整理档案\n2.审核招商引资合同\n3.参加党组会议")
    assert reply.startswith("已记录 11月20日 3条"), reply
    old_review = await send(bot, SUP, "/review 张三")
    assert buttons(old_review) == [[("下一页 ▶", f"rv:{target}:2026-11:1")]]
    old_team = await send(bot, SUP, "/team")
    check_message = await send(bot, SUP, "/check 张三")
    first = (await bot.rows(SpotCheckItem))[0]
    mark = bot.api.mark()
    bot.api.press_button(SUP, check_message["message_id"], f"ck:{first.id}:p")
    [prompt] = await bot.api.wait_for_reply(SUP.id, since=mark)
    assert prompt["text"].endswith(f"#抽查{first.id}")

    report = await bot.services.roster.import_rows(
        [RosterRow(2, "A002", "张三", "县发改委", "科员", "A003")]
    )
    assert (report.updated, report.refused) == (1, [])

    # 王科 at once: the old ▶, the old 👍, a new /review, the pending remark: all refused.
    before = await last_audit_id(bot)
    answer = await press(bot, SUP, old_review["message_id"], f"rv:{target}:2026-11:1", edits=False)
    assert (answer["text"], answer["show_alert"]) == (zh.LOST_REACH, True)
    answer = await press(bot, SUP, check_message["message_id"], f"ck:{first.id}:g", edits=False)
    assert (answer["text"], answer["show_alert"]) == (zh.LOST_REACH, True)
    for text in ["/review 张三", "/comments 张三", "/evaluate 张三 作风扎实", "/check 张三"]:
        assert await bot.say(SUP, text) == [zh.NOT_IN_REACH.format(name="张三")], text
    mark = bot.api.mark()
    assert (await send(bot, SUP, "内容过于笼统", reply_to=prompt))["text"] == zh.LOST_REACH
    assert await audit_since(bot, before) == [
        ("read_refused", sup, None, target, "review", {"query": ""}),
        ("read_refused", sup, None, target, "check", {"query": ""}),
        ("read_refused", sup, None, target, "review", {"query": "张三"}),
        ("read_refused", sup, None, target, "comments", {"query": "张三"}),
        ("read_refused", sup, None, target, "evaluate", {"query": "张三"}),
        ("read_refused", sup, None, target, "check", {"query": "张三"}),
        ("read_refused", sup, None, target, "check", {"query": ""}),
    ]
    [item] = [i for i in await bot.rows(SpotCheckItem) if i.id == first.id]
    assert (item.verdict, item.remark) == ("poor", None)
    await bot.settle()
    assert [c for c in bot.api.calls("sendMessage", since=mark) if c.chat_id == TARGET.id] == []
    assert await bot.count(Evaluation) == 0

    # 李科 reaches 张三 now, pages included; 刘五 stays on his team.
    reply = await send(bot, SIB, "/review 张三")
    assert reply["text"].startswith("张三（A002·县发改委）2026年11月 工作日志 5条")
    await press(bot, SIB, reply["message_id"], f"rv:{target}:2026-11:1")
    page = bot.api.message(SIB.id, reply["message_id"])
    assert page["text"].endswith("— 11-20 周五\n5. 参加党组会议\n第2/2页")
    team = (await send(bot, SIB, "/team"))["text"]
    assert team.splitlines()[0] == "2026年11月 下属完成情况（2人）"
    assert [line.split()[1] for line in team.splitlines()[2:4]] == ["张三", "刘五"]

    # 陈六 moves too: 王科 has nobody; his /team, its old button and /help say so.
    await bot.services.roster.import_rows(
        [RosterRow(2, "A005", "陈六", "县发改委", "科员", "A003")]
    )
    assert await bot.say(SUP, "/team") == [zh.NO_REPORTS]
    assert await bot.say(SUP, "/review 陈六") == [zh.NO_REACH["review"]]
    answer = await press(bot, SUP, old_team["message_id"], "tm:2026-11:0", edits=False)
    assert (answer["text"], answer["show_alert"]) == (zh.NO_REPORTS, True)
    assert await bot.say(SUP, "/help") == [help_text()]
    assert await bot.say(SIB, "/help") == [help_text(zh.HELP_SUPERVISOR.format(count=3))]


# -- 5. bad input ---------------------------------------------------------------------------


async def test_bad_input_and_ambiguous_names(bot):
    """Usage replies, bad periods, own lists by a period word, two 张伟 told apart by 工号."""
    await open_office(bot)
    await bot.add_person("1001", "张伟", supervisor="A001")
    await bot.add_person("1002", "张伟", supervisor="A001")
    zhang_wei = await pid(bot, "1002")
    sup = await pid(bot, "A001")
    before = await last_audit_id(bot)
    ambiguous = "\n1001 张伟（县发改委·科员）\n1002 张伟（县发改委·科员）"
    for text, expected in [
        ("/review", zh.REVIEW_USAGE),
        ("/review   ", zh.REVIEW_USAGE),
        ("/review 张三 2026Q5", zh.BAD_PERIOD.format(text="2026Q5")),
        ("/review 张三 2026-13", zh.BAD_PERIOD.format(text="2026-13")),
        ("/review 张三 2027-01", zh.FUTURE_PERIOD.format(label="2027-01")),
        ("/comments 张三 明年", zh.BAD_PERIOD.format(text="明年")),
        ("/team 2026Q5", zh.BAD_PERIOD.format(text="2026Q5")),
        ("/comment", zh.COMMENT_USAGE),
        ("/comment 张三", zh.COMMENT_USAGE),
        ("/comment 张三 材料扎实", zh.COMMENT_USAGE),
        ("/comment 张三 +", zh.COMMENT_USAGE),
        ("/comment 张三 －   ", zh.COMMENT_USAGE),
        ("/comment 张三 + " + "长" * 501, zh.REVIEW_TEXT_TOO_LONG.format(limit=500)),
        ("/evaluate", zh.EVALUATE_USAGE),
        ("/evaluate 张三", zh.EVALUATE_USAGE),
        ("/review 张伟", zh.AMBIGUOUS_NAME.format(name="张伟", command="review") + ambiguous),
        (
            "/comment 张伟 + 好",
            zh.AMBIGUOUS_NAME.format(name="张伟", command="comment") + ambiguous,
        ),
        (
            "/evaluate 张伟 作风扎实",
            zh.AMBIGUOUS_NAME.format(name="张伟", command="evaluate") + ambiguous,
        ),
        (
            "/comments 本月",
            "您 2026年11月 收到的点评\n【正面清单】0条\n（无）\n【负面清单】0条\n（无）",
        ),
        ("/comments", "您 2026年 收到的点评\n【正面清单】0条\n（无）\n【负面清单】0条\n（无）"),
        (
            "/review 1002",
            review_text("张伟", "1002", [zh.REVIEW_EMPTY], logged=0, rate="0%"),
        ),
        ("/comments 1002", "张伟 2026年 点评\n【正面清单】0条\n（无）\n【负面清单】0条\n（无）"),
    ]:
        assert await bot.say(SUP, text) == [expected], text
    assert await bot.count(Comment) == 0
    assert await bot.count(Evaluation) == 0
    # Only the two reads of 1002 are on record; usage mistakes read nothing.
    assert await audit_since(bot, before) == [
        ("read", sup, None, zhang_wei, "review", {"period": "2026-11", "page": 1}),
        ("read", sup, None, zhang_wei, "comments", {"period": "2026"}),
    ]


# -- 6. /help -------------------------------------------------------------------------------


async def test_help_lists_what_each_person_may_do(bot):
    """The supervisor section names the number of direct reports; a cadre has none."""
    await import_office(bot)
    for user, sections in [
        (SUP, [zh.HELP_SUPERVISOR.format(count=2)]),
        (BOSS, [zh.HELP_SUPERVISOR.format(count=2)]),
        (SIB, [zh.HELP_SUPERVISOR.format(count=1)]),
        (TARGET, []),
        (RATER, [zh.HELP_RATER, zh.HELP_RATING]),
        (ADMIN, [zh.HELP_ADMIN]),
    ]:
        assert await bot.say(user, "/help") == [help_text(*sections)], user
    assert "/team" not in help_text()
    assert await bot.say(STRANGER, "/help") == [zh.NOT_REGISTERED]
