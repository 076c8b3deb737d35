"""RatingService without Telegram: /rate within the 好 quota, /quota, per-unit caps, the audit
of changed ratings and the race for the last 好, on SQLite and PostgreSQL.

The clock stands at Friday 2026-11-20 10:00 in Shanghai (2026Q4). The organisation:

    县发改委 (rater 陈书记 r001; cadres c001…c006, 6 people with the rater → 40 % = 2 好)
      └ 县发改委项目办 (cadres p001…p003: 3 people → 1 好)
    县财政局 (cadre f001: another rater's unit)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from scoring.grades import Rating, Rounding, ScoringRules
from services import zh
from services.errors import NotAllowed, NotFound, UsageError
from services.rating import QuotaFull, RatingService, parse_percent
from storage.models import AuditLog, Person, RatingCap, Unit
from storage.models import Rating as RatingRow
from storage.scoring import ScoringRepository
from tests.services_fixtures import OTHER_UNIT, UNIT, Env

pytest_plugins = ("tests.services_fixtures",)

SUB_UNIT = "县发改委项目办"
QUARTER = "2026Q4"


@dataclass
class Org:
    rater: int
    cadres: list[int]  # c001…c005 in 县发改委 (the rater is the unit's sixth person)
    sub: list[int]  # p001…p003 in 县发改委项目办
    other: int  # f001 in 县财政局


async def build_org(env: Env) -> Org:
    parent = await env.unit(UNIT)
    child = await env.unit(SUB_UNIT)
    await env.unit(OTHER_UNIT)
    async with env.sessions() as db:
        await db.execute(update(Unit).where(Unit.id == child).values(parent_id=parent))
        await db.commit()
    rater = await env.person("r001", "陈书记")
    cadres = [await env.person(f"c00{i}", f"干部{i}") for i in range(1, 6)]
    sub = [await env.person(f"p00{i}", f"项目{i}", unit=SUB_UNIT) for i in range(1, 4)]
    other = await env.person("f001", "财政干部", unit=OTHER_UNIT)
    async with env.sessions() as db:
        await db.execute(update(Person).where(Person.id == rater).values(roles="cadre,rater"))
        await db.commit()
    return Org(rater, cadres, sub, other)


@pytest.fixture
async def org(env: Env) -> Org:
    return await build_org(env)


@pytest.fixture
def rating(env: Env) -> RatingService:
    return env.services.rating


async def goods(env: Env, unit: str = UNIT) -> int:
    async with env.sessions() as db:
        return int(
            await db.scalar(
                select(func.count())
                .select_from(RatingRow)
                .join(Unit, Unit.id == RatingRow.unit_id)
                .where(Unit.name == unit, RatingRow.grade == "good", RatingRow.quarter == QUARTER)
            )
            or 0
        )


async def test_a_rating_is_stored_and_the_quota_shown(env: Env, org: Org, rating: RatingService):
    view = await rating.rate(org.rater, "干部1", "好")
    assert (view.person.name, view.quarter, view.rating, view.previous) == (
        "干部1",
        QUARTER,
        Rating.GOOD,
        None,
    )
    quota = view.quota.quota
    assert (quota.cadres, quota.limit, quota.used, quota.left) == (6, 2, 1, 1)
    row = await env.one(RatingRow)
    assert (row.person_id, row.quarter, row.grade, row.rater_id) == (
        org.cadres[0],
        QUARTER,
        "good",
        org.rater,
    )


async def test_the_next_good_beyond_the_quota_is_refused_with_the_quota(
    env: Env, org: Org, rating: RatingService
):
    await rating.rate(org.rater, "干部1", "好")
    await rating.rate(org.rater, "干部2", "好")
    with pytest.raises(QuotaFull) as refused:
        await rating.rate(org.rater, "干部3", "好")
    assert "名额已用完" in refused.value.reply
    assert "参评6人，上限40%" in refused.value.reply
    assert "最多2人 已用2 剩余0" in refused.value.reply
    assert await goods(env) == 2
    assert await env.count(RatingRow) == 2
    # Anything but 好 still goes, and freeing a place lets the next 好 in.
    await rating.rate(org.rater, "干部3", "较好")
    freed = await rating.rate(org.rater, "干部1", "一般")
    assert (freed.quota.quota.used, freed.quota.quota.left) == (1, 1)
    view = await rating.rate(org.rater, "干部3", "好")
    assert view.previous is Rating.FAIR
    assert await goods(env) == 2


async def test_each_unit_has_its_own_quota(env: Env, org: Org, rating: RatingService):
    """The sub-unit's 3 cadres give 1 好 (40 % of 3 rounded down), apart from the parent's."""
    await rating.rate(org.rater, "项目1", "好")
    with pytest.raises(QuotaFull):
        await rating.rate(org.rater, "项目2", "好")
    view = await rating.rate(org.rater, "干部1", "好")
    assert view.quota.unit_name == UNIT
    quotas = await rating.quota(org.rater)
    assert [(q.unit_name, q.quota.limit, q.quota.used) for q in quotas.units] == [
        (UNIT, 2, 1),
        (SUB_UNIT, 1, 1),
    ]


async def test_changing_a_rating_is_audited_and_keeping_it_is_not(
    env: Env, org: Org, rating: RatingService
):
    await rating.rate(org.rater, "干部1", "较好")
    same = await rating.rate(org.rater, "c001", "较好")
    assert same.previous is Rating.FAIR
    assert await env.audit("rating_changed") == []
    changed = await rating.rate(org.rater, "干部1", "差")
    assert (changed.previous, changed.rating) == (Rating.FAIR, Rating.POOR)
    (line,) = await env.audit("rating_changed")
    assert (line.actor_person_id, line.subject_person_id, line.command) == (
        org.rater,
        org.cadres[0],
        "rate",
    )
    assert '"before": "fair"' in line.detail and '"after": "poor"' in line.detail
    assert (await env.one(RatingRow)).grade == "poor"


async def test_a_past_quarter_can_be_rated_and_counts_on_its_own(
    env: Env, org: Org, rating: RatingService
):
    await rating.rate(org.rater, "干部1", "好", "2026Q3")
    view = await rating.rate(org.rater, "干部2", "好", "上季度")
    assert (view.quarter, view.quota.quota.used, view.quota.quota.left) == ("2026Q3", 2, 0)
    # Q3 is full now, Q4 is untouched.
    with pytest.raises(QuotaFull):
        await rating.rate(org.rater, "干部3", "好", "2026Q3")
    assert (await rating.quota(org.rater)).units[0].quota.used == 0


@pytest.mark.parametrize(
    ("who", "word", "period", "error", "reply"),
    [
        ("干部1", "优", None, UsageError, zh.RATE_BAD_GRADE.format(word="优")),
        ("干部1", "好", "2027Q1", UsageError, zh.FUTURE_PERIOD.format(label="2027Q1")),
        ("干部1", "好", "2026-13", UsageError, zh.BAD_PERIOD.format(text="2026-13")),
        ("干部1", "好", "2026-10", UsageError, zh.RATE_QUARTER_ONLY.format(text="2026-10")),
        ("干部1", "好", "2026", UsageError, zh.RATE_QUARTER_ONLY.format(text="2026")),
        ("陈书记", "好", None, UsageError, zh.RATE_SELF),
        ("r001", "好", None, UsageError, zh.RATE_SELF),
        ("财政干部", "好", None, NotAllowed, zh.NOT_IN_REACH.format(name="财政干部")),
        ("不存在", "好", None, NotAllowed, zh.NOT_IN_REACH.format(name="不存在")),
        ("", "好", None, UsageError, zh.RATE_USAGE),
    ],
)
async def test_bad_input_is_refused_and_nothing_stored(
    env: Env,
    org: Org,
    rating: RatingService,
    who: str,
    word: str,
    period: str | None,
    error: type[Exception],
    reply: str,
):
    with pytest.raises(error) as refused:
        await rating.rate(org.rater, who, word, period)
    assert refused.value.reply == reply  # type: ignore[attr-defined]
    assert await env.count(RatingRow) == 0
    assert await env.count(AuditLog, AuditLog.action == "rating_changed") == 0


async def test_only_raters_rate(env: Env, org: Org, rating: RatingService):
    with pytest.raises(NotAllowed) as refused:
        await rating.rate(org.cadres[0], "干部2", "好")
    assert refused.value.reply == zh.RATE_NOT_RATER
    with pytest.raises(NotAllowed):
        await rating.quota(org.cadres[0])
    assert await env.count(RatingRow) == 0


async def test_a_unit_cap_for_a_quarter_overrides_the_default(
    env: Env, org: Org, rating: RatingService
):
    view = await rating.set_cap(UNIT, QUARTER, "70%", "综合考评前三名")
    assert (view.percent, view.previous, view.quota.limit) == (70, None, 4)
    for n in range(1, 5):
        await rating.rate(org.rater, f"干部{n}", "好")
    with pytest.raises(QuotaFull) as refused:
        await rating.rate(org.rater, "干部5", "好")
    assert "上限70%（本季度单独核定）" in refused.value.reply
    # Another quarter keeps the default.
    q3 = await rating.quota(org.rater, "2026Q3")
    assert [u.quota.percent for u in q3.units] == [40, 40]
    again = await rating.set_cap(UNIT, QUARTER, "60", "")
    assert (again.previous, again.quota.limit, again.quota.used) == (70, 3, 4)
    assert len(await env.audit("rating_cap_set")) == 2


@pytest.mark.parametrize(
    ("percent", "quarter", "unit", "reply"),
    [
        ("120", QUARTER, UNIT, zh.CAP_BAD_PERCENT.format(text="120")),
        ("-5", QUARTER, UNIT, zh.CAP_BAD_PERCENT.format(text="-5")),
        ("七十", QUARTER, UNIT, zh.CAP_BAD_PERCENT.format(text="七十")),
        ("70", "2026-11", UNIT, zh.RATE_QUARTER_ONLY.format(text="2026-11")),
        ("70", QUARTER, "没有的单位", zh.CAP_NO_UNIT.format(name="没有的单位")),
    ],
)
async def test_a_bad_cap_is_refused_and_nothing_stored(
    env: Env, org: Org, rating: RatingService, percent: str, quarter: str, unit: str, reply: str
):
    with pytest.raises((UsageError, NotFound)) as refused:
        await rating.set_cap(unit, quarter, percent, "")
    assert refused.value.reply == reply  # type: ignore[attr-defined]
    assert await env.count(RatingCap) == 0


@pytest.mark.parametrize(
    ("text", "percent"),
    [("70", 70), ("70%", 70), ("70％", 70), ("0.7", 70), ("0", 0), ("100", 100), ("33.3", 33)],
)
def test_cap_percentages_are_read(text: str, percent: int) -> None:
    assert parse_percent(text) == percent


async def test_rounding_is_configurable(env: Env, org: Org):
    nearest = RatingService(
        env.wiring.uow,
        env.clock,
        env.services.entries.policy,
        ScoringRules(rounding=Rounding.NEAREST),
        env.services.review,
    )
    # 县发改委: 40 % of 6 is 2.4 → 2 (up: 3); 县发改委项目办: 40 % of 3 is 1.2 → 1 (up: 2).
    assert [u.quota.limit for u in (await nearest.quota(org.rater)).units] == [2, 1]
    up = RatingService(
        env.wiring.uow,
        env.clock,
        env.services.entries.policy,
        ScoringRules(rounding=Rounding.UP),
        env.services.review,
    )
    assert [u.quota.limit for u in (await up.quota(org.rater)).units] == [3, 2]


async def test_raters_racing_for_the_last_good_cannot_both_get_it(
    env: Env, org: Org, rating: RatingService, monkeypatch: pytest.MonkeyPatch
):
    """Five concurrent 好 for a unit with one place left: exactly one is stored.

    Each transaction lingers after counting the unit's 好, so without the unit's lock all five
    would count one 好 and all five would be stored.
    """
    counted = ScoringRepository.goods

    async def slow_goods(self, unit_ids, quarter):  # type: ignore[no-untyped-def]
        found = await counted(self, unit_ids, quarter)
        await asyncio.sleep(0.05)
        return found

    monkeypatch.setattr(ScoringRepository, "goods", slow_goods)
    second = await env.person("r002", "副书记")
    async with env.sessions() as db:
        await db.execute(update(Person).where(Person.id == second).values(roles="cadre,rater"))
        await db.commit()
    await rating.rate(org.rater, "干部1", "好")
    # The second rater joined the unit: 7 people, still 2 好.
    results = await asyncio.gather(
        *(
            rating.rate(rater, who, "好")
            for rater, who in [
                (org.rater, "干部2"),
                (second, "干部3"),
                (org.rater, "干部4"),
                (second, "干部5"),
                (org.rater, "c005"),
            ]
        ),
        return_exceptions=True,
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, QuotaFull)]
    assert (len(stored), len(refused)) == (1, 4), results
    assert await goods(env) == 2


# Ratings and changes in any order, one after another: 好 never goes over the quota.
OPS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=4), st.sampled_from(["好", "较好", "一般", "差"])),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=OPS)
async def test_the_quota_is_never_exceeded_in_any_order(
    env: Env, org: Org, rating: RatingService, ops: list[tuple[int, str]]
):
    async with env.sessions() as db:
        await db.execute(RatingRow.__table__.delete())
        await db.commit()
    for index, word in ops:
        try:
            await rating.rate(org.rater, f"干部{index + 1}", word)
        except QuotaFull:
            assert word == "好"
        assert await goods(env) <= 2


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=st.lists(OPS, min_size=1, max_size=3))
async def test_the_quota_is_never_exceeded_by_concurrent_ratings(
    env: Env,
    org: Org,
    rating: RatingService,
    monkeypatch: pytest.MonkeyPatch,
    batches: list[list[tuple[int, str]]],
):
    """Batches of ratings and changes run at once (each lingering after its count): 好 stays
    within the quota after every batch, and a refusal is only ever for a 好."""
    counted = ScoringRepository.goods

    async def slow_goods(self, unit_ids, quarter):  # type: ignore[no-untyped-def]
        found = await counted(self, unit_ids, quarter)
        await asyncio.sleep(0.005)
        return found

    monkeypatch.setattr(ScoringRepository, "goods", slow_goods)
    async with env.sessions() as db:
        await db.execute(RatingRow.__table__.delete())
        await db.commit()
    for batch in batches:
        results = await asyncio.gather(
            *(rating.rate(org.rater, f"干部{i + 1}", word) for i, word in batch),
            return_exceptions=True,
        )
        for (_, word), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                assert isinstance(result, QuotaFull) and word == "好", result
        assert await goods(env) <= 2
