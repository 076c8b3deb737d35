"""Who is writing: binding a Telegram account to a roster person, and refusing strangers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from services import zh
from services.clock import Clock
from services.errors import InviteInvalid
from services.outbox import Confirm
from storage.models import Person, Role
from storage.uow import UnitOfWork, UowFactory

# What an invite token can look like (secrets.token_urlsafe): anything else is refused unread.
INVITE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Actor:
    """The roster person behind an update, as plain values for handlers."""

    person_id: int
    roster_id: str
    name: str
    unit_name: str
    roles: frozenset[Role]

    @classmethod
    def of(cls, person: Person) -> Actor:
        return cls(person.id, person.roster_id, person.name, person.unit.name, person.role_set)


class ActorCache:
    """Recently seen accounts, so a burst of messages does not look the person up each time.

    Only bound accounts are cached; binding forgets the accounts it changes, and roster
    changes made by the CLI reach the bot within `ttl`.
    """

    def __init__(self, ttl_seconds: float = 60, max_size: int = 50_000) -> None:
        self.ttl = timedelta(seconds=ttl_seconds)
        self.max_size = max_size
        self._items: dict[int, tuple[Actor, datetime]] = {}

    def get(self, telegram_user_id: int, now: datetime) -> Actor | None:
        item = self._items.get(telegram_user_id)
        if item is None or now - item[1] > self.ttl:
            return None
        return item[0]

    def put(self, telegram_user_id: int, actor: Actor, now: datetime) -> None:
        if len(self._items) >= self.max_size:
            self._items.clear()
        self._items[telegram_user_id] = (actor, now)

    def forget(self, *telegram_user_ids: int | None) -> None:
        for telegram_user_id in telegram_user_ids:
            if telegram_user_id is not None:
                self._items.pop(telegram_user_id, None)


@dataclass(frozen=True)
class Binding:
    actor: Actor
    already_bound: bool


class IdentityService:
    """Accounts and the roster people behind them."""

    def __init__(
        self, uow: UowFactory, clock: Clock, tz: tzinfo, cache: ActorCache | None = None
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.tz = tz  # the organisation's, in which an invite's expiry date is shown
        self.cache = cache or ActorCache()

    async def identify(self, telegram_user_id: int, action: str) -> Actor | None:
        """The person bound to the account; for a stranger, one audit line and nothing else.

        The stranger's update keeps no content (no name, no text), only that it came.
        """
        now = self.clock.now()
        actor = self.cache.get(telegram_user_id, now)
        if actor is not None:
            return actor
        async with self.uow() as uow:
            person = await uow.people.by_telegram_id(telegram_user_id)
            if person is None:
                await uow.audit.record(
                    now,
                    "refused_unregistered",
                    actor_telegram_id=telegram_user_id,
                    detail={"action": action},
                )
                await uow.scrub_current_update()
                await uow.commit()
                return None
            actor = Actor.of(person)
        self.cache.put(telegram_user_id, actor, now)
        return actor

    async def ignore_update(self) -> None:
        """Keep nothing of an update the product does not serve (group chatter, other bots)."""
        async with self.uow() as uow:
            await uow.scrub_current_update()
            await uow.commit()

    async def ignore_group(self, chat_id: int) -> None:
        """Keep nothing of a group's update; the group is told once where the bot works."""
        async with self.uow() as uow:
            await uow.scrub_current_update()
            await uow.outbox.add(
                f"group:{chat_id}", "group", zh.GROUP_CHAT, self.clock.now(), chat_id=chat_id
            )
            await uow.commit()

    async def bind(
        self, token: str, telegram_user_id: int, confirm: Confirm[Binding] | None = None
    ) -> Binding:
        """Redeem an invite: bind the account, cutting off any account bound to the person before.

        The account cut off is told so through the outbox, in the same transaction, so the
        notice is sent even if the process dies right after the commit.
        """
        now = self.clock.now()
        async with self.uow() as uow:
            valid = INVITE_TOKEN.fullmatch(token) is not None
            invite = await uow.invites.by_token(token) if valid else None
            if invite is None:
                await self._refuse(uow, telegram_user_id, "unknown_token")
                raise InviteInvalid(zh.INVITE_UNKNOWN)
            person = await uow.people.get(invite.person_id)
            assert person is not None
            if invite.used_at is not None:
                if invite.used_by_telegram_id == telegram_user_id == person.telegram_user_id:
                    binding = Binding(Actor.of(person), already_bound=True)
                    if confirm is not None:
                        await confirm.queue(uow, binding, now)
                        await uow.commit()
                    return binding
                await self._refuse(uow, telegram_user_id, "used_token", invite.person_id)
                raise InviteInvalid(zh.INVITE_USED)
            if invite.expires_at <= now:
                await self._refuse(uow, telegram_user_id, "expired_token", invite.person_id)
                expired_on = invite.expires_at.astimezone(self.tz).date()
                raise InviteInvalid(zh.INVITE_EXPIRED.format(date=expired_on.isoformat()))
            if not person.active:
                await self._refuse(uow, telegram_user_id, "inactive_person", invite.person_id)
                raise InviteInvalid(zh.INVITE_INACTIVE)

            revoked = (
                person.telegram_user_id if person.telegram_user_id != telegram_user_id else None
            )
            # The account may have been bound to someone else before: that binding ends here.
            holder = await uow.people.holding_account(telegram_user_id)
            if holder is not None and holder.id != person.id:
                await uow.people.unbind_account(holder, now)
                await uow.audit.record(
                    now,
                    "unbound",
                    actor_telegram_id=telegram_user_id,
                    subject_person_id=holder.id,
                    detail={"reason": "rebound"},
                )
            person.telegram_user_id = telegram_user_id
            person.bound_at = now
            person.updated_at = now
            invite.used_at = now
            invite.used_by_telegram_id = telegram_user_id
            await uow.audit.record(
                now,
                "bound",
                actor_person_id=person.id,
                actor_telegram_id=telegram_user_id,
                subject_person_id=person.id,
                detail={"invite_id": invite.id, "revoked_telegram_id": revoked},
            )
            if revoked is not None:
                await uow.outbox.add(
                    f"rebound:{invite.id}:{revoked}",
                    "rebound",
                    zh.REBOUND_OLD_ACCOUNT,
                    now,
                    chat_id=revoked,
                )
            binding = Binding(Actor.of(person), already_bound=False)
            if confirm is not None:
                await confirm.queue(uow, binding, now)
            await uow.commit()
        self.cache.forget(telegram_user_id, revoked)
        return binding

    async def _refuse(
        self, uow: UnitOfWork, telegram_user_id: int, reason: str, person_id: int | None = None
    ) -> None:
        """A failed binding keeps only this audit line, not the update's content."""
        await uow.audit.record(
            self.clock.now(),
            "invite_refused",
            actor_telegram_id=telegram_user_id,
            subject_person_id=person_id,
            detail={"reason": reason},
        )
        await uow.scrub_current_update()
        await uow.commit()
