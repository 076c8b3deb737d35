"""A lease that lets exactly one process run the scheduler when several share PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Any constant the whole deployment agrees on: "worklog scheduler".
SCHEDULER_LOCK_KEY = 0x776F726B6C6F67


class SchedulerLease:
    """A PostgreSQL session-level advisory lock held on one connection for the process's life.

    When the process dies its connection closes and the lock passes to another process. On
    SQLite (one process by design) the lease is always granted.
    """

    def __init__(self, engine: AsyncEngine, key: int = SCHEDULER_LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            return True
        conn = await self.engine.connect()
        try:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
            await conn.commit()
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            await self._conn.commit()
        finally:
            await self._conn.close()
            self._conn = None
