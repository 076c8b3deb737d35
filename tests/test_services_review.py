"""ReviewService without Telegram: who reaches whom (下管一级, raters, admins), the audit trail
of reads and refusals, /team, /review, /check with verdicts and remarks, /comment, /comments,
/evaluate and /help's powers, on SQLite and PostgreSQL.

The clock stands at Friday 2026-11-20 10:00 in Shanghai. November's working days before today
are the 2nd–6th, 9th–13th and 16th–19th (14 days); today counts once something is logged.

The organisation most tests use (`org`), units first:

    市发改委 (top)            周局长 d001 ─┬─ 吴科长 s001 ─┬─ 张三 c001 ── 赵六 g001
      └ 县发改委                          │               ├─ 李四 c002
          └ 县发改委项目办                │               └─ 孙七 c009 (left the roster)
    县财政局 (top)                        └─ 郑科长 s002 ── 王五 c003
    市委组织部 (top)

    张三, 李四, 孙七: 县发改委; 赵六: 县发改委项目办; 王五: 县财政局; the others: 市发改委,
    except 陈书记 r002 (rater of 县发改委) and 褚干事 a001 (admin, 市委组织部).
    冯书记 r001 is the rater of 市发改委.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from scoring.completeness import Completeness
from scoring.dates import Period
from services import zh
from services.entries import AbsenceView, EntrySource
from services.errors import NotAllowed, NotFound, UsageError
from services.outbox import Confirm
from services.policy import ReviewRules
from services.review import (
    CheckView,
    Powers,
    ReviewService,
    Verdict,
)
from services.roster import RosterRow
from storage.models import (
    Absence,
    AuditLog,
    Comment,
    Evaluation,
    InboxUpdate,
    LogEntry,
    OutboxMessage,
    Person,
    SpotCheck,
    SpotCheckItem,
    Unit,
)
from storage.repositories import EntryCounts
from tests.services_fixtures import OTHER_UNIT, SHANGHAI, UNIT, Env, at, processing

pytest_plugins = ("tests.services_fixtures",)

TODAY = date(2026, 11, 20)
NOVEMBER = Period.month(2026, 11)
PARENT_UNIT = "市发改委"
CHILD_UNIT = UNIT  # 县发改委, below 市发改委
GRANDCHILD_UNIT = "县发改委项目办"  # below 县发改委
ADMIN_UNIT = "市委组织部"
CHAT = 7001


def nov(*days: int) -> list[date]:
    return [date(2026, 11, d) for d in days]


# November's working days before today.
DUE = nov(2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19)


# -- building the organisation -----------------------------------------------------------------


async def units(env: Env, parents: dict[str, str | None]) -> dict[str, int]:
    """Create the units (name -> parent name or None) and set the unit tree."""
    ids = {name: await env.unit(name) for name in parents}
    async with env.sessions() as db:
        for name, parent in parents.items():
            parent_id = ids[parent] if parent else None
            await db.execute(update(Unit).where(Unit.id == ids[name]).values(parent_id=parent_id))
        await db.commit()
    return ids


async def add_person(
    env: Env,
    roster_id: str,
    name: str,
    unit: str = CHILD_UNIT,
    *,
    supervisor: int | None = None,
    roles: str = "cadre",
    active: bool = True,
) -> int:
    person_id = await env.person(
        roster_id, name, unit=unit, supervisor_id=supervisor, active=active
    )
    if roles != "cadre":
        await set_person(env, person_id, roles=roles)
    return person_id


async def set_person(env: Env, person_id: int, **values: Any) -> None:
    """Change a person's row directly, as a roster import would."""
    async with env.sessions() as db:
        await db.execute(update(Person).where(Person.id == person_id).values(**values))
        await db.commit()


def entry_rows(
    person_id: int, days: list[date], text: str = "与县财政局对接项目资金{day}日", **flags: Any
) -> list[dict[str, Any]]:
    """LogEntry rows for bulk seeding: one per day, numbered `item_no` (default 1).

    `text` may hold "{day}" so each day's item differs (not repeated).
    """
    now = at(20)
    return [
        {
            "person_id": person_id,
            "work_date": day,
            "item_no": flags.get("item_no", 1),
            "text": text.format(day=day.day),
            "kind": "regular",
            "is_late": flags.get("is_late", False),
            "is_overlong": False,
            "withdrawn": flags.get("withdrawn", False),
            "channel": "cli",
            "created_at": now,
            "updated_at": now,
        }
        for day in days
    ]


def absence_row(person_id: int, start: date, end: date, reason: str = "出差") -> dict[str, Any]:
    return {
        "person_id": person_id,
        "start_date": start,
        "end_date": end,
        "reason": reason,
        "created_at": at(20),
        "withdrawn": False,
    }


@dataclass(frozen=True)
class Org:
    """The people of the organisation above, by role; `ids` maps names to person ids."""

    director: int
    boss: int
    sibling: int
    zhang: int
    li: int
    gone: int
    wang: int
    zhao: int
    parent_rater: int
    child_rater: int
    admin: int
    ids: dict[str, int]


async def build_org(env: Env) -> Org:
    await units(
        env,
        {
            PARENT_UNIT: None,
            CHILD_UNIT: PARENT_UNIT,
            GRANDCHILD_UNIT: CHILD_UNIT,
            OTHER_UNIT: None,
            ADMIN_UNIT: None,
        },
    )
    director = await add_person(env, "d001", "周局长", PARENT_UNIT)
    boss = await add_person(env, "s001", "吴科长", PARENT_UNIT, supervisor=director)
    sibling = await add_person(env, "s002", "郑科长", PARENT_UNIT, supervisor=director)
    zhang = await add_person(env, "c001", "张三", supervisor=boss)
    li = await add_person(env, "c002", "李四", supervisor=boss)
    gone = await add_person(env, "c009", "孙七", supervisor=boss, active=False)
    wang = await add_person(env, "c003", "王五", OTHER_UNIT, supervisor=sibling)
    zhao = await add_person(env, "g001", "赵六", GRANDCHILD_UNIT, supervisor=zhang)
    parent_rater = await add_person(env, "r001", "冯书记", PARENT_UNIT, roles="cadre,rater")
    child_rater = await add_person(env, "r002", "陈书记", CHILD_UNIT, roles="cadre,rater")
    admin = await add_person(env, "a001", "褚干事", ADMIN_UNIT, roles="cadre,admin")
    # Everyone who can be checked has this month's entries.
    await env.insert_rows(
        LogEntry,
        [
            row
            for pid in (boss, zhang, li, gone, wang, zhao)
            for row in entry_rows(pid, nov(18, 19))
        ],
    )
    names = {
        "周局长": director,
        "吴科长": boss,
        "郑科长": sibling,
        "张三": zhang,
        "李四": li,
        "孙七": gone,
        "王五": wang,
        "赵六": zhao,
        "冯书记": parent_rater,
        "陈书记": child_rater,
        "褚干事": admin,
    }
    return Org(
        director,
        boss,
        sibling,
        zhang,
        li,
        gone,
        wang,
        zhao,
        parent_rater,
        child_rater,
        admin,
        names,
    )


@pytest.fixture
async def org(env: Env) -> Org:
    return await build_org(env)


def service(env: Env, seed: int = 1, **rules: Any) -> ReviewService:
    """A ReviewService on the test database with its own rules and a seeded sampler."""
    wired = env.services.review
    return ReviewService(
        wired.uow, wired.clock, wired.policy, ReviewRules(**rules), random.Random(seed)
    )


@pytest.fixture
def review(env: Env) -> ReviewService:
    """The wired ReviewService, its sampler seeded."""
    env.services.review.rng = random.Random(1)
    return env.services.review


# -- reading back ------------------------------------------------------------------------------

Audit = tuple[str, int | None, int | None, str | None, dict[str, Any]]


async def last_audit_id(env: Env) -> int:
    async with env.sessions() as db:
        return int(await db.scalar(select(func.max(AuditLog.id))) or 0)


async def audit_since(env: Env, after_id: int = 0) -> list[Audit]:
    """(action, actor, subject, command, detail) of the audit lines after `after_id`."""
    return [
        (r.action, r.actor_person_id, r.subject_person_id, r.command, json.loads(r.detail))
        for r in await env.rows(AuditLog, AuditLog.id > after_id)
    ]


STORED = (Comment, Evaluation, SpotCheck, SpotCheckItem, OutboxMessage)


async def stored_counts(env: Env) -> dict[str, int]:
    """How many rows the review use cases may write, per table."""
    return {model.__tablename__: await env.count(model) for model in STORED}


def grown(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {table: after[table] - before[table] for table in after if after[table] != before[table]}


# -- the access matrix -------------------------------------------------------------------------

COMMANDS = ("review", "comments", "comment", "check", "evaluate")
Attempt = Callable[[ReviewService, int, str], Awaitable[Any]]
ATTEMPTS: dict[str, Attempt] = {
    "review": lambda s, viewer, who: s.review(viewer, who),
    "comments": lambda s, viewer, who: s.comments(viewer, who),
    "comment": lambda s, viewer, who: s.comment(viewer, who, True, "工作扎实"),
    "check": lambda s, viewer, who: s.check(viewer, who),
    "evaluate": lambda s, viewer, who: s.evaluate(viewer, who, "政治坚定，工作扎实"),
}
# viewer -> target name -> outcome per command of COMMANDS: "+" reached, "n" refused as not
# in reach (NOT_IN_REACH), "0" refused for having no grounds at all (NO_REACH).
MATRIX: dict[str, dict[str, str]] = {
    "li": {"张三": "00000", "赵六": "00000"},  # a cadre without reports
    "boss": {"张三": "+++++", "李四": "+++++", "赵六": "nnnnn", "孙七": "nnnnn", "王五": "nnnnn"},
    # Two levels above 张三: only the 科长 are direct reports.
    "director": {"吴科长": "+++++", "张三": "nnnnn", "赵六": "nnnnn"},
    "sibling": {"王五": "+++++", "张三": "nnnnn", "李四": "nnnnn"},
    # A rater reaches the units below theirs for /review, /comments, /comment, never /check.
    "parent_rater": {"张三": "+++00", "赵六": "+++00", "吴科长": "+++00", "王五": "nnn00"},
    "child_rater": {"张三": "+++00", "赵六": "+++00", "吴科长": "nnn00", "王五": "nnn00"},
    "admin": {"张三": "++000", "王五": "++000", "孙七": "nn000"},
}
# Whom /team lists for each viewer (None: refused, no direct reports).
TEAM: dict[str, set[str] | None] = {
    "li": None,
    "boss": {"张三", "李四"},
    "director": {"吴科长", "郑科长"},
    "sibling": {"王五"},
    "parent_rater": None,
    "child_rater": None,
    "admin": None,
}


async def expect_reached(
    env: Env, command: str, viewer: int, subject: int, result: Any, since: int, before: dict
) -> None:
    """What a reached command returns and stores, and the read it records."""
    read = [("read", viewer, subject, command)]
    new_audit = [line[:4] for line in await audit_since(env, since)]
    added = grown(before, await stored_counts(env))
    if command in ("review", "comments"):
        assert result.person.id == subject
        assert (new_audit, added) == (read, {})
    elif command == "comment":
        comment = (await env.rows(Comment))[-1]
        assert (comment.author_id, comment.subject_id, comment.text) == (
            viewer,
            subject,
            "工作扎实",
        )
        message = (await env.rows(OutboxMessage))[-1]
        assert (message.person_id, message.kind) == (subject, "comment")
        assert (new_audit, added) == ([], {"comments": 1, "outbox_messages": 1})
    elif command == "check":
        check = (await env.rows(SpotCheck))[-1]
        assert (check.id, check.checker_id, check.subject_id) == (result.check_id, viewer, subject)
        items = await env.rows(SpotCheckItem, SpotCheckItem.check_id == check.id)
        assert {item.person_id for item in items} == {subject} and len(items) == 2
        assert (new_audit, added) == (read, {"spot_checks": 1, "spot_check_items": 2})
    else:
        evaluation = (await env.rows(Evaluation))[-1]
        assert (evaluation.subject_id, evaluation.author_id, evaluation.quarter) == (
            subject,
            viewer,
            "2026Q4",
        )
        assert (new_audit, added) == ([], {"evaluations": 1})


@pytest.mark.parametrize("viewer_key", MATRIX)
async def test_access_matrix(env: Env, org: Org, review: ReviewService, viewer_key: str) -> None:
    viewer = getattr(org, viewer_key)
    for target, outcomes in MATRIX[viewer_key].items():
        subject = org.ids[target]
        for command, outcome in zip(COMMANDS, outcomes, strict=True):
            case = (viewer_key, target, command)
            since, before = await last_audit_id(env), await stored_counts(env)
            if outcome == "+":
                result = await ATTEMPTS[command](review, viewer, target)
                await expect_reached(env, command, viewer, subject, result, since, before)
                continue
            with pytest.raises(NotAllowed) as refused:
                await ATTEMPTS[command](review, viewer, target)
            reply = zh.NO_REACH[command] if outcome == "0" else zh.NOT_IN_REACH.format(name=target)
            assert refused.value.reply == reply, case
            assert await audit_since(env, since) == [
                ("read_refused", viewer, subject, command, {"query": target})
            ], case
            assert await stored_counts(env) == before, case

    since, before = await last_audit_id(env), await stored_counts(env)
    expected = TEAM[viewer_key]
    if expected is None:
        with pytest.raises(NotAllowed) as refused:
            await review.team(viewer)
        assert refused.value.reply == zh.NO_REPORTS
        assert await audit_since(env, since) == [
            ("read_refused", viewer, None, "team", {"query": ""})
        ]
    else:
        team = await review.team(viewer)
        assert {row.person.name for row in team.rows} == expected
        reads = await audit_since(env, since)
        assert {
            (action, actor, subject, command) for action, actor, subject, command, _ in reads
        } == {("read", viewer, org.ids[name], "team") for name in expected}
    assert await stored_counts(env) == before


async def test_a_refusal_reads_the_same_whether_the_name_exists_or_not(
    env: Env, org: Org, review: ReviewService
) -> None:
    # (viewer, a name that exists out of their reach)
    cases = [(org.sibling, "张三"), (org.li, "王五"), (org.parent_rater, "王五")]
    for viewer, existing in cases:
        for command in COMMANDS:
            replies = []
            for name in (existing, "查无此人"):
                since = await last_audit_id(env)
                with pytest.raises(NotAllowed) as refused:
                    await ATTEMPTS[command](review, viewer, name)
                replies.append(refused.value.reply.replace(name, "某某"))
                [(action, actor, subject, logged, detail)] = await audit_since(env, since)
                assert (action, actor, logged, detail) == (
                    "read_refused",
                    viewer,
                    command,
                    {"query": name},
                )
                # The trail names the person asked about (for admins); nobody for an unknown name.
                assert subject == (org.ids[name] if name == existing else None)
            assert replies[0] == replies[1], (viewer, command)
    assert await stored_counts(env) == dict.fromkeys((m.__tablename__ for m in STORED), 0)


async def test_an_ambiguous_name_lists_the_candidates_in_reach_and_a_roster_id_resolves(
    env: Env, org: Org, review: ReviewService
) -> None:
    other_li = await add_person(env, "g002", "李四", GRANDCHILD_UNIT, supervisor=org.zhang)
    await set_person(env, other_li, position="副主任")

    with pytest.raises(UsageError) as ambiguous:
        await review.review(org.parent_rater, "李四")

    assert ambiguous.value.reply == "\n".join(
        [
            zh.AMBIGUOUS_NAME.format(name="李四", command="review"),
            zh.CANDIDATE.format(id="c002", name="李四", unit=CHILD_UNIT, position="科员"),
            zh.CANDIDATE.format(id="g002", name="李四", unit=GRANDCHILD_UNIT, position="副主任"),
        ]
    )
    assert await audit_since(env) == []
    assert (await review.review(org.parent_rater, "g002")).person.id == other_li
    assert (await review.review(org.parent_rater, " c002 ")).person.id == org.li
    # The other 李四 is out of 吴科长's reach: the name is no ambiguity to him.
    assert (await review.review(org.boss, "李四")).person.id == org.li
    assert [line[:4] for line in await audit_since(env)] == [
        ("read", org.parent_rater, other_li, "review"),
        ("read", org.parent_rater, org.li, "review"),
        ("read", org.boss, org.li, "review"),
    ]


async def test_nobody_reaches_themselves_and_the_unregistered_reach_nobody(
    env: Env, org: Org, review: ReviewService
) -> None:
    for viewer, name in [(org.boss, "吴科长"), (org.admin, "褚干事"), (org.child_rater, "r002")]:
        with pytest.raises(NotAllowed) as refused:
            await review.review(viewer, name)
        assert refused.value.reply == zh.NOT_IN_REACH.format(name=name)
    since = await last_audit_id(env)
    for attempt in [
        review.review(org.gone, "张三"),
        review.team(org.gone),
        review.powers(org.gone),
        review.comments(org.gone, None),
    ]:
        with pytest.raises(NotAllowed) as refused:
            await attempt
        assert refused.value.reply == zh.NOT_REGISTERED
    assert await audit_since(env, since) == []


# -- access ends the moment the roster changes -------------------------------------------------


async def test_a_roster_reimport_ends_access_at_once(
    env: Env, org: Org, review: ReviewService
) -> None:
    shown = await review.review(org.boss, "张三")
    check = await review.check(org.boss, "张三")
    item = check.items[0].item_id
    assert (await review.powers(org.boss)).reports == 2

    report = await env.services.roster.import_rows(
        [RosterRow(2, "c001", "张三", CHILD_UNIT, "科员", supervisor_id="s002", role="干部")]
    )

    assert (report.updated, report.refused) == (1, [])
    since, before = await last_audit_id(env), await stored_counts(env)
    lost: list[tuple[Awaitable[Any], str, str, int | None]] = [
        (review.review(org.boss, "张三"), zh.NOT_IN_REACH.format(name="张三"), "review", org.zhang),
        (
            review.review_page(org.boss, shown.person.id, "2026-11", 0),
            zh.LOST_REACH,
            "review",
            org.zhang,
        ),
        (review.verdict(org.boss, item, Verdict.GOOD), zh.LOST_REACH, "check", org.zhang),
        (review.remark(org.boss, item, "内容过于笼统"), zh.LOST_REACH, "check", org.zhang),
        (review.check(org.boss, "张三"), zh.NOT_IN_REACH.format(name="张三"), "check", org.zhang),
        (
            review.comment(org.boss, "张三", False, "要改进"),
            zh.NOT_IN_REACH.format(name="张三"),
            "comment",
            org.zhang,
        ),
        (
            review.evaluate(org.boss, "张三", "良好"),
            zh.NOT_IN_REACH.format(name="张三"),
            "evaluate",
            org.zhang,
        ),
    ]
    for attempt, reply, command, subject in lost:
        mark = await last_audit_id(env)
        with pytest.raises(NotAllowed) as refused:
            await attempt
        assert refused.value.reply == reply
        [(action, actor, logged_subject, logged_command, _)] = await audit_since(env, mark)
        assert (action, actor, logged_subject, logged_command) == (
            "read_refused",
            org.boss,
            subject,
            command,
        )
    assert await stored_counts(env) == before
    stored_item = await env.one(SpotCheckItem, SpotCheckItem.id == item)
    assert (stored_item.verdict, stored_item.remark) == (None, None)
    assert len(await audit_since(env, since)) == len(lost)
    assert {row.person.name for row in (await review.team(org.boss)).rows} == {"李四"}
    assert (await review.powers(org.boss)).reports == 1
    # The new supervisor reaches 张三 at once, but not the check 吴科长 drew.
    assert (await review.review(org.sibling, "张三")).person.id == org.zhang
    assert {row.person.name for row in (await review.team(org.sibling)).rows} == {"王五", "张三"}
    with pytest.raises(NotFound) as stale:
        await review.verdict(org.sibling, item, Verdict.GOOD)
    assert stale.value.reply == zh.STALE_BUTTON


async def test_leaving_the_roster_or_the_rater_role_ends_access_at_once(
    env: Env, org: Org, review: ReviewService
) -> None:
    shown = await review.review(org.boss, "李四")
    await review.review(org.child_rater, "张三")

    await set_person(env, org.li, active=False)
    await set_person(env, org.child_rater, roles="cadre")

    with pytest.raises(NotAllowed) as refused:
        await review.review_page(org.boss, shown.person.id, "2026-11", 0)
    assert refused.value.reply == zh.LOST_REACH
    with pytest.raises(NotAllowed) as refused:
        await review.review(org.child_rater, "张三")
    assert refused.value.reply == zh.NO_REACH["review"]
    assert (await review.powers(org.child_rater)).rater is False


# -- /team -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    boss: int
    people: dict[str, int]  # name -> id


async def build_team(env: Env) -> Team:
    """A 科长 with six reports of every kind of completeness (see test_team_...)."""
    boss = await add_person(env, "s100", "吴科长")
    names = {"甲": "c101", "乙": "c102", "丙": "c103", "丁": "c104", "戊": "c105", "己": "c106"}
    people = {
        name: await add_person(env, rid, name, supervisor=boss) for name, rid in names.items()
    }
    departed = await add_person(env, "c107", "庚", supervisor=boss, active=False)
    stranger = await add_person(env, "c108", "辛")
    p = people
    await env.insert_rows(
        LogEntry,
        entry_rows(p["甲"], [*DUE, TODAY])
        + entry_rows(p["乙"], nov(2, 3, 4, 5, 6, 9))
        + entry_rows(p["乙"], nov(10), is_late=True)
        + entry_rows(p["丙"], nov(18), withdrawn=True)
        + entry_rows(p["戊"], nov(2, 3, 4, 5, 6, 9, 10, 11, 12, 13))
        + entry_rows(departed, DUE)
        + entry_rows(stranger, DUE),
    )
    await env.insert_rows(
        Absence,
        [
            absence_row(p["丁"], date(2026, 11, 2), TODAY, "休假"),
            absence_row(p["戊"], date(2026, 11, 16), date(2026, 11, 19)),
            absence_row(p["己"], date(2026, 11, 2), date(2026, 11, 13), "培训"),
        ],
    )
    return Team(boss, people)


# Laggards first: lowest rate, then most missing days, then roster id; nothing due comes last.
TEAM_ORDER = ["丙", "己", "乙", "甲", "戊", "丁"]
TEAM_ROWS = {
    "丙": (Completeness(14, 0, 0, tuple(DUE)), EntryCounts(0, 0, 0), False),
    "己": (Completeness(4, 0, 10, tuple(nov(16, 17, 18, 19))), EntryCounts(0, 0, 0), False),
    "乙": (
        Completeness(14, 7, 0, tuple(nov(11, 12, 13, 16, 17, 18, 19))),
        EntryCounts(7, 1, 0),
        False,
    ),
    "甲": (Completeness(15, 15, 0, ()), EntryCounts(15, 0, 0), True),
    "戊": (Completeness(10, 10, 4, ()), EntryCounts(10, 0, 0), False),
    "丁": (Completeness(0, 0, 14, ()), EntryCounts(0, 0, 0), False),
}


async def test_team_lists_direct_reports_laggards_first(env: Env, review: ReviewService) -> None:
    team = await build_team(env)

    view = await review.team(team.boss)

    assert (view.period, view.page, view.pages, view.offset, view.total) == (NOVEMBER, 0, 1, 0, 6)
    assert (view.logged_today, view.to_date) == (1, True)
    assert [row.person.name for row in view.rows] == TEAM_ORDER
    assert {
        row.person.name: (row.completeness, row.counts, row.logged_today) for row in view.rows
    } == TEAM_ROWS
    assert view.rows[0].person.roster_id == "c103" and view.rows[0].person.unit_name == CHILD_UNIT
    assert await audit_since(env) == [
        ("read", team.boss, team.people[name], "team", {"period": "2026-11", "page": 1})
        for name in TEAM_ORDER
    ]


async def test_team_marks_today_only_when_the_period_contains_it(
    env: Env, review: ReviewService
) -> None:
    team = await build_team(env)

    october = await review.team(team.boss, "10月")
    week = await review.team(team.boss, "本周")

    assert (october.period, october.to_date, october.logged_today) == (
        Period.month(2026, 10),
        False,
        0,
    )
    assert not any(row.logged_today for row in october.rows)
    assert (week.period, week.to_date, week.logged_today) == (Period.week_of(TODAY), True, 1)
    assert [row.person.name for row in week.rows if row.logged_today] == ["甲"]


async def test_team_pages_and_reads_only_the_page_shown(env: Env) -> None:
    team = await build_team(env)
    paged = service(env, team_page_size=4)
    cases = [
        (0, 0, TEAM_ORDER[:4]),
        (1, 1, TEAM_ORDER[4:]),
        (9, 1, TEAM_ORDER[4:]),
        (-2, 0, TEAM_ORDER[:4]),
    ]

    for asked, page, names in cases:
        since = await last_audit_id(env)
        view = await paged.team(team.boss, None, asked)
        assert (view.page, view.pages, view.offset, view.total) == (page, 2, page * 4, 6), asked
        assert [row.person.name for row in view.rows] == names
        assert view.logged_today == 1  # of the whole team, not only this page
        assert await audit_since(env, since) == [
            ("read", team.boss, team.people[name], "team", {"period": "2026-11", "page": page + 1})
            for name in names
        ]


async def test_team_refuses_bad_and_future_periods(env: Env, review: ReviewService) -> None:
    team = await build_team(env)
    cases = [
        ("2026Q5", zh.BAD_PERIOD.format(text="2026Q5")),
        ("2026-13", zh.BAD_PERIOD.format(text="2026-13")),
        ("明年", zh.BAD_PERIOD.format(text="明年")),
        ("2027", zh.FUTURE_PERIOD.format(label="2027")),
        ("2026-12", zh.FUTURE_PERIOD.format(label="2026-12")),
        ("2026-11-23", zh.FUTURE_PERIOD.format(label="2026-11-23")),
    ]
    for text, reply in cases:
        with pytest.raises(UsageError) as refused:
            await review.team(team.boss, text)
        assert refused.value.reply == reply
    assert await audit_since(env) == []
    assert review.is_period("2026Q4") and review.is_period("本月") and not review.is_period("张三")


# -- /review -----------------------------------------------------------------------------------


def tg(message_id: int, day: int = 20) -> EntrySource:
    return EntrySource.telegram(CHAT, message_id, at(day))


async def log_of_zhang(env: Env, org: Org) -> list[int]:
    """张三's November through the log use cases: edited, withdrawn and late entries.

    Replaces the seeded entries of the 18th and 19th; returns the entry ids in log order.
    """
    async with env.sessions() as db:
        await db.execute(delete(LogEntry).where(LogEntry.person_id == org.zhang))
        await db.commit()
    z = org.zhang
    tuesday = await env.entries.record(
        z, "1.与县发改委对接项目用地问题\n2.走访慰问困难群众5户", tg(1, 17)
    )
    today = await env.entries.record(z, "1.起草年度工作总结\n2.整理档案\n3.误发的一条", tg(2))
    late = await env.entries.backfill(z, "昨天", "参加党组会议", tg(3))
    await env.entries.edit_today(z, 1, "起草年度工作总结初稿")
    await env.entries.withdraw_today(z, 3)
    await env.entries.apply_edit(
        z, "1.与县发改委对接项目用地问题\n2.走访慰问困难群众6户", tg(1, 17)
    )
    await env.insert_rows(LogEntry, entry_rows(z, [date(2026, 10, 30)]))
    await env.insert_rows(Absence, [absence_row(z, date(2026, 11, 2), date(2026, 11, 6))])
    return [e.id for e in (*tuesday.entries, *late.entries, *today.entries)]


# (work day, number, text, changed, withdrawn, late) of 张三's November, in log order.
ZHANG_NOVEMBER = [
    (date(2026, 11, 17), 1, "与县发改委对接项目用地问题", False, False, False),
    (date(2026, 11, 17), 2, "走访慰问困难群众6户", True, False, False),
    (date(2026, 11, 19), 1, "参加党组会议", False, False, True),
    (date(2026, 11, 20), 1, "起草年度工作总结初稿", True, False, False),
    (date(2026, 11, 20), 2, "整理档案", False, False, False),
    (date(2026, 11, 20), 3, "误发的一条", False, True, False),
]


def entries_of(view: Any) -> list[tuple[date, int, str, bool, bool, bool]]:
    return [
        (
            e.entry.work_date,
            e.entry.item_no,
            e.entry.text,
            e.changed,
            e.entry.withdrawn,
            e.entry.is_late,
        )
        for e in view.entries
    ]


async def test_review_shows_the_period_with_withdrawn_late_and_edited_entries(
    env: Env, org: Org, review: ReviewService
) -> None:
    ids = await log_of_zhang(env, org)

    view = await review.review(org.boss, "张三")

    assert (view.person.id, view.person.name, view.person.unit_name) == (
        org.zhang,
        "张三",
        CHILD_UNIT,
    )
    assert (view.period, view.page, view.pages, view.total, view.as_file) == (
        NOVEMBER,
        0,
        1,
        6,
        False,
    )
    assert entries_of(view) == ZHANG_NOVEMBER
    assert [e.entry.id for e in view.entries] == ids
    # Due: 14 days and today (logged); the 2nd–6th excused; logged the 17th, 19th and 20th.
    assert view.completeness == Completeness(10, 3, 5, tuple(nov(9, 10, 11, 12, 13, 16, 18)))
    assert view.absences == (AbsenceView(date(2026, 11, 2), date(2026, 11, 6), "出差"),)
    october = await review.review(org.boss, "张三", "10月")
    assert [(e.entry.work_date, e.entry.text) for e in october.entries] == [
        (date(2026, 10, 30), "与县财政局对接项目资金30日")
    ]
    assert await audit_since(env) == [
        ("read", org.boss, org.zhang, "review", {"period": "2026-11", "page": 1}),
        ("read", org.boss, org.zhang, "review", {"period": "2026-10", "page": 1}),
    ]
    with pytest.raises(UsageError) as usage:
        await review.review(org.boss, " \u200b ")
    assert usage.value.reply == zh.REVIEW_USAGE


async def test_review_pages_and_checks_access_on_every_page(env: Env, org: Org) -> None:
    await log_of_zhang(env, org)
    paged = service(env, review_page_size=4)

    first = await paged.review(org.boss, "张三")
    second = await paged.review_page(org.boss, org.zhang, "2026-11", 1)
    clamped = await paged.review_page(org.boss, org.zhang, "2026-11", 7)

    assert (first.page, first.pages, first.total) == (0, 2, 6)
    assert entries_of(first) == ZHANG_NOVEMBER[:4]
    assert (second.page, entries_of(second)) == (1, ZHANG_NOVEMBER[4:])
    assert (clamped.page, entries_of(clamped)) == (1, ZHANG_NOVEMBER[4:])
    assert [detail["page"] for *_, detail in await audit_since(env)] == [1, 2, 2]
    # A button naming someone out of reach, or nobody (forged), is refused like a lost report.
    since = await last_audit_id(env)
    for person_id in (org.wang, 99999):
        with pytest.raises(NotAllowed) as refused:
            await paged.review_page(org.boss, person_id, "2026-11", 0)
        assert refused.value.reply == zh.LOST_REACH
    assert await audit_since(env, since) == [
        ("read_refused", org.boss, org.wang, "review", {"query": ""}),
        ("read_refused", org.boss, None, "review", {"query": ""}),
    ]


async def test_a_long_period_comes_whole_as_a_file(env: Env, org: Org) -> None:
    await log_of_zhang(env, org)
    filed = service(env, review_page_size=4, review_file_over=5)

    view = await filed.review(org.boss, "张三")

    assert (view.as_file, view.total) == (True, 6)
    assert entries_of(view) == ZHANG_NOVEMBER
    [(*_, detail)] = await audit_since(env)
    assert detail == {"period": "2026-11", "page": "file"}
    exactly = service(env, review_page_size=4, review_file_over=6)
    assert (await exactly.review(org.boss, "张三")).as_file is False


# -- /check ------------------------------------------------------------------------------------


async def test_check_stores_a_sample_capped_per_person(env: Env, org: Org) -> None:
    qian = await add_person(env, "c004", "钱八", supervisor=org.boss)
    await env.insert_rows(
        LogEntry,
        entry_rows(org.zhang, nov(9, 10, 11, 12), item_no=2)
        + entry_rows(org.li, nov(9, 10, 11, 12), item_no=2)
        + entry_rows(org.li, nov(13), withdrawn=True)
        + entry_rows(qian, nov(9, 10, 11, 12, 13, 16))
        + entry_rows(org.zhang, [date(2026, 10, 30)])
        + entry_rows(org.director, nov(12)),
    )
    checking = service(env, seed=3, check_sample_size=5, check_max_per_person=2)
    env.clock.advance(minutes=1)

    view = await checking.check(org.boss)

    # 6 live entries this month each; 孙七 left the roster, 赵六 reports to 张三.
    assert (view.period, view.subject, view.candidates, len(view.items)) == (NOVEMBER, None, 18, 5)
    names = [item.person_name for item in view.items]
    assert sorted(names.count(name) for name in ("张三", "李四", "钱八")) == [1, 2, 2]
    check = await env.one(SpotCheck)
    assert (check.id, check.checker_id, check.subject_id, check.period, check.created_at) == (
        view.check_id,
        org.boss,
        None,
        "2026-11",
        env.clock.now(),
    )
    items = await env.rows(SpotCheckItem)
    assert [(i.id, i.position, i.entry_id) for i in items] == [
        (v.item_id, v.position, v.entry.id) for v in view.items
    ]
    assert [i.position for i in items] == [1, 2, 3, 4, 5]
    entries = {e.id: e for e in await env.rows(LogEntry)}
    assert all(entries[i.entry_id].person_id == i.person_id for i in items)
    assert all(not entries[i.entry_id].withdrawn for i in items)
    # Shown in the order of the log: by person, then day.
    shown = [(entries[i.entry_id].person_id, entries[i.entry_id].work_date) for i in items]
    assert shown == sorted(shown)
    assert [(v.verdict, v.remark) for v in view.items] == [(None, None)] * 5
    assert await audit_since(env) == [
        ("read", org.boss, pid, "check", {"check_id": view.check_id, "period": "2026-11"})
        for pid in sorted({org.zhang, org.li, qian})
    ]


async def test_check_takes_more_of_one_person_only_when_nobody_else_has_entries(
    env: Env, org: Org
) -> None:
    await env.insert_rows(LogEntry, entry_rows(org.zhang, nov(9, 10, 11, 12, 13)))
    checking = service(env, check_sample_size=5, check_max_per_person=2)

    named = await checking.check(org.boss, "张三")

    assert (named.subject, named.candidates, len(named.items)) == ("张三", 7, 5)
    assert {item.person_name for item in named.items} == {"张三"}
    assert (await env.one(SpotCheck)).subject_id == org.zhang
    small = await service(env, check_sample_size=3).check(org.boss)
    assert len(small.items) == 3


async def test_check_leans_towards_the_weak_log(env: Env) -> None:
    """A report with few, generic entries is sampled far above its share of entries."""
    boss = await add_person(env, "s200", "吴科长")
    weak = await add_person(env, "c201", "马虎", supervisor=boss)
    steady = await add_person(env, "c202", "踏实", supervisor=boss)
    await env.insert_rows(
        LogEntry,
        entry_rows(weak, nov(16, 17, 18), text="开会")
        + entry_rows(steady, DUE, text="走访{day}号企业了解项目用地需求")
        + entry_rows(steady, nov(16, 17, 18, 19), text="起草{day}号专题会议纪要", item_no=2),
    )
    runs = 120

    async def weak_share(checking: ReviewService) -> float:
        picked = [(await checking.check(boss)).items[0] for _ in range(runs)]
        return sum(item.person_name == "马虎" for item in picked) / runs

    weighted = await weak_share(service(env, seed=11, check_sample_size=1))
    uniform = await weak_share(
        service(
            env,
            seed=11,
            check_sample_size=1,
            check_weight_low_completeness=0.0,
            check_weight_weak_entry=0.0,
        )
    )

    # 3 of 21 entries: about 14% by chance; weighted (7 to 1 per entry) about 54%.
    assert uniform < 0.25 < 0.4 < weighted, (uniform, weighted)
    assert await env.count(SpotCheck) == 2 * runs
    reasons = {
        item.reasons for item in await env.rows(SpotCheckItem, SpotCheckItem.person_id == weak)
    }
    assert reasons == {"generic,repeated,short,low_completeness"}
    assert {
        item.reasons for item in await env.rows(SpotCheckItem, SpotCheckItem.person_id == steady)
    } == {""}


async def test_check_with_nothing_to_sample_stores_nothing(env: Env, org: Org) -> None:
    async with env.sessions() as db:
        await db.execute(update(LogEntry).values(withdrawn=True))
        await db.commit()
    await env.insert_rows(LogEntry, entry_rows(org.zhang, [date(2026, 10, 30)], item_no=3))

    for who in (None, "张三"):
        with pytest.raises(NotFound) as nothing:
            await service(env).check(org.boss, who)
        assert nothing.value.reply == zh.CHECK_NOTHING.format(label="2026年11月")
    assert await stored_counts(env) == dict.fromkeys((m.__tablename__ for m in STORED), 0)
    assert await audit_since(env) == []
    with pytest.raises(NotAllowed) as refused:
        await service(env).check(org.li)
    assert refused.value.reply == zh.NO_REPORTS


async def drawn(env: Env, org: Org) -> tuple[ReviewService, CheckView]:
    """吴科长's spot check of 张三's two entries (the 18th and 19th)."""
    checking = service(env, check_sample_size=2)
    return checking, await checking.check(org.boss, "张三")


async def test_verdicts_change_and_a_poor_one_asks_for_a_remark(env: Env, org: Org) -> None:
    checking, check = await drawn(env, org)
    first, second = (item.item_id for item in check.items)
    env.clock.advance(minutes=2)
    good_at = env.clock.now()

    good = await checking.verdict(org.boss, first, Verdict.GOOD)
    env.clock.advance(minutes=2)
    again = await checking.verdict(org.boss, first, Verdict.GOOD)
    poor = await checking.verdict(org.boss, second, Verdict.POOR)

    assert good.asked is None and again.asked is None
    assert [(i.item_id, i.verdict) for i in poor.items] == [
        (first, Verdict.GOOD),
        (second, Verdict.POOR),
    ]
    assert poor.asked is not None and (poor.asked.item_id, poor.asked.remark) == (second, None)
    assert (poor.check_id, poor.subject, poor.period) == (check.check_id, "张三", NOVEMBER)
    stored = await env.rows(SpotCheckItem)
    assert [(i.verdict, i.verdict_at) for i in stored] == [
        ("good", good_at),
        ("poor", env.clock.now()),
    ]
    changed = await checking.verdict(org.boss, first, Verdict.POOR)
    assert changed.asked is not None and changed.asked.item_id == first
    assert (await env.one(SpotCheckItem, SpotCheckItem.id == first)).verdict == "poor"
    assert await env.count(OutboxMessage) == 0


async def test_a_remark_is_stored_and_sent_to_the_cadre_once(env: Env, org: Org) -> None:
    checking, check = await drawn(env, org)
    item = check.items[1]
    env.clock.advance(minutes=5)

    saved = await checking.remark(org.boss, item.item_id, "  内容过于笼统，\n请写明  做了什么 ")

    remark = "内容过于笼统， 请写明 做了什么"
    assert (saved.item_id, saved.person_name, saved.verdict, saved.remark) == (
        item.item_id,
        "张三",
        Verdict.POOR,
        remark,
    )
    stored = await env.one(SpotCheckItem, SpotCheckItem.id == item.item_id)
    assert (stored.verdict, stored.verdict_at, stored.remark, stored.remarked_at) == (
        "poor",
        env.clock.now(),
        remark,
        env.clock.now(),
    )
    [message] = await env.rows(OutboxMessage)
    assert (message.kind, message.person_id, message.chat_id, message.status) == (
        "remark",
        org.zhang,
        None,
        "pending",
    )
    assert message.text == zh.REMARK_TO_CADRE.format(
        checker="吴科长", date="11月19日", n=1, entry=item.entry.text, remark=remark
    )
    # With a remark on record a 👎 asks for none.
    assert (await checking.verdict(org.boss, item.item_id, Verdict.POOR)).asked is None


async def test_a_remark_with_a_confirmation_queues_the_reply_with_it(env: Env, org: Org) -> None:
    checking, check = await drawn(env, org)
    inbox_id = await env.inbox_row()
    confirm = Confirm(CHAT, lambda item: (f"已记录第{item.position}条", None))

    with processing(inbox_id):
        await checking.remark(org.boss, check.items[0].item_id, "请写明对接结果", confirm)

    assert confirm.queued
    messages = await env.rows(OutboxMessage)
    assert [(m.kind, m.person_id, m.chat_id) for m in messages] == [
        ("remark", org.zhang, None),
        ("reply", None, CHAT),
    ]
    assert messages[1].text == "已记录第1条"
    assert (await env.one(InboxUpdate)).status == "done"


async def test_bad_remarks_and_other_peoples_items_store_nothing(env: Env, org: Org) -> None:
    checking, check = await drawn(env, org)
    item = check.items[0].item_id
    since = await last_audit_id(env)
    before = await stored_counts(env)
    usage = [
        (" \n ", zh.REMARK_USAGE),
        ("。。。", zh.REMARK_USAGE),
        ("问" * 501, zh.REVIEW_TEXT_TOO_LONG.format(limit=500)),
    ]
    for text, reply in usage:
        with pytest.raises(UsageError) as refused:
            await checking.remark(org.boss, item, text)
        assert refused.value.reply == reply
    stale: list[Awaitable[Any]] = [
        checking.verdict(org.sibling, item, Verdict.POOR),
        checking.remark(org.sibling, item, "不认真"),
        checking.verdict(org.boss, item + 1000, Verdict.GOOD),
        checking.remark(org.director, item, "不认真"),
    ]
    for attempt in stale:
        with pytest.raises(NotFound) as refused:
            await attempt
        assert refused.value.reply == zh.STALE_BUTTON
    assert await stored_counts(env) == before
    stored = await env.one(SpotCheckItem, SpotCheckItem.id == item)
    assert (stored.verdict, stored.remark) == (None, None)
    assert await audit_since(env, since) == []
    assert (await checking.remark(org.boss, item, "问" * 500)).remark == "问" * 500


# -- /comment and /comments --------------------------------------------------------------------


async def test_comments_are_stored_and_sent_to_the_cadre(
    env: Env, org: Org, review: ReviewService
) -> None:
    praise = await review.comment(org.boss, "张三", True, " 项目  对接及时 ")
    env.clock.advance(minutes=1)
    criticism = await review.comment(org.boss, "c001", False, "日志过于简略")

    assert (praise.author, praise.subject, praise.positive, praise.text, praise.at) == (
        "吴科长",
        "张三",
        True,
        "项目 对接及时",
        at(20),
    )
    assert (criticism.positive, criticism.text, criticism.at) == (
        False,
        "日志过于简略",
        env.clock.now(),
    )
    rows = await env.rows(Comment)
    assert [(c.id, c.author_id, c.subject_id, c.positive, c.text, c.created_at) for c in rows] == [
        (praise.id, org.boss, org.zhang, True, "项目 对接及时", at(20)),
        (criticism.id, org.boss, org.zhang, False, "日志过于简略", env.clock.now()),
    ]
    messages = await env.rows(OutboxMessage)
    assert [(m.key, m.kind, m.person_id, m.text) for m in messages] == [
        (
            f"comment:{praise.id}",
            "comment",
            org.zhang,
            zh.COMMENT_TO_CADRE_POSITIVE.format(author="吴科长", text="项目 对接及时"),
        ),
        (
            f"comment:{criticism.id}",
            "comment",
            org.zhang,
            zh.COMMENT_TO_CADRE_NEGATIVE.format(author="吴科长", text="日志过于简略"),
        ),
    ]
    assert "日志过于简略" in messages[1].text


async def test_empty_or_too_long_comments_store_nothing(
    env: Env, org: Org, review: ReviewService
) -> None:
    cases = [
        ("", zh.COMMENT_USAGE),
        (" \u3000 ", zh.COMMENT_USAGE),
        ("！！", zh.COMMENT_USAGE),
        ("好" * 501, zh.REVIEW_TEXT_TOO_LONG.format(limit=500)),
    ]
    for text, reply in cases:
        for positive in (True, False):
            with pytest.raises(UsageError) as refused:
                await review.comment(org.boss, "张三", positive, text)
            assert refused.value.reply == reply
    assert (await env.count(Comment), await env.count(OutboxMessage)) == (0, 0)
    assert await audit_since(env) == []


async def test_comment_lists_by_period_own_without_audit(
    env: Env, org: Org, review: ReviewService
) -> None:
    moments = [
        (datetime(2025, 12, 30, 9, tzinfo=SHANGHAI), True, "去年的表扬"),
        (datetime(2026, 10, 9, 9, tzinfo=SHANGHAI), False, "十月的意见"),
        (at(2, 9), True, "十一月的表扬"),
        (at(20, 9), False, "十一月的意见"),
    ]
    for moment, positive, text in moments:
        env.clock.set(moment)
        await review.comment(org.boss, "张三", positive, text)
    await review.comment(org.parent_rater, "张三", True, "党组的表扬")
    await review.comment(org.boss, "李四", True, "别人的表扬")
    env.clock.set(at(20, 10))
    since = await last_audit_id(env)

    own = await review.comments(org.zhang, None)
    november = await review.comments(org.zhang, None, "11月")
    # Typing one's own name or 工号 shows one's own lists too, not a refusal.
    by_name = await review.comments(org.zhang, "张三")
    by_id = await review.comments(org.zhang, "c001")

    def texts(view: Any) -> tuple[list[str], list[str]]:
        return [c.text for c in view.positive], [c.text for c in view.negative]

    assert (own.own, own.person.id, own.period) == (True, org.zhang, Period.year(2026))
    assert texts(own) == (["十一月的表扬", "党组的表扬"], ["十月的意见", "十一月的意见"])
    assert [c.author for c in own.positive] == ["吴科长", "冯书记"]
    assert texts(november) == (["十一月的表扬", "党组的表扬"], ["十一月的意见"])
    assert (by_name, by_id) == (own, own)
    assert await audit_since(env, since) == []

    theirs = await review.comments(org.boss, "张三", "2025")
    rater = await review.comments(org.parent_rater, "c001")

    assert (theirs.own, theirs.person.id, texts(theirs)) == (False, org.zhang, (["去年的表扬"], []))
    assert texts(rater) == texts(own)
    assert await audit_since(env, since) == [
        ("read", org.boss, org.zhang, "comments", {"period": "2025"}),
        ("read", org.parent_rater, org.zhang, "comments", {"period": "2026"}),
    ]


# -- /evaluate ---------------------------------------------------------------------------------


async def test_an_evaluation_per_quarter_and_a_replacement_is_audited(
    env: Env, org: Org, review: ReviewService
) -> None:
    first = await review.evaluate(org.boss, "张三", "政治坚定，工作扎实")
    same = await review.evaluate(org.boss, "张三", " 政治坚定，工作扎实 ")
    env.clock.advance(days=3)
    replaced = await review.evaluate(org.boss, "张三", "政治坚定，敢于担当")

    assert (first.person.id, first.quarter, first.text, first.replaced) == (
        org.zhang,
        "2026Q4",
        "政治坚定，工作扎实",
        False,
    )
    assert (same.replaced, replaced.replaced, replaced.text) == (False, True, "政治坚定，敢于担当")
    stored = await env.one(Evaluation)
    assert (stored.subject_id, stored.quarter, stored.author_id, stored.text) == (
        org.zhang,
        "2026Q4",
        org.boss,
        "政治坚定，敢于担当",
    )
    assert (stored.created_at, stored.updated_at) == (at(20), env.clock.now())
    assert await audit_since(env) == [
        (
            "evaluation_replaced",
            org.boss,
            org.zhang,
            "evaluate",
            {"quarter": "2026Q4", "before": "政治坚定，工作扎实", "after": "政治坚定，敢于担当"},
        )
    ]

    env.clock.set(datetime(2027, 1, 5, 10, tzinfo=SHANGHAI))
    next_quarter = await review.evaluate(org.boss, "张三", "年初开局良好")

    assert (next_quarter.quarter, next_quarter.replaced) == ("2027Q1", False)
    assert [(e.quarter, e.text) for e in await env.rows(Evaluation)] == [
        ("2026Q4", "政治坚定，敢于担当"),
        ("2027Q1", "年初开局良好"),
    ]


async def test_only_the_direct_supervisor_evaluates(
    env: Env, org: Org, review: ReviewService
) -> None:
    await review.evaluate(org.boss, "张三", "工作扎实")
    refusals = [
        (org.director, zh.NOT_IN_REACH.format(name="张三")),
        (org.parent_rater, zh.NO_REACH["evaluate"]),
        (org.admin, zh.NO_REACH["evaluate"]),
        (org.zhang, zh.NOT_IN_REACH.format(name="张三")),  # 张三 supervises 赵六, not himself
    ]
    for viewer, reply in refusals:
        with pytest.raises(NotAllowed) as refused:
            await review.evaluate(viewer, "张三", "改写")
        assert refused.value.reply == reply
    for text, reply in [
        (" ", zh.EVALUATE_USAGE),
        ("评" * 501, zh.REVIEW_TEXT_TOO_LONG.format(limit=500)),
    ]:
        with pytest.raises(UsageError) as refused:
            await review.evaluate(org.boss, "张三", text)
        assert refused.value.reply == reply
    assert [(e.author_id, e.text) for e in await env.rows(Evaluation)] == [(org.boss, "工作扎实")]
    assert await env.audit("evaluation_replaced") == []

    # A new supervisor after a re-import replaces the evaluation, and the trail says so.
    await set_person(env, org.zhang, supervisor_id=org.sibling)
    view = await review.evaluate(org.sibling, "张三", "工作扎实")

    assert view.replaced
    assert [(e.author_id, e.text) for e in await env.rows(Evaluation)] == [
        (org.sibling, "工作扎实")
    ]
    [line] = await env.audit("evaluation_replaced")
    assert (line.actor_person_id, json.loads(line.detail)["before"]) == (org.sibling, "工作扎实")


# -- /help -------------------------------------------------------------------------------------


async def test_powers_come_from_the_database(env: Env, org: Org, review: ReviewService) -> None:
    assert await review.powers(org.boss) == Powers(2, False, False)  # 孙七 left the roster
    assert await review.powers(org.director) == Powers(2, False, False)
    assert await review.powers(org.zhang) == Powers(1, False, False)
    assert await review.powers(org.li) == Powers(0, False, False)
    assert await review.powers(org.parent_rater) == Powers(0, True, False)
    assert await review.powers(org.admin) == Powers(0, False, True)

    await set_person(env, org.li, supervisor_id=None)
    await set_person(env, org.admin, roles="admin,rater")

    assert await review.powers(org.boss) == Powers(1, False, False)
    assert await review.powers(org.admin) == Powers(0, True, True)
