"""End-to-end harness: the real Application and durable intake against the fake Bot API."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Wiring, build_app, build_sender, build_services
from bot.config import Config, DatabaseConfig, TelegramConfig
from bot.intake import Intake
from services import Services
from services.clock import FrozenClock
from services.policy import ReviewRules
from storage.db import create_engine, session_factory
from storage.models import InboxUpdate, Invite, LogEntry, OutboxMessage, Person, Unit
from tests.fakebot import FakeBotApi, FakeUser

TOKEN = "123456:TEST-token-never-logged"


@dataclass
class BotHarness:
    api: FakeBotApi
    clock: FrozenClock
    db_url: str
    # Page sizes and the like of the supervisors' views (small ones keep paging tests short).
    review: ReviewRules = field(default_factory=ReviewRules)
    config: Config = field(init=False)
    wiring: Wiring = field(init=False)
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
            review=self.review,
        )
        self.engine = create_engine(self.db_url)
        self.sessions = session_factory(self.engine)
        self.wiring = build_services(self.config, self.engine, self.clock)
        self.services = self.wiring.services
        self.app = build_app(self.config, self.services)
        await self.app.initialize()
        await self.app.start()
        self.sleeps: list[float] = []
        self.intake = Intake(
            self.app, self.services.inbox, poll_timeout=5, retry_delay=0.05, sleep=self._sleep
        )
        self.intake.start()
        self.sender = build_sender(self.wiring, self.app, sleep=self._sleep)
        self.sender_task = asyncio.create_task(self.sender.run())

    async def _sleep(self, seconds: float) -> None:
        """The intake's back-off: recorded, and shortened so tests never wait for real."""
        self.sleeps.append(seconds)
        await asyncio.sleep(0.01)

    def db(self) -> AsyncSession:
        """A session of the test's own, to arrange and inspect the database directly."""
        return self.sessions()

    async def stop(self) -> None:
        self.sender.stop()
        await self.sender_task
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
        async with self.db() as db:
            unit_row = await db.scalar(select(Unit).where(Unit.name == unit))
            if unit_row is None:
                unit_row = Unit(name=unit)
                db.add(unit_row)
                await db.flush()
            boss = None
            if supervisor is not None:
                boss = await self.person(supervisor, db)
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
            db.add(person)
            await db.commit()
        await self.wiring.load_names()
        return person

    async def person(self, roster_id: str, db: AsyncSession | None = None) -> Person:
        if db is not None:
            return (await db.scalars(select(Person).where(Person.roster_id == roster_id))).one()
        async with self.db() as own:
            return await self.person(roster_id, own)

    async def invite(self, roster_id: str, valid: timedelta = timedelta(days=14)) -> str:
        token = secrets.token_urlsafe(16)
        now = self.clock.now()
        async with self.db() as db:
            person = await self.person(roster_id, db)
            db.add(Invite(token=token, person_id=person.id, created_at=now, expires_at=now + valid))
            await db.commit()
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
        """Wait until every update sent so far is processed and every due notice is sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if not self.api.pending_updates():
                async with self.db() as db:
                    pending = await db.scalar(
                        select(func.count()).where(InboxUpdate.status == "pending")
                    )
                    pending += await db.scalar(
                        select(func.count()).where(
                            OutboxMessage.status == "pending",
                            OutboxMessage.not_before <= self.clock.now(),
                        )
                    )
                if pending == 0:
                    return
            if loop.time() > deadline:
                raise AssertionError(f"bot did not settle: {self.api.stats()}")
            await asyncio.sleep(0.02)

    # -- reading the database --------------------------------------------------------------

    async def entries(self, roster_id: str | None = None) -> list[LogEntry]:
        async with self.db() as db:
            query = select(LogEntry).order_by(LogEntry.id)
            if roster_id is not None:
                query = query.join(Person, Person.id == LogEntry.person_id).where(
                    Person.roster_id == roster_id
                )
            return list((await db.scalars(query)).all())

    async def rows(self, model: type, *where: Any) -> list[Any]:
        """Every row of a table (matching `where`), in insertion order."""
        async with self.db() as db:
            query = select(model).where(*where).order_by(model.id)  # type: ignore[attr-defined]
            return list((await db.scalars(query)).all())

    async def count(self, model: type) -> int:
        async with self.db() as db:
            return int(await db.scalar(select(func.count()).select_from(model)) or 0)

    async def inbox(self) -> list[InboxUpdate]:
        return await self.rows(InboxUpdate)


async def send(bot: BotHarness, user: FakeUser, text: str, **kwargs: Any) -> dict[str, Any]:
    """Send `text`; the bot's one reply as the user sees it (with its buttons)."""
    mark = bot.api.mark()
    bot.api.send_text(user, text, **kwargs)
    [reply] = await bot.api.wait_for_reply(user.id, since=mark)
    return reply


def buttons(message: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """The inline keyboard of a bot message as rows of (label, callback data)."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [[(b["text"], b["callback_data"]) for b in row] for row in rows]


async def press(
    bot: BotHarness, user: FakeUser, message_id: int, data: str, *, edits: bool = True
) -> dict[str, Any]:
    """Tap a button; return the answerCallbackQuery parameters once the bot is done."""
    mark = bot.api.mark()
    bot.api.press_button(user, message_id, data, strict=edits)
    answer = await bot.api.wait_for(method="answerCallbackQuery", since=mark)
    if edits:
        await bot.api.wait_for(method="editMessageText", since=mark)
    else:
        await bot.settle()
        # A refused or repeated tap may try an edit, but the message must stay as it was.
        assert [c for c in bot.api.calls("editMessageText", since=mark) if c.ok] == []
    return answer.params
