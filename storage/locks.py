"""Leases that let exactly one process run the scheduler, and one send the outbox, when
several share PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Any constants the whole deployment agrees on: "worklog" and "wsender".
SCHEDULER_LOCK_KEY = 0x776F726B6C6F67
SENDER_LOCK_KEY = 0x7773656E646572
# Committing an outbox message on PostgreSQL notifies this channel; the sending process
# listens, so a reply queued by another process goes out at once.
OUTBOX_CHANNEL = "worklog_outbox"


class SchedulerLease:
    """A PostgreSQL session-level advisory lock held on one connection for the process's life.

    When the process dies its connection closes and the lock passes to another process. On
    SQLite (one process by design) the lease is always granted. `acquire()` again checks
    that the lock's connection is still alive: a lost connection has lost the lock too.
    """

    def __init__(self, engine: AsyncEngine, key: int = SCHEDULER_LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            try:
                await self._conn.scalar(text("SELECT 1"))
                await self._conn.commit()
                return True
            except Exception:  # the connection, and with it the lock, is gone
                await self._drop()
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

    async def listen(self, channel: str, wake: Callable[[], None]) -> None:
        """Call `wake` on each NOTIFY of `channel`, on the lease's connection (PostgreSQL)."""
        if self._conn is None:
            return
        raw = await self._conn.get_raw_connection()
        await raw.driver_connection.add_listener(channel, lambda *_: wake())

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            await self._conn.commit()
        finally:
            await self._conn.close()
            self._conn = None
