"""The Alembic migrations build exactly the schema the models describe, and move old rows."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text

from storage.db import create_engine
from storage.migrate import downgrade, upgrade
from storage.models import Base


async def test_models_match_the_migrations(db_url: str) -> None:
    """Autogenerate against a migrated database finds nothing to add, drop or change."""
    engine = create_engine(db_url)

    def compare(metadata: MetaData):  # type: ignore[no-untyped-def]
        return lambda sync: compare_metadata(
            MigrationContext.configure(sync, opts={"compare_type": True}), metadata
        )

    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(compare(Base.metadata))
            # The comparison is real: against no models, every table would be dropped.
            nothing = await conn.run_sync(compare(MetaData()))
    finally:
        await engine.dispose()
    assert diff == []
    assert {d[1].name for d in nothing if d[0] == "remove_table"} >= {
        "log_entries",
        "outbox_messages",
    }


async def test_telegram_sources_move_to_channel_keys_and_back(db_url: str) -> None:
    """0002 turns (chat, message) into channel "telegram" + "chat:message", history intact."""
    engine = create_engine(db_url)
    try:
        await downgrade(engine, "0001")
        async with engine.begin() as conn:
            for statement in (
                "INSERT INTO units (id, name) VALUES (1, '县发改委')",
                "INSERT INTO people (id, roster_id, name, unit_id, position, roles, active,"
                " created_at, updated_at) VALUES (1, 'A1', '张伟', 1, '', 'cadre', true,"
                " '2026-11-20 02:00:00+00', '2026-11-20 02:00:00+00')",
                "INSERT INTO log_entries (id, person_id, work_date, item_no, text, kind, is_late,"
                " is_overlong, source_chat_id, source_message_id, source_part, withdrawn,"
                " created_at, updated_at) VALUES (1, 1, '2026-11-20', 1, '走访企业', 'regular',"
                " false, false, 7001, 55, 0, false, '2026-11-20 02:00:00+00',"
                " '2026-11-20 02:00:00+00')",
                "INSERT INTO entry_history (id, entry_id, changed_by, changed_at, action, before,"
                " after) VALUES (1, 1, 1, '2026-11-20 02:00:00+00', 'edit', '{}', '{}')",
            ):
                await conn.execute(text(statement))
        await upgrade(engine)
        async with engine.connect() as conn:
            moved = (
                await conn.execute(text("SELECT channel, source_key, source_part FROM log_entries"))
            ).all()
            history = (await conn.execute(text("SELECT entry_id FROM entry_history"))).all()
        assert [tuple(r) for r in moved] == [("telegram", "7001:55", 0)]
        assert [tuple(r) for r in history] == [(1,)]

        await downgrade(engine, "0001")
        async with engine.connect() as conn:
            query = "SELECT source_chat_id, source_message_id FROM log_entries"
            back = (await conn.execute(text(query))).all()
        assert [tuple(r) for r in back] == [(7001, 55)]
        await upgrade(engine)
    finally:
        await engine.dispose()
