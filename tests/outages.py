"""Database outages made on purpose: a lock that blocks writers, connections refused."""

from __future__ import annotations

import sqlite3

import asyncpg

from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER


class DatabaseLock:
    """Holds the inbox table so no update can be stored: the poller blocks in its commit."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> DatabaseLock:
        if self.url.startswith("sqlite"):
            self.conn = sqlite3.connect(self.url.split("///", 1)[1], check_same_thread=False)
            self.conn.execute("BEGIN EXCLUSIVE")
        else:
            dsn = self.url.replace("postgresql+asyncpg", "postgresql")
            self.pg = await asyncpg.connect(dsn)
            self.tx = self.pg.transaction()
            await self.tx.start()
            await self.pg.execute("LOCK TABLE inbox_updates IN ACCESS EXCLUSIVE MODE")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.url.startswith("sqlite"):
            self.conn.rollback()
            self.conn.close()
        else:
            await self.tx.rollback()
            await self.pg.close()


class ConnectionsRefused:
    """PostgreSQL refuses every connection to the database, and the open ones are cut."""

    def __init__(self, url: str) -> None:
        self.name = url.rsplit("/", 1)[1]

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def __aenter__(self) -> ConnectionsRefused:
        await self._admin(
            f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()",
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')
