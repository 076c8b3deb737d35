"""End-to-end harness: the real Application and durable intake against the fake Bot API."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.app import Services, build_app, build_services
from bot.clock import FrozenClock
from bot.config import Config, DatabaseConfig, TelegramConfig
from bot.intake import Intake
from storage.db import create_engine
from storage.models import InboxUpdate, Invite, LogEntry, Person, Unit
from tests.fakebot import FakeBotApi, FakeUser

TOKEN = "123456:TEST-token-never-logged"


@dataclass
class BotHarness:
    api: FakeBotApi
    clock: FrozenClock
    db_url: str
    config: Config = field(init=False)
    services: Services = field(init=False)

    async def start(self) -> None:
        self.config = Config(
            telegram=TelegramConfig(
                token=TOKEN,
                base_url=self.api.base_url,
                base_file_url=self.api.base_file_url,
                poll_timeout=5,
            ),
            database=DatabaseConfig(url=self.db_url),
        )
        self.engine = create_engine(self.db_url)
        self.services = build_services(self.config, self.engine, self.clock)
        self.app = build_app(self.config, self.services)
        await self.app.initialize()
        await self.app.start()
        self.intake = Intake(
            self.app, self.services.uow, poll_timeout=5, retry_delay=0.05, sleep=self._sleep
        )
        self.intake.start()
        self.sleeps: list[float] = []

    async def _sleep(self, seconds: float) -> None:
        """The intake's back-off: recorded, and shortened so tests never wait for real."""
        self.sleeps.append(seconds)
        await asyncio.sleep(0.01)

    async def stop(self) -> None:
        await self.intake.stop()
        await self.app.stop()
        await self.app.shutdown()
        await self.engine.dispose()

    # -- roster ----------------------------------------------------------------------------

    async def add_person(
        self,
        roster_id: str,
        name: str,
        unit: str = "县发改委",
        *,
        supervisor: str | None = None,
        roles: str = "cadre",
        telegram_user_id: int | None = None,
    ) -> Person:
        now = self.clock.now()
        async with self.services.uow() as uow:
            unit_row = await uow.people.unit_by_name(unit)
            if unit_row is None:
                unit_row = Unit(name=unit)
                await uow.people.add(unit_row)
            boss = None
            if supervisor is not None:
                boss = (await uow.people.by_roster_ids([supervisor]))[supervisor]
            person = Person(
                roster_id=roster_id,
                name=name,
                unit_id=unit_row.id,
                position="科员",
                supervisor_id=boss.id if boss else None,
                roles=roles,
                telegram_user_id=telegram_user_id,
                active=True,
                created_at=now,
                updated_at=now,
            )
            await uow.people.add(person)
            await uow.session.commit()
        await self.services.load_names()
        return person

    async def invite(self, roster_id: str, valid: timedelta = timedelta(days=14)) -> str:
        token = secrets.token_urlsafe(16)
        now = self.clock.now()
        async with self.services.uow() as uow:
            person = (await uow.people.by_roster_ids([roster_id]))[roster_id]
            await uow.invites.add(
                Invite(token=token, person_id=person.id, created_at=now, expires_at=now + valid)
            )
            await uow.session.commit()
        return token

    async def enrol(self, user: FakeUser, roster_id: str, name: str, **kwargs: Any) -> None:
        """Put a person on the roster and bind `user` to them through /start, as in real life."""
        await self.add_person(roster_id, name, **kwargs)
        token = await self.invite(roster_id)
        replies = await self.say(user, f"/start {token}")
        assert "绑定成功" in replies[0], replies

    # -- conversation ----------------------------------------------------------------------

    async def say(self, user: FakeUser, text: str, count: int = 1) -> list[str]:
        """Send `text` as `user` and return the texts of the next `count` bot messages."""
        mark = self.api.mark()
        self.api.send_text(user, text)
        replies = await self.api.wait_for_reply(user.id, count=count, since=mark)
        return [r.get("text", "") for r in replies]

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every update sent so far is confirmed, stored and processed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if not self.api.pending_updates():
                async with self.services.uow() as uow:
                    pending = (await uow.inbox.counts()).get("pending", 0)
                if pending == 0:
                    return
            if loop.time() > deadline:
                raise AssertionError(f"bot did not settle: {self.api.stats()}")
            await asyncio.sleep(0.02)

    # -- reading the database --------------------------------------------------------------

    async def entries(self, roster_id: str | None = None) -> list[LogEntry]:
        async with self.services.uow() as uow:
            query = select(LogEntry).order_by(LogEntry.id)
            if roster_id is not None:
                query = query.join(Person, Person.id == LogEntry.person_id).where(
                    Person.roster_id == roster_id
                )
            return list((await uow.session.scalars(query)).all())

    async def count(self, model: type) -> int:
        async with self.services.uow() as uow:
            return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)

    async def inbox(self) -> list[InboxUpdate]:
        async with self.services.uow() as uow:
            return list((await uow.session.scalars(select(InboxUpdate))).all())
