"""Raters' use cases: /rate within the 好 quota, /quota, and the admins' per-unit caps.

A rater (党委/党组, role `rater`) rates the cadres of their unit and of every unit below it,
one rating per cadre and quarter. Each cadre counts against the quota of their own unit. The
quota is checked and the rating written in one transaction that holds the unit's lock (on
PostgreSQL a row lock on the unit), so two raters racing for the last 好 cannot both get it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from scoring.dates import Period, parse_period
from scoring.grades import (
    Quota,
    Rating,
    ScoringRules,
    good_quota,
    parse_rating,
    rating_allowed,
    valid_cap_percent,
)
from scoring.text import clean_text, has_content
from services import zh
from services.clock import Clock
from services.entries import LogPolicy
from services.errors import DomainError, NotAllowed, NotFound, UsageError
from services.outbox import Confirm, commit
from services.periods import period_asked
from services.review import Ground, ReviewService
from storage.models import Person, RatingCap, Role
from storage.models import Rating as RatingRow
from storage.repositories import PeopleScope, PersonCard
from storage.scoring import GradedPerson
from storage.uow import UnitOfWork, UowFactory

RATE_GROUNDS = frozenset({Ground.UNITS})
# A cap's reason is shown in /quota; keep it short.
CAP_REASON_LIMIT = 200


class QuotaFull(DomainError):
    """A 好 that would break the unit's cap; the reply shows the quota used and left."""


@dataclass(frozen=True)
class UnitQuota:
    unit_id: int
    unit_name: str
    quota: Quota


@dataclass(frozen=True)
class RatingView:
    person: PersonCard
    quarter: str
    rating: Rating
    previous: Rating | None
    quota: UnitQuota


@dataclass(frozen=True)
class QuotaView:
    quarter: str
    units: tuple[UnitQuota, ...]


@dataclass(frozen=True)
class RatingSheet:
    """The web page's ratings: every unit's quota, and one unit's cadres with their rating."""

    quarter: str
    units: tuple[UnitQuota, ...]
    unit_id: int | None  # the unit whose cadres are listed
    people: tuple[tuple[GradedPerson, Rating | None], ...]


@dataclass(frozen=True)
class CapView:
    unit_name: str
    quarter: str
    percent: int
    previous: int | None
    quota: Quota


def parse_percent(text: str) -> int | None:
    """A whole percentage from "70", "70%", "70％" or "0.7"; None when it cannot be read."""
    text = clean_text(text).strip().rstrip("%％").strip()
    if not re.fullmatch(r"\d{1,3}(\.\d+)?", text):
        return None
    value = float(text)
    if value < 1 and "." in text:
        value *= 100
    return round(value) if valid_cap_percent(value) else None


class RatingService:
    """What raters do: rate cadres within the quota, and see the quota."""

    def __init__(
        self,
        uow: UowFactory,
        clock: Clock,
        policy: LogPolicy,
        rules: ScoringRules,
        review: ReviewService,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.rules = rules
        self.review = review  # who reaches whom, as every other command decides it

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    def quarter(self, text: str | None) -> Period:
        """The quarter a rating is for: this one by default; months and years are refused."""
        return period_asked(text, self.today(), "quarter", ("quarter",), zh.RATE_QUARTER_ONLY)

    async def _rater(self, uow: UnitOfWork, person_id: int) -> Person:
        person = await self.review.viewer(uow, person_id)
        if Role.RATER not in person.role_set:
            raise NotAllowed(zh.RATE_NOT_RATER)
        return person

    async def _quota(self, uow: UnitOfWork, unit_id: int, quarter: str) -> Quota:
        cadres = (await uow.scoring.headcounts([unit_id])).get(unit_id, 0)
        used = (await uow.scoring.goods([unit_id], quarter)).get(unit_id, 0)
        cap = await uow.scoring.cap(unit_id, quarter)
        percent = self.rules.good_cap_percent if cap is None else cap.percent
        return good_quota(cadres, used, percent, self.rules.rounding, cap is not None)

    async def rate(
        self,
        rater_id: int,
        who: str,
        word: str,
        period_text: str | None = None,
        confirm: Confirm[RatingView] | None = None,
    ) -> RatingView:
        """Rate a cadre 好/较好/一般/差 for a quarter; a 好 beyond the quota is refused."""
        who = " ".join(clean_text(who).split())
        if not has_content(who) or not word:
            raise UsageError(zh.RATE_USAGE)
        rating = parse_rating(word)
        if rating is None:
            raise UsageError(zh.RATE_BAD_GRADE.format(word=word[:10]))
        quarter = self.quarter(period_text).label
        now = self.clock.now()
        async with self.uow() as uow:
            rater = await self._rater(uow, rater_id)
            if who in (rater.name, rater.roster_id):
                raise UsageError(zh.RATE_SELF)
            person = await self.review.resolve(uow, rater, RATE_GROUNDS, "rate", who)
            await uow.scoring.lock_unit(person.unit_id)
            row = await uow.scoring.rating(person.id, quarter)
            previous = Rating(row.grade) if row is not None else None
            # A cadre moved to another unit since: the old unit's place is given back.
            if row is not None and row.unit_id != person.unit_id and previous is Rating.GOOD:
                previous = None
            quota = await self._quota(uow, person.unit_id, quarter)
            unit = UnitQuota(person.unit_id, person.unit_name, quota)
            if not rating_allowed(quota, previous, rating):
                raise QuotaFull(
                    zh.RATE_QUOTA_FULL.format(
                        name=person.name, quarter=quarter, quota=zh.quota_line(unit)
                    )
                )
            if row is None:
                await uow.scoring.add(
                    RatingRow(
                        person_id=person.id,
                        quarter=quarter,
                        unit_id=person.unit_id,
                        grade=rating.value,
                        rater_id=rater_id,
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif row.grade != rating.value or row.unit_id != person.unit_id:
                await uow.audit.record(
                    now,
                    "rating_changed",
                    actor_person_id=rater_id,
                    subject_person_id=person.id,
                    command="rate",
                    detail={
                        "quarter": quarter,
                        "before": row.grade,
                        "after": rating.value,
                        "before_rater": row.rater_id,
                    },
                )
                row.grade, row.unit_id, row.rater_id, row.updated_at = (
                    rating.value,
                    person.unit_id,
                    rater_id,
                    now,
                )
            # The quota after the change follows from the one read under the lock.
            used = quota.used + (rating is Rating.GOOD) - (previous is Rating.GOOD)
            after = replace(unit, quota=replace(quota, used=used))
            view = RatingView(person, quarter, rating, previous, after)
            return await commit(uow, confirm, view, now)

    async def quota(
        self,
        viewer_id: int,
        period_text: str | None = None,
        confirm: Confirm[QuotaView] | None = None,
    ) -> QuotaView:
        """The 好 quota of every unit the rater rates: cadres, cap, used and left."""
        quarter = self.quarter(period_text).label
        async with self.uow() as uow:
            rater = await self._rater(uow, viewer_id)
            unit_ids = await uow.people.unit_subtree(rater.unit_id)
            view = QuotaView(quarter, tuple(await self._quotas(uow, unit_ids, quarter)))
            return await commit(uow, confirm, view, self.clock.now())

    async def sheet(self, viewer_id: int, unit_id: int | None = None) -> RatingSheet:
        """This quarter's quotas of the rater's units and one unit's cadres (the first by
        name unless `unit_id` names another of them) with the rating each has."""
        quarter = self.quarter(None).label
        async with self.uow() as uow:
            rater = await self._rater(uow, viewer_id)
            unit_ids = await uow.people.unit_subtree(rater.unit_id)
            if unit_id is not None and unit_id not in unit_ids:
                raise NotAllowed(zh.WEB_NOT_YOUR_UNIT)
            units = tuple(await self._quotas(uow, unit_ids, quarter))
            shown = unit_id if unit_id is not None else (units[0].unit_id if units else None)
            if shown is None:
                return RatingSheet(quarter, units, None, ())
            scope = PeopleScope(unit_ids=(shown,), active_only=True)
            people = [p for p in await uow.scoring.people(scope) if p.id != viewer_id]
            grades = await uow.scoring.ratings_in(scope, [quarter])
        rows = tuple(
            (person, Rating(grades[person.id][quarter]) if person.id in grades else None)
            for person in people
        )
        return RatingSheet(quarter, units, shown, rows)

    async def _quotas(self, uow: UnitOfWork, unit_ids: list[int], quarter: str) -> list[UnitQuota]:
        heads = await uow.scoring.headcounts(unit_ids)
        goods = await uow.scoring.goods(unit_ids, quarter)
        caps = {cap.unit_id: cap.percent for cap in await uow.scoring.caps(quarter)}
        names = await uow.scoring.unit_names(unit_ids)
        quotas = [
            UnitQuota(
                unit_id,
                names[unit_id],
                good_quota(
                    heads.get(unit_id, 0),
                    goods.get(unit_id, 0),
                    caps.get(unit_id, self.rules.good_cap_percent),
                    self.rules.rounding,
                    unit_id in caps,
                ),
            )
            for unit_id in unit_ids
        ]
        return sorted(quotas, key=lambda q: q.unit_name)

    async def set_cap(
        self, unit_name: str, quarter_text: str, percent_text: str, reason: str
    ) -> CapView:
        """An admin's cap for one unit and quarter (e.g. 70 % for a top-ranked unit)."""
        percent = parse_percent(percent_text)
        if percent is None:
            raise UsageError(zh.CAP_BAD_PERCENT.format(text=percent_text[:20]))
        period = parse_period(quarter_text, date.max)
        if period is None or period.kind != "quarter":
            raise UsageError(zh.RATE_QUARTER_ONLY.format(text=quarter_text[:30]))
        reason = " ".join(clean_text(reason).split())[:CAP_REASON_LIMIT]
        now = self.clock.now()
        async with self.uow() as uow:
            unit = await uow.scoring.unit_by_name(unit_name.strip())
            if unit is None:
                raise NotFound(zh.CAP_NO_UNIT.format(name=unit_name[:50]))
            await uow.scoring.lock_unit(unit.id)
            cap = await uow.scoring.cap(unit.id, period.label)
            previous = cap.percent if cap is not None else None
            if cap is None:
                await uow.scoring.add(
                    RatingCap(
                        unit_id=unit.id,
                        quarter=period.label,
                        percent=percent,
                        reason=reason,
                        created_at=now,
                    )
                )
            else:
                cap.percent, cap.reason = percent, reason
                await uow.scoring.flush()
            await uow.audit.record(
                now,
                "rating_cap_set",
                detail={
                    "unit": unit.name,
                    "quarter": period.label,
                    "before": previous,
                    "after": percent,
                    "reason": reason,
                },
            )
            quota = await self._quota(uow, unit.id, period.label)
            await uow.commit()
        return CapView(unit.name, period.label, percent, previous, quota)
