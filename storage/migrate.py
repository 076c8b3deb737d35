"""Apply Alembic migrations programmatically (used by `worklog init`, the service and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# Processes starting together on one PostgreSQL migrate one after the other ("wmigrat").
MIGRATE_LOCK_KEY = 0x776D6967726174


def alembic_config(url: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class MigrationError(RuntimeError):
    """A migration left rows that break a foreign key."""


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind `engine` to `revision`."""
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Downgrade the database behind `engine` to `revision` (tests of the migrations)."""
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def _run(engine: AsyncEngine, action) -> None:  # type: ignore[no-untyped-def]
    cfg = alembic_config()
    sqlite = engine.dialect.name == "sqlite"

    def run(connection: object) -> None:
        cfg.attributes["connection"] = connection
        action(cfg)

    async with engine.connect() as conn:
        if not sqlite:
            await conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATE_LOCK_KEY})")
        if sqlite:
            # Batch mode rebuilds tables; with foreign keys on, dropping a referenced table
            # would fail. The pragma only takes effect outside a transaction.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        try:
            await conn.run_sync(run)
            if sqlite:
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise MigrationError(f"foreign keys broken by the migration: {broken[:5]}")
            await conn.commit()
        finally:
            if sqlite:
                await conn.rollback()
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.commit()
            else:
                await conn.rollback()
                await conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATE_LOCK_KEY})")
                await conn.commit()
