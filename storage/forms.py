"""The forms' repository: dialogues in progress, monthly summaries (月小结) and 5+2 forms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation, FiveTwoForm, MonthlySummary

# One summary row per person and month, whoever (the cadre, the monthly job) comes first.
_INSERT_SUMMARY = {
    name: dialect.insert(MonthlySummary).on_conflict_do_nothing(
        index_elements=["person_id", "month"]
    )
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


class FormRepository:
    """Reads and writes of the forms; flushes when it must, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- conversations (one per person) ------------------------------------------------------

    async def conversation(self, person_id: int) -> Conversation | None:
        return await self.session.get(Conversation, person_id)

    async def conversation_people(self) -> set[int]:
        """Everyone with a dialogue row (active or expired)."""
        return set((await self.session.scalars(select(Conversation.person_id))).all())

    async def save_conversation(self, person_id: int, kind: str, state: str, at: datetime) -> None:
        """Start or move on the person's dialogue; a dialogue of another kind is replaced."""
        row = await self.session.get(Conversation, person_id)
        if row is None:
            self.session.add(
                Conversation(person_id=person_id, kind=kind, state=state, updated_at=at)
            )
        else:
            row.kind, row.state, row.updated_at = kind, state, at
        await self.session.flush()

    async def end_conversation(self, person_id: int) -> None:
        await self.session.execute(delete(Conversation).where(Conversation.person_id == person_id))

    # -- 月小结 --------------------------------------------------------------------------------

    async def summary(self, person_id: int, month: str) -> MonthlySummary | None:
        return await self.session.scalar(
            select(MonthlySummary).where(
                MonthlySummary.person_id == person_id, MonthlySummary.month == month
            )
        )

    async def ensure_summary(
        self, person_id: int, month: str, draft: str, at: datetime
    ) -> MonthlySummary:
        """The person's summary row of the month, created with `draft` if there was none."""
        dialect = "postgresql" if self.session.bind.dialect.name == "postgresql" else "sqlite"
        await self.session.execute(
            _INSERT_SUMMARY[dialect],
            {
                "person_id": person_id,
                "month": month,
                "draft": draft,
                "created_at": at,
                "updated_at": at,
            },
        )
        row = await self.summary(person_id, month)
        assert row is not None
        return row

    # -- 5+2 实绩登记表 --------------------------------------------------------------------------

    async def fivetwo(self, person_id: int, quarter: str) -> FiveTwoForm | None:
        return await self.session.scalar(
            select(FiveTwoForm).where(
                FiveTwoForm.person_id == person_id, FiveTwoForm.quarter == quarter
            )
        )

    async def add_fivetwo(self, form: FiveTwoForm) -> None:
        """A new form row, written at the commit (its content may still be set until then)."""
        self.session.add(form)

    # -- who is done (for the scheduled notices) ---------------------------------------------

    async def confirmed_summaries(self, month: str) -> set[int]:
        rows = await self.session.scalars(
            select(MonthlySummary.person_id).where(
                MonthlySummary.month == month, MonthlySummary.confirmed_at.is_not(None)
            )
        )
        return set(rows.all())

    async def submitted_fivetwo(self, quarter: str) -> set[int]:
        rows = await self.session.scalars(
            select(FiveTwoForm.person_id).where(
                FiveTwoForm.quarter == quarter, FiveTwoForm.submitted_at.is_not(None)
            )
        )
        return set(rows.all())
