"""End-to-end: /projects and /progress from the phone — by alias and by prefix, an ambiguous
name answered with buttons, a non-member refused, an entry linked to the project it names,
the stale-project reminder, and bad input; the real Application against the fake Bot API, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from services import zh
from storage.models import PendingChoice, Project, ProjectMember, ProjectUpdate, Unit
from tests.fakebot import FakeUser
from tests.harness import BotHarness, buttons, press, send

SEC = FakeUser(4001, "秘")  # 项目秘书 of 华新水泥技改项目
MEMBER = FakeUser(4002, "员")  # member of both 华新 projects
OUTSIDER = FakeUser(4003, "外")  # on the roster, on no project
LEADER = FakeUser(4004, "领")  # 牵头领导 of 长江港口物流园

YI = 100_000_000  # yuan in one 亿
WAN = 10_000


async def add_project(
    bot: BotHarness,
    name: str,
    *,
    aliases: str = "",
    stage: str = "building",
    planned: int | None = None,
    completed: int | None = None,
    leader: str | None = None,
    secretary: str | None = None,
    members: tuple[str, ...] = (),
    created: timedelta = timedelta(days=1),
) -> int:
    """A ledger row as an import leaves it (the import itself is tested on its own)."""
    now = bot.clock.now()
    async with bot.db() as db:
        unit = await db.scalar(select(Unit).where(Unit.name == "县发改委"))
        ids = {
            rid: (await bot.person(rid, db)).id
            for rid in {*members, *(r for r in (leader, secretary) if r)}
        }
        project = Project(
            name=name,
            aliases=aliases,
            category="工业",
            stage=stage,
            planned_yuan=planned,
            completed_yuan=completed,
            headquarters=False,
            supervised=False,
            leader_id=ids.get(leader) if leader else None,
            unit_id=unit.id if unit else None,
            task_force="项目专班",
            secretary_id=ids.get(secretary) if secretary else None,
            created_at=now - created,
            updated_at=now - created,
        )
        db.add(project)
        await db.flush()
        db.add_all(ProjectMember(project_id=project.id, person_id=ids[r]) for r in members)
        await db.commit()
        project_id = project.id
    await bot.wiring.load_names()
    return project_id


async def open_ledger(bot: BotHarness) -> dict[str, int]:
    await bot.enrol(SEC, "P001", "秦秘书")
    await bot.enrol(MEMBER, "P002", "马成员")
    await bot.enrol(OUTSIDER, "P003", "吴局外")
    await bot.enrol(LEADER, "P004", "严领导")
    return {
        "华新": await add_project(
            bot,
            "华新水泥技改项目",
            aliases="华新技改;技改",
            planned=5 * YI,
            completed=1 * YI,
            leader="P004",
            secretary="P001",
            members=("P002",),
        ),
        "华新二期": await add_project(
            bot,
            "华新水泥二期",
            aliases="华新二期",
            stage="reserve",
            planned=12 * YI,
            secretary="P001",
            members=("P002",),
        ),
        "港口": await add_project(
            bot,
            "长江港口物流园",
            aliases="港口物流园",
            planned=8000 * WAN,
            leader="P004",
        ),
    }


async def test_progress_by_alias_and_by_prefix(bot: BotHarness) -> None:
    ids = await open_ledger(bot)
    assert await bot.say(SEC, "/progress 华新技改 完成窑尾设备安装，累计完成投资 3.2亿") == [
        "已报送「华新水泥技改项目」进展，并记入11月20日日志第1条。\n"
        "累计完成投资：3.2亿元（64%）（上次1亿元）"
    ]
    # A unique prefix of the full name; the investment in 万元; a stage change.
    assert await bot.say(LEADER, "/progress 长江港 主体完工，已投产，累计完成投资 8000万元") == [
        "已报送「长江港口物流园」进展，并记入11月20日日志第1条。\n"
        "阶段：在建 → 投产\n"
        "累计完成投资：8000万元（100%）"
    ]
    updates = await bot.rows(ProjectUpdate)
    assert [(u.project_id, u.completed_yuan, u.stage_after) for u in updates] == [
        (ids["华新"], 320_000_000, None),
        (ids["港口"], 80_000_000, "producing"),
    ]
    # Each update is also the day's log entry, linked to its project.
    entries = await bot.entries()
    assert [(e.text, e.project_id) for e in entries] == [
        ("完成窑尾设备安装，累计完成投资 3.2亿", ids["华新"]),
        ("主体完工，已投产，累计完成投资 8000万元", ids["港口"]),
    ]
    assert [u.entry_id for u in updates] == [e.id for e in entries]
    projects = {p.id: p for p in await bot.rows(Project)}
    assert projects[ids["华新"]].completed_yuan == 320_000_000
    assert projects[ids["港口"]].stage == "producing"
    assert projects[ids["华新"]].last_update_at == bot.clock.now()
    # The project list shows it: stage, investment progress and the last update.
    assert await bot.say(SEC, "/projects") == [
        "您的项目（2个）：\n"
        "1. 华新水泥二期〔储备〕项目秘书\n"
        "   计划投资12亿元，尚未报送完成投资\n"
        "   尚无进展报送\n"
        "2. 华新水泥技改项目〔在建〕项目秘书\n"
        "   投资：3.2亿元／计划5亿元（64%）\n"
        "   最近进展（11月20日）：完成窑尾设备安装，累计完成投资 3.2亿\n"
        "报送进展：/progress 项目名或简称 内容\n"
        "例：/progress 华新水泥二期 完成设备安装，累计完成投资3.2亿"
    ]


async def test_an_ambiguous_name_offers_the_candidates_as_buttons(bot: BotHarness) -> None:
    ids = await open_ledger(bot)
    reply = await send(bot, MEMBER, "/progress 华新 召开项目调度会，协调用电问题")
    assert reply["text"] == "「华新」对应多个项目，请点选要报送的项目："
    [choice] = await bot.rows(PendingChoice)
    assert buttons(reply) == [
        [("华新水泥二期", f"pj:{choice.id}:{ids['华新二期']}")],
        [("华新水泥技改项目", f"pj:{choice.id}:{ids['华新']}")],
    ]
    assert await bot.count(ProjectUpdate) == 0 and await bot.entries() == []
    # Somebody else cannot use the choice, nor pick a project that was not offered.
    own_message = bot.api.last_message_to(SEC.id)
    assert own_message is not None
    for user, message_id, data in [
        (SEC, own_message["message_id"], f"pj:{choice.id}:{ids['华新']}"),
        (MEMBER, reply["message_id"], f"pj:{choice.id}:{ids['港口']}"),
        (MEMBER, reply["message_id"], f"pj:{choice.id + 1}:{ids['华新']}"),
        (MEMBER, reply["message_id"], "pj:99999999999:1"),
    ]:
        answer = await press(bot, user, message_id, data, edits=False)
        gone = zh.STALE_BUTTON if data == "pj:99999999999:1" else zh.PROGRESS_CHOICE_GONE
        assert answer["text"] == gone, data
    assert await bot.count(ProjectUpdate) == 0
    await press(bot, MEMBER, reply["message_id"], f"pj:{choice.id}:{ids['华新']}")
    shown = bot.api.last_message_to(MEMBER.id)
    assert shown is not None
    assert shown["text"] == "已报送「华新水泥技改项目」进展，并记入11月20日日志第1条。"
    [update] = await bot.rows(ProjectUpdate)
    assert (update.project_id, update.text) == (ids["华新"], "召开项目调度会，协调用电问题")
    [entry] = await bot.entries("P002")
    assert entry.project_id == ids["华新"]
    # Used once: a second tap does nothing more.
    data = f"pj:{choice.id}:{ids['华新']}"
    answer = await press(bot, MEMBER, reply["message_id"], data, edits=False)
    assert answer["text"] == "这个选择已失效，请重新发送 /progress。"
    assert await bot.count(ProjectUpdate) == 1


async def test_a_non_member_is_refused_and_nothing_is_stored(bot: BotHarness) -> None:
    await open_ledger(bot)
    assert await bot.say(OUTSIDER, "/progress 华新技改 去现场看了看") == [
        "您不是「华新水泥技改项目」的成员、项目秘书或牵头领导，不能报送它的进展。\n"
        "如需加入，请联系项目台账管理员。"
    ]
    assert await bot.count(ProjectUpdate) == 0 and await bot.entries() == []
    assert await bot.say(OUTSIDER, "/projects") == [
        "您目前不是任何项目的成员、项目秘书或牵头领导。\n如有遗漏，请联系项目台账管理员。"
    ]


async def test_a_plain_entry_naming_a_project_is_linked_to_it(bot: BotHarness) -> None:
    ids = await open_ledger(bot)
    [reply] = await bot.say(OUTSIDER, "到港口物流园现场协调用地问题\n撰写调研报告")
    assert reply.splitlines()[1:] == [
        "1. 到港口物流园现场协调用地问题〔项目：长江港口物流园〕",
        "2. 撰写调研报告",
    ]
    entries = await bot.entries("P003")
    assert [(e.text, e.project_id) for e in entries] == [
        ("到港口物流园现场协调用地问题", ids["港口"]),
        ("撰写调研报告", None),
    ]


async def test_an_edit_relinks_but_a_progress_update_keeps_its_project(bot: BotHarness) -> None:
    ids = await open_ledger(bot)
    update = bot.api.send_text(SEC, "华新技改窑尾设备进场")
    await bot.settle()
    [entry] = await bot.entries("P001")
    assert entry.project_id == ids["华新"]
    # The edited text names another project: the link moves; naming none: it goes.
    message_id = update["message"]["message_id"]
    for text, project in [
        ("华新二期完成可研批复", ids["华新二期"]),
        ("整理项目档案", None),
    ]:
        mark = bot.api.mark()
        bot.api.edit_text(SEC, message_id, text)
        [reply] = await bot.api.wait_for_reply(SEC.id, since=mark)
        [entry] = await bot.entries("P001")
        assert (entry.text, entry.project_id) == (text, project)
        assert ("〔项目：华新水泥二期〕" in reply["text"]) == (project is not None)
    # A /progress entry keeps its project whatever the /edit says.
    await bot.say(SEC, "/progress 华新技改 设备调试")
    assert await bot.say(SEC, "/edit 2 设备单机调试完成") == [
        "已修改第2条：\n2. 设备单机调试完成〔项目：华新水泥技改项目〕"
    ]
    entries = await bot.entries("P001")
    assert [(e.text, e.project_id) for e in entries][1] == ("设备单机调试完成", ids["华新"])


async def test_bad_progress_gets_a_clear_reply_and_stores_nothing(bot: BotHarness) -> None:
    ids = await open_ledger(bot)
    usage = (
        "用法：/progress 项目 进展内容\n"
        "项目可写全称、简称或开头几个字。\n"
        "可附：累计完成投资 3.2亿（或 32000万元）；阶段变化写「已投产」「阶段：在建」。\n"
        "例：/progress 华新技改 完成设备安装，累计完成投资3.2亿"
    )
    cases = [
        ("/progress", usage),
        ("/progress 华新技改", usage),
        ("/progress 华新技改    ", usage),
        (
            "/progress 不存在的项目 开会",
            "没有找到项目「不存在的项目」。\n"
            "发 /projects 查看您的项目，可用全称、简称或开头几个字。",
        ),
        (
            "/progress 华新技改 累计完成投资 5000万元",
            "累计完成投资5000万元少于上次报送的1亿元，累计数不能减少。\n"
            "请核对后重发；如上次报错，请联系项目台账管理员更正。",
        ),
        (
            "/progress 华新技改 累计完成投资 三点二亿",
            "累计完成投资的金额看不懂。\n"
            "请写成「累计完成投资 3.2亿」或「累计完成投资 32000万元」。",
        ),
        (
            "/progress 华新技改 阶段：储备",
            "「华新水泥技改项目」目前是在建阶段，改回储备需要说明原因。\n"
            "例：/progress 华新水泥技改项目 阶段：储备 原因：资金暂未到位",
        ),
        ("/progress 华新技改 " + "很长" * 2001, "内容太长（超过4000字），请分几条发送。"),
    ]
    for text, reply in cases:
        assert await bot.say(SEC, text) == [reply], text[:40]
    assert await bot.count(ProjectUpdate) == 0 and await bot.entries() == []
    # With a reason the stage may go back; the reason is kept.
    assert await bot.say(SEC, "/progress 华新技改 阶段：储备 原因：环评未通过，暂缓建设") == [
        "已报送「华新水泥技改项目」进展，并记入11月20日日志第1条。\n阶段：在建 → 储备"
    ]
    [update] = await bot.rows(ProjectUpdate)
    assert (update.stage_before, update.stage_after, update.reason) == (
        "building",
        "reserve",
        "环评未通过，暂缓建设",
    )
    assert (await bot.rows(Project, Project.id == ids["华新"]))[0].stage == "reserve"


async def test_a_stale_project_reminds_its_secretary_once(bot: BotHarness) -> None:
    ids = await open_ledger(bot)
    projects = bot.services.projects
    # Entered the ledger a day ago: nothing is stale yet.
    outcome = await projects.remind_stale()
    assert outcome.messages == 0
    # 15 days later (the default allows 14) on a working day, Monday 7 December.
    bot.clock.set(bot.clock.now() + timedelta(days=17))
    assert bot.clock.now().date() == date(2026, 12, 7)
    mark = bot.api.mark()
    outcome = await projects.remind_stale()
    # 华新 (secretary 秦秘书) and 华新二期 (same secretary); 港口 has no secretary: its leader.
    assert outcome.messages == 3
    await bot.settle()
    sent = [
        (c.params["chat_id"], c.params["text"]) for c in bot.api.calls("sendMessage", since=mark)
    ]
    assert sorted(text for chat, text in sent if chat == SEC.id) == [
        "项目进展提醒：「华新水泥二期」已18天没有报送进展。\n"
        "请发送 /progress 华新水泥二期 进展内容，可附累计完成投资和阶段变化。",
        "项目进展提醒：「华新水泥技改项目」已18天没有报送进展。\n"
        "请发送 /progress 华新水泥技改项目 进展内容，可附累计完成投资和阶段变化。",
    ]
    assert [chat for chat, _ in sent].count(LEADER.id) == 1
    # Run again the same day (or after a restart): nobody hears twice.
    mark = bot.api.mark()
    await projects.remind_stale()
    await bot.settle()
    assert bot.api.calls("sendMessage", since=mark) == []
    # /projects marks it; an update clears it.
    [listing] = await bot.say(SEC, "/projects")
    assert "⚠️ 已18天未报送进展" in listing
    await bot.say(SEC, "/progress 华新技改 设备调试")
    [listing] = await bot.say(SEC, "/projects")
    assert listing.count("⚠️") == 1  # only 华新水泥二期 now
    assert ids
