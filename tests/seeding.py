"""Roster people put straight into a database, for tests and benchmarks that start the bot."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.db import create_engine, session_factory
from storage.models import Person, Unit

ROOT = Path(__file__).resolve().parent.parent


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


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """A config file for a `worklog` process: TOML written from plain values."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def process_env(config: Path) -> dict[str, str]:
    """The environment of a `worklog` process run on `config` alone: the caller's own token,
    database and webhook secret must not override the file."""
    env = {**os.environ, "WORKLOG_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    for key in (
        "WORKLOG_TELEGRAM_TOKEN",
        "WORKLOG_DATABASE_URL",
        "WORKLOG_TELEGRAM_WEBHOOK_SECRET",
    ):
        env.pop(key, None)
    return env
