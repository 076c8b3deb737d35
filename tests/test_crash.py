"""Kill the bot process with SIGKILL during a burst; after restarts every message is stored once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services import zh
from storage.db import create_engine, session_factory
from storage.models import InboxUpdate, Invite, LogEntry, OutboxMessage, Person
from tests.fakebot import FakeBotApi, FakeUser
from tests.seeding import seed_bound_people

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
USERS = [FakeUser(id=5000 + i, first_name=f"用户{i}") for i in range(12)]


async def _seed(url: str) -> None:
    await seed_bound_people(url, [(f"C{i:03d}", user.id) for i, user in enumerate(USERS)])


async def _stored(url: str) -> tuple[Counter[tuple[int, int]], int]:
    """Entries per (chat, message) and the number of inbox updates not yet processed."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(LogEntry.source_key, func.count()).group_by(LogEntry.source_key)
            )
            per_message = Counter(
                {tuple(int(n) for n in key.split(":")): count for key, count in rows.all()}
            )
            pending = await conn.scalar(select(func.count()).where(InboxUpdate.status == "pending"))
            dupes = await conn.scalar(
                select(func.count()).select_from(
                    select(LogEntry.channel, LogEntry.source_key, LogEntry.source_part)
                    .group_by(LogEntry.channel, LogEntry.source_key, LogEntry.source_part)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            assert dupes == 0
            return per_message, int(pending or 0)
    finally:
        await engine.dispose()


def _spawn(config_path: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "WORKLOG_CONFIG": str(config_path), "PYTHONPATH": str(ROOT)}
    env.pop("WORKLOG_TELEGRAM_TOKEN", None)
    env.pop("WORKLOG_DATABASE_URL", None)
    return asyncio.create_subprocess_exec(  # type: ignore[return-value]
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _config(tmp_path: Path, api: FakeBotApi, db_url: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "999:crash-test"\nbase_url = "{api.base_url}"\n'
        f'base_file_url = "{api.base_file_url}"\npoll_timeout = 2\n'
        f'[database]\nurl = "{db_url}"\n',
        encoding="utf-8",
    )
    return config


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert b"crash-test" not in stderr, "the token leaked into the log"


async def test_notice_to_a_cut_off_account_survives_a_sigkill_after_the_commit(
    db_url: str, tmp_path: Path
) -> None:
    """Binding a new phone commits the notice to the old one with it; a kill cannot lose it."""
    await _seed(db_url)
    old_phone, new_phone = USERS[0], FakeUser(id=9001, first_name="新手机")
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    async with sessions() as db:
        person = (await db.scalars(select(Person).where(Person.roster_id == "C000"))).one()
        db.add(
            Invite(
                token="new-phone-token",
                person_id=person.id,
                created_at=now,
                expires_at=now + timedelta(days=1),
            )
        )
        await db.commit()

    async def committed() -> bool:
        async with sessions() as db:
            bound = await db.scalar(select(Person.telegram_user_id).where(Person.id == person.id))
            queued = await db.scalar(
                select(func.count()).where(OutboxMessage.chat_id == old_phone.id)
            )
        return bound == new_phone.id and queued == 1

    api = FakeBotApi()
    await api.start()
    config = _config(tmp_path, api, db_url)
    try:
        process = await _spawn(config)
        api.send_text(old_phone, "参加全县项目推进会")  # the old phone has used the bot
        await api.wait_for_reply(old_phone.id, timeout=60)
        # Nothing leaves the bot now: the kill lands after the commit, before any message is out.
        mark = api.mark()
        api.inject("sendMessage", "drop", times=None)
        api.send_text(new_phone, "/start new-phone-token")
        await _wait_until(committed, 60, "the binding to be committed")
        process.send_signal(signal.SIGKILL)
        await process.wait()

        def notices() -> list[str]:
            calls = api.calls("sendMessage", since=mark)
            return [c.text for c in calls if c.chat_id == old_phone.id and c.ok]

        assert notices() == []
        api.clear_faults()
        process = await _spawn(config)
        await _wait_until(lambda: _async(bool(notices())), 60, "the notice to be sent")
        await _stop(process)
    finally:
        await api.stop()
    assert notices() == [zh.REBOUND_OLD_ACCOUNT]
    async with sessions() as db:
        [notice] = (await db.scalars(select(OutboxMessage))).all()
    await engine.dispose()
    assert (notice.kind, notice.status, notice.sent_at is not None) == ("rebound", "sent", True)


async def test_sigkill_during_burst_loses_and_repeats_nothing(db_url: str, tmp_path: Path) -> None:
    await _seed(db_url)
    api = FakeBotApi()
    await api.start()
    config = _config(tmp_path, api, db_url)
    rng = random.Random(20261121)
    expected: dict[tuple[int, int], int] = {}

    def burst(n: int) -> None:
        for _ in range(n):
            user = rng.choice(USERS)
            items = rng.randint(1, 3)
            lines = [f"{k + 1}.走访企业第{rng.randint(1, 10**6)}号项目" for k in range(items)]
            update = api.send_text(user, "\n".join(lines))
            message = update["message"]
            expected[(message["chat"]["id"], message["message_id"])] = items

    # Faults on the way: Telegram errors on replies and on polling must not lose anything.
    api.inject("sendMessage", "500", times=5)
    api.inject("sendMessage", "429", times=3, retry_after=1)
    api.inject("getUpdates", "drop", times=2)
    try:
        for round_no in range(3):
            process = await _spawn(config)
            burst(150)
            sent_before = len(api.calls("sendMessage"))
            # Kill somewhere in the middle of processing this round's burst.
            target = sent_before + rng.randint(10, 60)
            await _wait_until(
                lambda t=target: _async(len(api.calls("sendMessage")) >= t),
                60,
                f"round {round_no} to get going",
            )
            process.send_signal(signal.SIGKILL)
            await process.wait()
            _, pending = await _stored(db_url)
            # The kill must land with work in flight, or this test would prove nothing.
            assert pending > 0 or api.pending_updates(), f"round {round_no}: nothing in flight"
            burst(40)  # messages that arrive while the bot is down
        process = await _spawn(config)

        async def all_stored() -> bool:
            per_message, pending = await _stored(db_url)
            return pending == 0 and len(per_message) == len(expected) and not api.pending_updates()

        await _wait_until(all_stored, 120, "every message to be stored")
        await _stop(process)
    finally:
        await api.stop()

    per_message, pending = await _stored(db_url)
    assert pending == 0
    assert dict(per_message) == expected  # every message, with exactly its items, once


async def _async(value: bool) -> bool:
    return value
