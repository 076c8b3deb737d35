"""The web channel's repository: login links and browser sessions; never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WebLogin, WebSession
from storage.repositories import _dialect


class WebRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: WebLogin | WebSession) -> None:
        self.session.add(row)
        await self.session.flush()

    async def login(self, token_hash: str) -> WebLogin | None:
        """The link, locked until commit on PostgreSQL: two tabs opening it at once cannot
        both get a session (SQLite's units of work take turns in-process)."""
        query = select(WebLogin).where(WebLogin.token_hash == token_hash)
        if _dialect(self.session) == "postgresql":
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def browser(self, token_hash: str) -> WebSession | None:
        return await self.session.scalar(
            select(WebSession).where(WebSession.token_hash == token_hash)
        )

    async def flush(self) -> None:
        await self.session.flush()

    async def purge(self, before: datetime) -> int:
        """Drop links and sessions that expired before `before`."""
        links = await self.session.execute(delete(WebLogin).where(WebLogin.expires_at < before))
        browsers = await self.session.execute(
            delete(WebSession).where(
                or_(WebSession.expires_at < before, WebSession.ended_at < before)
            )
        )
        return int(getattr(links, "rowcount", 0) or 0) + int(getattr(browsers, "rowcount", 0) or 0)
