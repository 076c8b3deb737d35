"""Ratings, their caps and the set-based reads of the grade export; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Comment,
    Evaluation,
    FiveTwoForm,
    OutboxMessage,
    OutboxStatus,
    Person,
    Rating,
    RatingCap,
    Unit,
)
from storage.repositories import PeopleScope, _dialect

# Outbox kinds that remind a cadre to log a day (services.reminders): a day missed after one
# of these went out counts as missed "after having been reminded".
DAILY_REMINDER_KINDS = ("daily", "daily-nudge", "daily-later")


@dataclass(frozen=True, slots=True)
class GradedPerson:
    """A roster row as the grade export lists it."""

    id: int
    roster_id: str
    name: str
    position: str
    unit_id: int
    unit_name: str
    category: str | None
    joined_on: date | None


@dataclass(frozen=True, slots=True)
class FormFacts:
    """A cadre's 5+2 form of one quarter: submitted or not, and the self-assessment."""

    submitted: bool
    self_assessment: str | None


class ScoringRepository:
    """Reads and writes of ratings, caps and the grade export's facts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- ratings and the 好 quota -----------------------------------------------------------

    async def lock_unit(self, unit_id: int) -> None:
        """Serialise ratings of one unit until commit, so two raters cannot both take the
        last 好. PostgreSQL locks the unit's row; SQLite's units of work already take turns
        in-process, and a second process's write fails on the stale snapshot instead."""
        if _dialect(self.session) == "postgresql":
            await self.session.execute(select(Unit.id).where(Unit.id == unit_id).with_for_update())

    async def rating(self, person_id: int, quarter: str) -> Rating | None:
        return await self.session.scalar(
            select(Rating).where(Rating.person_id == person_id, Rating.quarter == quarter)
        )

    async def add(self, row: Rating | RatingCap) -> None:
        self.session.add(row)
        await self.session.flush()

    async def flush(self) -> None:
        """Write changed rows now (the sessions do not autoflush): counts read them next."""
        await self.session.flush()

    async def cap(self, unit_id: int, quarter: str) -> RatingCap | None:
        return await self.session.scalar(
            select(RatingCap).where(RatingCap.unit_id == unit_id, RatingCap.quarter == quarter)
        )

    async def caps(self, quarter: str) -> Sequence[RatingCap]:
        return (
            await self.session.scalars(
                select(RatingCap).where(RatingCap.quarter == quarter).order_by(RatingCap.unit_id)
            )
        ).all()

    async def headcounts(self, unit_ids: Sequence[int]) -> dict[int, int]:
        """Active people per unit: the cadres a unit's 好 quota is a share of."""
        rows = await self.session.execute(
            select(Person.unit_id, func.count())
            .where(Person.unit_id.in_(unit_ids), Person.active)
            .group_by(Person.unit_id)
        )
        return {unit_id: count for unit_id, count in rows.all()}

    async def goods(self, unit_ids: Sequence[int], quarter: str) -> dict[int, int]:
        """好 ratings per unit in a quarter (of people still active)."""
        rows = await self.session.execute(
            select(Rating.unit_id, func.count())
            .join(Person, Person.id == Rating.person_id)
            .where(
                Rating.unit_id.in_(unit_ids),
                Rating.quarter == quarter,
                Rating.grade == "good",
                Person.active,
            )
            .group_by(Rating.unit_id)
        )
        return {unit_id: count for unit_id, count in rows.all()}

    async def unit_names(self, unit_ids: Sequence[int]) -> dict[int, str]:
        rows = await self.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))
        return {unit_id: name for unit_id, name in rows.all()}

    async def unit_by_name(self, name: str) -> Unit | None:
        return await self.session.scalar(select(Unit).where(Unit.name == name))

    # -- the grade export: one query per fact, whatever the number of people ----------------

    async def people(self, scope: PeopleScope) -> list[GradedPerson]:
        rows = await self.session.execute(
            select(
                Person.id,
                Person.roster_id,
                Person.name,
                Person.position,
                Person.unit_id,
                Unit.name,
                Unit.category,
                Person.joined_on,
            )
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.id.in_(scope.ids()))
            .order_by(Unit.name, Person.roster_id)
        )
        return [GradedPerson(*row) for row in rows.all()]

    async def ratings_in(
        self, scope: PeopleScope, quarters: Sequence[str]
    ) -> dict[int, dict[str, str]]:
        rows = await self.session.execute(
            select(Rating.person_id, Rating.quarter, Rating.grade).where(
                Rating.person_id.in_(scope.ids()), Rating.quarter.in_(quarters)
            )
        )
        found: dict[int, dict[str, str]] = {}
        for person_id, quarter, grade in rows.all():
            found.setdefault(person_id, {})[quarter] = grade
        return found

    async def comment_counts(
        self, scope: PeopleScope, start: datetime, end: datetime
    ) -> dict[int, tuple[int, int]]:
        """(positive, negative) comments per person made in [start, end)."""
        rows = await self.session.execute(
            select(Comment.subject_id, Comment.positive, func.count())
            .where(
                Comment.subject_id.in_(scope.ids()),
                Comment.created_at >= start,
                Comment.created_at < end,
            )
            .group_by(Comment.subject_id, Comment.positive)
        )
        counts: dict[int, tuple[int, int]] = {}
        for person_id, positive, count in rows.all():
            plus, minus = counts.get(person_id, (0, 0))
            counts[person_id] = (plus + count, minus) if positive else (plus, minus + count)
        return counts

    async def forms_in(
        self, scope: PeopleScope, quarters: Sequence[str]
    ) -> dict[int, dict[str, FormFacts]]:
        rows = await self.session.execute(
            select(
                FiveTwoForm.person_id,
                FiveTwoForm.quarter,
                FiveTwoForm.submitted_at,
                FiveTwoForm.self_assessment,
            ).where(FiveTwoForm.person_id.in_(scope.ids()), FiveTwoForm.quarter.in_(quarters))
        )
        found: dict[int, dict[str, FormFacts]] = {}
        for person_id, quarter, submitted_at, self_assessment in rows.all():
            found.setdefault(person_id, {})[quarter] = FormFacts(
                submitted_at is not None, self_assessment
            )
        return found

    async def evaluations_in(
        self, scope: PeopleScope, quarters: Sequence[str]
    ) -> dict[int, dict[str, str]]:
        rows = await self.session.execute(
            select(Evaluation.subject_id, Evaluation.quarter, Evaluation.text).where(
                Evaluation.subject_id.in_(scope.ids()), Evaluation.quarter.in_(quarters)
            )
        )
        found: dict[int, dict[str, str]] = {}
        for person_id, quarter, text in rows.all():
            found.setdefault(person_id, {})[quarter] = text
        return found

    async def reminded_days(
        self, scope: PeopleScope, start: date, end: date
    ) -> dict[int, set[date]]:
        """The days in [start, end] for which each person was sent a daily reminder."""
        rows = await self.session.execute(
            select(OutboxMessage.person_id, OutboxMessage.reminds_of)
            .where(
                and_(
                    OutboxMessage.person_id.in_(scope.ids()),
                    OutboxMessage.kind.in_(DAILY_REMINDER_KINDS),
                    OutboxMessage.status == OutboxStatus.SENT.value,
                    OutboxMessage.reminds_of >= start,
                    OutboxMessage.reminds_of <= end,
                )
            )
            .distinct()
        )
        found: dict[int, set[date]] = {}
        for person_id, day in rows.all():
            found.setdefault(person_id, set()).add(day)
        return found
