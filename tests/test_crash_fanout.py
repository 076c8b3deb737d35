"""SIGKILL the sender mid fan-out and restart: every recipient exactly once (apart from sends
of unknown fate, which the bot counts in outbox_messages.unsure)."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import create_engine, session_factory
from storage.models import OutboxMessage, Person
from storage.uow import UnitOfWork
from tests.fakebot import FakeBotApi
from tests.seeding import seed_bound_people
from tests.test_crash import _async, _config, _spawn, _stop, _wait_until

pytestmark = pytest.mark.slow

RECIPIENTS = 300
KILL_AFTER = 100
TEXT = "请填写今日工作日志（崩溃测试）"
KIND = "daily"


async def _plan(url: str) -> dict[int, int]:
    """300 bound cadres and one reminder each in the outbox; returns person id -> chat id."""
    await seed_bound_people(url, [(f"F{i:04d}", 70_000 + i) for i in range(RECIPIENTS)])
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with sessions() as db:
            people = dict(
                (await db.execute(select(Person.id, Person.telegram_user_id))).tuples().all()
            )
        async with UnitOfWork(sessions) as uow:
            await uow.outbox.add_to_people(
                [(f"crash-fanout:{pid}", pid, TEXT) for pid in sorted(people)],
                KIND,
                datetime.now(UTC),
            )
            await uow.commit()
    finally:
        await engine.dispose()
    assert len(people) == RECIPIENTS
    return {pid: int(chat) for pid, chat in people.items()}


async def _outbox(url: str) -> tuple[Counter[str], int]:
    """The fan-out's rows per status, and the sends the bot counted as of unknown fate."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            ours = OutboxMessage.kind == KIND
            rows = await conn.execute(
                select(OutboxMessage.status, func.count())
                .where(ours)
                .group_by(OutboxMessage.status)
            )
            statuses = Counter({status: int(n) for status, n in rows.tuples().all()})
            unsure = await conn.scalar(
                select(func.coalesce(func.sum(OutboxMessage.unsure), 0)).where(ours)
            )
            return statuses, int(unsure or 0)
    finally:
        await engine.dispose()


async def test_sigkill_mid_fanout_reaches_everyone_once(db_url: str, tmp_path: Path) -> None:
    chats = set((await _plan(db_url)).values())
    api = FakeBotApi(strict_chats=False)
    await api.start()
    api.enforce_limits(global_per_second=30, per_chat_per_second=1)
    config = _config(tmp_path, api, db_url)
    with config.open("a", encoding="utf-8") as out:
        out.write("[scheduler]\nrun_jobs = false\n")  # no job plans reminders of its own

    def received() -> Counter[int]:
        return Counter(
            int(call.chat_id)  # type: ignore[arg-type]
            for call in api.calls("sendMessage")
            if call.ok and call.text == TEXT and call.chat_id in chats
        )

    try:
        process = await _spawn(config)
        await _wait_until(
            lambda: _async(sum(received().values()) >= KILL_AFTER), 60, "a third of the fan-out"
        )
        process.send_signal(signal.SIGKILL)
        await process.wait()
        at_kill = sum(received().values())
        statuses, _ = await _outbox(db_url)
        assert statuses["pending"] > 0, "the kill came after the fan-out"

        process = await _spawn(config)

        async def done() -> bool:
            statuses, _ = await _outbox(db_url)
            return statuses["pending"] == 0

        await _wait_until(done, 60, "the rest of the fan-out")
        await _stop(process)
    finally:
        await api.stop()

    got = received()
    statuses, unsure = await _outbox(db_url)
    twice = sum(1 for n in got.values() if n > 1)
    print(f"at kill={at_kill} recipients={len(got)} twice={twice} unsure={unsure} {statuses}")
    assert sorted(chats - set(got)) == [], "recipients without the reminder"
    assert max(got.values()) <= 2
    assert twice <= unsure, f"{twice} recipients got it twice, {unsure} counted as unsure"
    assert dict(statuses) == {"sent": RECIPIENTS}
    assert api.rate_limited == 0, "the bot went beyond Telegram's limits"
