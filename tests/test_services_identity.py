"""IdentityService without Telegram: who is writing, invites, rebinding and its outbox notice.

Runs on SQLite and PostgreSQL. Accounts are plain Telegram user ids; OLD and NEW are two
accounts of the same cadre, STRANGER belongs to nobody on the roster.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services import zh
from services.errors import InviteInvalid
from services.identity import Actor
from storage.models import AuditLog, InboxUpdate, Invite, OutboxMessage, Person, Role
from tests.services_fixtures import Env, InjectedFault, processing

pytest_plugins = ("tests.services_fixtures",)

OLD, NEW, STRANGER = 111, 222, 777


async def accounts(env: Env) -> dict[str, int | None]:
    """Roster id -> bound Telegram account of everyone."""
    return {p.roster_id: p.telegram_user_id for p in await env.rows(Person)}


async def refusal_reasons(env: Env) -> list[str]:
    return [json.loads(line.detail)["reason"] for line in await env.audit("invite_refused")]


# -- identify ----------------------------------------------------------------------------------


async def test_a_stranger_is_refused_with_one_audit_line_and_no_content_kept(env: Env) -> None:
    inbox_id = await env.inbox_row({"message": {"text": "你好", "from": {"first_name": "陌生人"}}})

    with processing(inbox_id):
        assert await env.services.identity.identify(STRANGER, "message") is None

    [line] = await env.rows(AuditLog)
    assert (line.action, line.actor_telegram_id, line.actor_person_id) == (
        "refused_unregistered",
        STRANGER,
        None,
    )
    assert json.loads(line.detail) == {"action": "message"}
    row = await env.one(InboxUpdate)
    assert (row.payload, row.status) == ("{}", "done")


async def test_a_bound_account_is_its_person(env: Env) -> None:
    person_id = await env.person("c001", "王五", telegram_user_id=OLD)

    actor = await env.services.identity.identify(OLD, "message")

    assert actor == Actor(person_id, "c001", "王五", "县发改委", frozenset({Role.CADRE}))
    assert await env.count(AuditLog) == 0


async def test_the_account_of_a_deactivated_person_is_refused(env: Env) -> None:
    await env.person("c001", telegram_user_id=OLD, active=False)

    assert await env.services.identity.identify(OLD, "callback") is None

    assert [line.actor_telegram_id for line in await env.audit("refused_unregistered")] == [OLD]


async def test_an_ignored_update_keeps_nothing_but_that_it_came(env: Env) -> None:
    inbox_id = await env.inbox_row({"message": {"chat": {"type": "group"}, "text": "闲聊"}})

    with processing(inbox_id):
        await env.services.identity.ignore_update()

    row = await env.one(InboxUpdate)
    assert (row.payload, row.status) == ("{}", "done")


# -- bind --------------------------------------------------------------------------------------


async def test_unknown_used_and_expired_invites_bind_nobody(env: Env) -> None:
    used_by_other = await env.person("c001")
    used_token = await env.invite(used_by_other)
    await env.services.identity.bind(used_token, OLD)
    expired = await env.invite(await env.person("c002"), valid=timedelta(days=-1))
    inactive = await env.invite(await env.person("c003", active=False))
    attempts = [
        ("no-such-token", zh.INVITE_UNKNOWN, "unknown_token"),
        ("", zh.INVITE_UNKNOWN, "unknown_token"),
        (used_token, zh.INVITE_USED, "used_token"),
        (expired, zh.INVITE_EXPIRED.format(date="2026-11-19"), "expired_token"),
        (inactive, zh.INVITE_INACTIVE, "inactive_person"),
    ]
    for token, reply, _ in attempts:
        with pytest.raises(InviteInvalid) as refused:
            await env.services.identity.bind(token, STRANGER)
        assert refused.value.reply == reply, token

    assert await accounts(env) == {"c001": OLD, "c002": None, "c003": None}
    assert await refusal_reasons(env) == [reason for *_, reason in attempts]
    assert [i.used_at is None for i in await env.rows(Invite)] == [False, True, True]
    assert await env.count(OutboxMessage) == 0


async def test_a_refused_invite_keeps_no_content_of_the_update(env: Env) -> None:
    inbox_id = await env.inbox_row({"message": {"text": "/start no-such-token"}})

    with processing(inbox_id), pytest.raises(InviteInvalid):
        await env.services.identity.bind("no-such-token", STRANGER)

    row = await env.one(InboxUpdate)
    assert (row.payload, row.status) == ("{}", "done")


async def test_rebinding_cuts_off_the_old_account_and_queues_a_notice_to_it(env: Env) -> None:
    person_id = await env.person("c001", "王五", telegram_user_id=OLD)
    token = await env.invite(person_id)
    assert await env.services.identity.identify(OLD, "message") is not None  # now cached
    env.wiring.outbox_wake.clear()

    binding = await env.services.identity.bind(token, NEW)

    assert (binding.actor.person_id, binding.already_bound) == (person_id, False)
    person = await env.one(Person)
    assert (person.telegram_user_id, person.bound_at) == (NEW, env.clock.now())
    [notice] = await env.rows(OutboxMessage)
    assert (notice.chat_id, notice.person_id, notice.kind, notice.text) == (
        OLD,
        None,
        "rebound",
        zh.REBOUND_OLD_ACCOUNT,
    )
    assert (notice.status, notice.attempts, notice.not_before) == ("pending", 0, env.clock.now())
    assert env.wiring.outbox_wake.is_set()  # the sender is woken by the commit
    [bound] = await env.audit("bound")
    assert json.loads(bound.detail)["revoked_telegram_id"] == OLD
    assert await env.services.identity.identify(OLD, "message") is None


async def test_the_binding_and_its_notice_commit_together(env: Env) -> None:
    person_id = await env.person("c001", telegram_user_id=OLD)
    token = await env.invite(person_id)

    with env.fail_statement("INSERT INTO outbox_messages"), pytest.raises(InjectedFault):
        await env.services.identity.bind(token, NEW)

    assert await accounts(env) == {"c001": OLD}
    assert (await env.one(Invite)).used_at is None
    assert await env.count(AuditLog) == 0
    await env.services.identity.bind(token, NEW)  # the retry binds and queues once
    assert (await accounts(env), await env.count(OutboxMessage)) == ({"c001": NEW}, 1)


async def test_the_same_invite_redeemed_twice_by_its_account_is_already_bound(env: Env) -> None:
    person_id = await env.person("c001", telegram_user_id=OLD)
    token = await env.invite(person_id)
    first = await env.services.identity.bind(token, NEW)

    again = await env.services.identity.bind(token, NEW)

    assert again.already_bound and again.actor == first.actor
    assert await env.count(OutboxMessage) == 1
    assert len(await env.audit("bound")) == 1


async def test_an_account_bound_to_someone_else_moves_to_the_invited_person(env: Env) -> None:
    holder = await env.person("c001", telegram_user_id=NEW)
    invited = await env.person("c002")

    await env.services.identity.bind(await env.invite(invited), NEW)

    assert await accounts(env) == {"c001": None, "c002": NEW}
    [unbound] = await env.audit("unbound")
    assert (unbound.subject_person_id, unbound.actor_telegram_id) == (holder, NEW)
    assert await env.count(OutboxMessage) == 0  # the invited person had no other account


async def test_an_account_bound_to_a_deactivated_person_can_be_bound_anew(env: Env) -> None:
    await env.person("c001", telegram_user_id=NEW, active=False)
    invited = await env.person("c002")

    await env.services.identity.bind(await env.invite(invited), NEW)

    assert await accounts(env) == {"c001": None, "c002": NEW}
