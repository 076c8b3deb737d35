"""Who is writing: binding a Telegram account to a roster person, and refusing strangers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from bot import zh
from bot.errors import InviteInvalid
from storage.models import Person, Role
from storage.uow import UnitOfWork


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

    Only bound accounts are cached; /start forgets the accounts it changes, and roster changes
    made by the CLI reach the bot within `ttl`.
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
    revoked_telegram_id: int | None  # the account that held this person before, now cut off


async def find_actor(uow: UnitOfWork, telegram_user_id: int) -> Actor | None:
    person = await uow.people.by_telegram_id(telegram_user_id)
    return None if person is None else Actor.of(person)


async def refuse_stranger(
    uow: UnitOfWork, telegram_user_id: int, action: str, now: datetime
) -> None:
    """Keep one audit line about an unknown user and nothing else (no name, no text)."""
    await uow.audit.record(
        now, "refused_unregistered", actor_telegram_id=telegram_user_id, detail={"action": action}
    )
    await uow.commit()


async def bind_account(
    uow: UnitOfWork, token: str, telegram_user_id: int, now: datetime, tz: tzinfo = UTC
) -> Binding:
    """Redeem an invite: bind the account, cutting off any account bound to the person before.

    `tz` is the organisation's time zone, in which an expiry date is shown.
    """
    invite = await uow.invites.by_token(token) if token else None
    if invite is None:
        await _refuse(uow, telegram_user_id, "unknown_token", now)
        raise InviteInvalid(zh.INVITE_UNKNOWN)
    person = await uow.people.get(invite.person_id)
    assert person is not None
    if invite.used_at is not None:
        if invite.used_by_telegram_id == telegram_user_id and (
            person.telegram_user_id == telegram_user_id
        ):
            return Binding(Actor.of(person), already_bound=True, revoked_telegram_id=None)
        await _refuse(uow, telegram_user_id, "used_token", now, invite.person_id)
        raise InviteInvalid(zh.INVITE_USED)
    if invite.expires_at <= now:
        await _refuse(uow, telegram_user_id, "expired_token", now, invite.person_id)
        expired_on = invite.expires_at.astimezone(tz).date()
        raise InviteInvalid(zh.INVITE_EXPIRED.format(date=expired_on.isoformat()))
    if not person.active:
        await _refuse(uow, telegram_user_id, "inactive_person", now, invite.person_id)
        raise InviteInvalid(zh.INVITE_INACTIVE)

    revoked = person.telegram_user_id if person.telegram_user_id != telegram_user_id else None
    # The account may have been bound to someone else before: that binding ends here.
    holder = await uow.people.by_telegram_id(telegram_user_id)
    if holder is not None and holder.id != person.id:
        holder.telegram_user_id = None
        holder.updated_at = now
        await uow.audit.record(
            now,
            "unbound",
            actor_telegram_id=telegram_user_id,
            subject_person_id=holder.id,
            detail={"reason": "rebound"},
        )
        await uow.session.flush()
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
    await uow.commit()
    return Binding(Actor.of(person), already_bound=False, revoked_telegram_id=revoked)


async def _refuse(
    uow: UnitOfWork,
    telegram_user_id: int,
    reason: str,
    now: datetime,
    person_id: int | None = None,
) -> None:
    await uow.audit.record(
        now,
        "invite_refused",
        actor_telegram_id=telegram_user_id,
        subject_person_id=person_id,
        detail={"reason": reason},
    )
    await uow.commit()
