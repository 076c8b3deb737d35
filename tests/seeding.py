"""Roster people put straight into a database, for tests and benchmarks that start the bot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from storage.db import create_engine, session_factory
from storage.models import Person, Unit


async def seed_bound_people(
    url: str, people: Sequence[tuple[str, int]], unit: str = "县发改委"
) -> None:
    """Cadres (roster id, Telegram account) already bound, named 干部0, 干部1, … in one unit."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with session_factory(engine)() as db:
            unit_row = Unit(name=unit)
            db.add(unit_row)
            await db.flush()
            db.add_all(
                Person(
                    roster_id=roster_id,
                    name=f"干部{i}",
                    unit_id=unit_row.id,
                    position="科员",
                    roles="cadre",
                    telegram_user_id=telegram_id,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
                for i, (roster_id, telegram_id) in enumerate(people)
            )
            await db.commit()
    finally:
        await engine.dispose()
