"""Backup and restore on real files: a consistent copy while the service writes, restores that
refuse anything doubtful and change nothing then, the daily job's retention, the CLI, and a
PostgreSQL round trip through pg_dump/pg_restore."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from bot.cli import main
from services.entries import EntrySource
from storage.backup import BackupError, _libpq, backup, backup_to_dir, restore
from storage.db import create_engine
from storage.migrate import alembic_config, downgrade, upgrade
from storage.models import LogEntry
from storage.single import AlreadyRunning, SingleProcessLock, sqlite_path
from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, pg_url
from tests.services_fixtures import Env, at

pytest_plugins = ("tests.services_fixtures",)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "roster_sample.csv"
CHAT = 9001
# Another process that holds the service's lock until its stdin closes.
HOLD_LOCK = (
    "import sys; from pathlib import Path; from storage.single import SingleProcessLock; "
    "SingleProcessLock(Path(sys.argv[1])).acquire(); print('held', flush=True); sys.stdin.read()"
)
# A process that commits a row and dies without closing: the row is only in the -wal file.
CRASH_AFTER_COMMIT = (
    "import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA wal_autocheckpoint=0'); "
    "c.execute(\"INSERT INTO units (name) VALUES ('县审计局')\"); c.commit(); os._exit(0)"
)


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(sql).fetchall()
        conn.commit()
        return rows


def entry_rows(person_id: int, days: int, items: int) -> list[dict[str, Any]]:
    """Bulk entries on `days` days before 2026-11-01, `items` a day, long enough to weigh."""
    first = date(2026, 11, 1) - timedelta(days=days)
    return [
        {
            "person_id": person_id,
            "work_date": first + timedelta(days=d),
            "item_no": n,
            "text": f"与县财政局对接第{d}天第{n}项项目资金，核对台账并起草情况汇报。" * 4,
            "kind": "regular",
            "is_late": False,
            "is_overlong": False,
            "withdrawn": False,
            "channel": "cli",
            "created_at": at(20),
            "updated_at": at(20),
        }
        for d in range(days)
        for n in range(1, items + 1)
    ]


@pytest.fixture
def live_db(tmp_path: Path, sqlite_template: Path) -> Path:
    """A migrated SQLite database where the service keeps it: data/worklog.db."""
    path = tmp_path / "data" / "worklog.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    query(path, "INSERT INTO units (name) VALUES ('县发改委')")
    return path


def state(db: Path) -> tuple[bytes, list[str]]:
    """The database's bytes and its directory's names: a refused restore changes neither."""
    return db.read_bytes(), sorted(p.name for p in db.parent.iterdir())


# -- backup ----------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_backup_while_entries_are_written_holds_every_committed_entry(
    env: Env, db_url: str, tmp_path: Path
) -> None:
    me = await env.person("c001", "王五", telegram_user_id=CHAT)
    await env.insert_rows(LogEntry, entry_rows(me, days=300, items=60))  # some 10 MB to copy
    written = 0
    stop = asyncio.Event()

    async def write() -> None:
        """The service at work: one two-item message after the other, each its own commit."""
        nonlocal written
        while not stop.is_set():
            written += 1
            text = f"1.走访企业第{written}家\n2.整理走访记录第{written}份"
            await env.entries.record(me, text, EntrySource.telegram(CHAT, written, at(20)))

    writer = asyncio.create_task(write())
    while written < 20:
        await asyncio.sleep(0.01)
    committed = {row.id for row in await env.rows(LogEntry)}
    started = written
    copy = await backup(db_url, tmp_path / "copy.db")
    during = written - started
    stop.set()
    await writer
    after = await env.count(LogEntry)

    assert during > 0  # the writes went on while the copy was made
    assert query(copy.path, "PRAGMA integrity_check") == [("ok",)]
    assert query(copy.path, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    copied = {row[0] for row in query(copy.path, "SELECT id FROM log_entries")}
    assert committed <= copied
    assert copy.entries == len(copied) and len(committed) <= len(copied) <= after
    # One snapshot: every message is in the copy whole, or not at all.
    per_message = query(
        copy.path,
        "SELECT count(*) FROM log_entries WHERE channel = 'telegram' GROUP BY source_key",
    )
    assert {n for (n,) in per_message} == {2}
    assert copy.people == 1
    assert copy.size == copy.path.stat().st_size
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".copy.db")] == []


async def test_backup_refuses_an_existing_file_unless_forced(live_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    target.write_bytes(b"an older copy")
    with pytest.raises(BackupError) as refused:
        await backup(url_of(live_db), target)
    assert refused.value.reason == "exists"
    assert target.read_bytes() == b"an older copy"

    copy = await backup(url_of(live_db), target, force=True)
    assert query(copy.path, "SELECT name FROM units") == [("县发改委",)]


async def test_backup_of_a_missing_database_or_onto_itself_is_refused(
    live_db: Path, tmp_path: Path
) -> None:
    with pytest.raises(BackupError) as missing:
        await backup(url_of(tmp_path / "none.db"), tmp_path / "copy.db")
    assert missing.value.reason == "no_database"
    before = state(live_db)
    with pytest.raises(BackupError) as itself:
        await backup(url_of(live_db), live_db, force=True)
    assert itself.value.reason == "same_file"
    assert state(live_db) == before


async def test_daily_backup_keeps_exactly_the_newest(live_db: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    for day in range(1, 6):
        (backups / f"worklog-202611{day:02d}-023000.db").write_bytes(b"old")
    (backups / "worklog-manual.db").write_bytes(b"an operator's own copy")
    (backups / "notes.txt").write_text("keep me")

    done = await backup_to_dir(url_of(live_db), backups, 3, datetime(2026, 11, 20, 2, 30))

    assert done.path == backups / "worklog-20261120-023000.db"
    assert query(done.path, "PRAGMA integrity_check") == [("ok",)]
    assert sorted(p.name for p in done.removed) == [
        "worklog-20261101-023000.db",
        "worklog-20261102-023000.db",
        "worklog-20261103-023000.db",
    ]
    assert sorted(p.name for p in backups.iterdir()) == [
        "notes.txt",
        "worklog-20261104-023000.db",
        "worklog-20261105-023000.db",
        "worklog-20261120-023000.db",
        "worklog-manual.db",
    ]


# -- restore ---------------------------------------------------------------------------------


async def test_restore_keeps_the_old_database_aside_and_brings_back_the_backup(
    live_db: Path, tmp_path: Path
) -> None:
    copy = await backup(url_of(live_db), tmp_path / "copy.db")
    query(live_db, "INSERT INTO units (name) VALUES ('县财政局')")  # after the backup
    # The service died right after a commit: that row is only in the -wal file.
    subprocess.run([sys.executable, "-c", CRASH_AFTER_COMMIT, str(live_db)], check=True)
    assert Path(f"{live_db}-wal").stat().st_size > 0

    done = await restore(url_of(live_db), copy.path, now=datetime(2026, 11, 20, 10, 0))

    assert done.aside == live_db.with_name("worklog.db.before-restore-20261120-100000")
    assert query(done.aside, "SELECT name FROM units ORDER BY id") == [
        ("县发改委",),
        ("县财政局",),
        ("县审计局",),
    ]
    assert not Path(f"{done.aside}-wal").exists()  # folded into one file
    assert query(live_db, "SELECT name FROM units") == [("县发改委",)]
    assert query(live_db, "PRAGMA integrity_check") == [("ok",)]
    assert done.revision == done.head
    assert query(live_db, "SELECT version_num FROM alembic_version") == [(done.head,)]
    # A second restore in the same second keeps the first one's aside too.
    again = await restore(url_of(live_db), copy.path, now=datetime(2026, 11, 20, 10, 0))
    assert again.aside is not None and again.aside != done.aside and done.aside.exists()


async def test_restore_onto_a_fresh_machine_migrates_an_older_backup(
    tmp_path: Path, sqlite_template: Path
) -> None:
    old = tmp_path / "old.db"
    shutil.copyfile(sqlite_template, old)
    engine = create_engine(url_of(old))
    try:
        await downgrade(engine, "-1")  # as if made by the release before
    finally:
        await engine.dispose()
    (older,) = query(old, "SELECT version_num FROM alembic_version")[0]
    db = tmp_path / "new" / "worklog.db"

    done = await restore(url_of(db), old)

    assert done.aside is None
    assert (done.revision, done.people, done.entries) == (older, 0, 0)
    assert done.head != older
    assert query(db, "SELECT version_num FROM alembic_version") == [(done.head,)]


async def test_restore_refuses_doubtful_files_and_changes_nothing(
    live_db: Path, tmp_path: Path, sqlite_template: Path
) -> None:
    good = await backup(url_of(live_db), tmp_path / "good.db")
    query(good.path, "INSERT INTO units (name) VALUES ('县财政局')")
    text_file = tmp_path / "notes.db"
    text_file.write_text("not a database", encoding="utf-8")
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.path.read_bytes()[: good.size // 2])
    garbled = tmp_path / "garbled.db"
    data = bytearray(good.path.read_bytes())
    data[8192:16384] = b"\xa5" * 8192  # pages 3 and 4
    garbled.write_bytes(bytes(data))
    future = tmp_path / "future.db"
    shutil.copyfile(good.path, future)
    query(future, "UPDATE alembic_version SET version_num = '0099_from_the_future'")
    foreign = tmp_path / "foreign.db"
    query(foreign, "CREATE TABLE things (id INTEGER PRIMARY KEY)")
    before = state(live_db)

    for source, reason in [
        (tmp_path / "none.db", "missing"),
        (text_file, "not_sqlite"),
        (truncated, "corrupt"),
        (garbled, "corrupt"),
        (future, "unknown_revision"),
        (foreign, "no_revision"),
    ]:
        with pytest.raises(BackupError) as refused:
            await restore(url_of(live_db), source)
        assert refused.value.reason == reason, source
        assert state(live_db) == before
        if reason == "unknown_revision":
            assert refused.value.fields["revision"] == "0099_from_the_future"


async def test_restore_refuses_while_the_service_runs(live_db: Path, tmp_path: Path) -> None:
    copy = await backup(url_of(live_db), tmp_path / "copy.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(live_db)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = state(live_db)
        with pytest.raises(BackupError) as refused:
            await restore(url_of(live_db), copy.path)
        assert refused.value.reason == "running"
        assert state(live_db) == before
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    done = await restore(url_of(live_db), copy.path)  # the service stopped: the lock is free
    assert done.aside is not None


def test_single_process_lock(tmp_path: Path) -> None:
    db = tmp_path / "worklog.db"
    service, other = SingleProcessLock(db), SingleProcessLock(db)
    assert not other.held_elsewhere()
    service.acquire()
    assert other.held_elsewhere()
    assert not service.held_elsewhere()  # its own lock is not "elsewhere"
    with pytest.raises(AlreadyRunning) as refused:
        other.acquire()
    assert refused.value.path == tmp_path / "worklog.db.run.lock"
    service.release()
    assert not other.held_elsewhere()
    with other:
        assert service.held_elsewhere()
    assert sqlite_path("sqlite+aiosqlite:///data/worklog.db") == Path("data/worklog.db")
    assert sqlite_path("sqlite+aiosqlite://") is None
    assert sqlite_path("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_path("postgresql+asyncpg://u@h/db") is None


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_backup_and_restore(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = ["-c", str(config_file)]
    assert main([*cli, "init"]) == 0
    assert main([*cli, "roster", "import", str(SAMPLE)]) == 0
    capsys.readouterr()
    copy = tmp_path / "备份" / "worklog.db"

    assert main([*cli, "backup", str(copy)]) == 0
    out = capsys.readouterr().out
    assert f"已备份到 {copy}" in out
    assert "人员 12 人，日志 0 条" in out
    assert "完整性检查（integrity_check）通过" in out

    assert main([*cli, "backup", str(copy)]) == 1
    assert "已存在，未覆盖；要覆盖请加 --force" in capsys.readouterr().err
    assert main([*cli, "backup", str(copy), "--force"]) == 0
    capsys.readouterr()

    not_db = tmp_path / "名单.csv"
    shutil.copyfile(SAMPLE, not_db)
    assert main([*cli, "restore", str(not_db)]) == 1
    assert "不是 SQLite 数据库文件，未恢复，数据库未改动" in capsys.readouterr().err

    db = tmp_path / "data" / "worklog.db"
    query(db, "DELETE FROM people")
    assert main([*cli, "restore", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "原数据库已另存为" in out and ".before-restore-" in out
    assert f"已从 {copy} 恢复：人员 12 人，日志 0 条。" in out
    assert query(db, "SELECT count(*) FROM people") == [(12,)]

    with SingleProcessLock(db):
        assert main([*cli, "restore", str(copy)]) == 1
    assert "正被运行中的服务（worklog run）使用" in capsys.readouterr().err


def test_cli_daily_backup_job(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backups = tmp_path / "backups"
    text = config_file.read_text().replace("[backup]\n", '[backup]\nat = "03:15"\nkeep = 2\n')
    config_file.write_text(text)
    cli = ["-c", str(config_file)]
    assert main([*cli, "init"]) == 0
    backups.mkdir()
    for day in (1, 2):
        (backups / f"worklog-2020010{day}-031500.db").write_bytes(b"old")
    capsys.readouterr()

    assert main([*cli, "jobs", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("backup\t"))
    assert f"每天03:15：备份数据库到 {backups}，保留最近2份" in line
    assert "03:15" in line.split("下次：")[1]

    assert main([*cli, "jobs", "run", "backup"]) == 0
    out = capsys.readouterr().out
    assert "已备份到" in out and "删除了1份旧备份" in out
    names = sorted(p.name for p in backups.iterdir())
    assert names[0] == "worklog-20200102-031500.db" and len(names) == 2
    assert query(backups / names[1], "SELECT count(*) FROM alembic_version") == [(1,)]

    config_file.write_text(config_file.read_text().replace("keep = 2", "enabled = false"))
    assert main([*cli, "jobs", "run", "backup"]) == 2
    assert "没有任务「backup」" in capsys.readouterr().err


def test_cli_without_pg_dump_names_the_command_and_hides_the_password(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config_file.write_text(
        '[database]\nurl = "postgresql+asyncpg://worklog:s3cret@db.example:5432/worklog"\n'
    )
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))

    assert main(["-c", str(config_file), "backup", str(tmp_path / "worklog.dump")]) == 1

    err = capsys.readouterr().err
    assert "找不到 pg_dump" in err
    assert "pg_dump --format=custom --file" in err
    assert "postgresql://worklog@db.example:5432/worklog" in err
    assert "s3cret" not in err
    assert not (tmp_path / "worklog.dump").exists()


def test_libpq_url_carries_no_password() -> None:
    libpq, env = _libpq("postgresql+asyncpg://worklog:p%40ss@127.0.0.1:5432/worklog")
    assert libpq == "postgresql://worklog@127.0.0.1:5432/worklog"
    assert env["PGPASSWORD"] == "p@ss"


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture
async def scratch_pg(pg_template: str | None) -> Any:
    """An empty PostgreSQL database (no schema at all), dropped afterwards."""
    if pg_template is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}")
    name = f"wl_restore_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pg_url(name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_postgresql_round_trip(
    env: Env, db_url: str, scratch_pg: str, tmp_path: Path
) -> None:
    me = await env.person("c001", "王五", telegram_user_id=CHAT)
    await env.entries.record(
        me, "1.走访企业\n2.整理台账\n3.起草汇报", EntrySource.telegram(CHAT, 1, at(20))
    )

    copy = await backup(db_url, tmp_path / "worklog.dump")

    assert (copy.people, copy.entries) == (1, 3)
    assert copy.path.read_bytes()[:5] == b"PGDMP"
    await env.entries.record(me, "值班", EntrySource.telegram(CHAT, 2, at(20)))
    with pytest.raises(BackupError) as unconfirmed:
        await restore(db_url, copy.path)
    assert unconfirmed.value.reason == "confirm_pg"
    assert await env.count(LogEntry) == 4
    not_dump = tmp_path / "notes.dump"
    not_dump.write_text("not a dump")
    with pytest.raises(BackupError) as refused:
        await restore(db_url, not_dump, yes=True)
    assert refused.value.reason == "not_dump"

    await env.engine.dispose()  # the service is stopped
    done = await restore(db_url, copy.path, yes=True)
    assert (done.people, done.entries, done.aside) == (1, 3, None)
    assert await env.count(LogEntry) == 3

    fresh = await restore(scratch_pg, copy.path, yes=True)
    assert (fresh.people, fresh.entries) == (1, 3)
    assert fresh.head == done.head == done.revision


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_postgresql_restore_of_an_older_release_dump(
    env: Env, db_url: str, scratch_pg: str, tmp_path: Path
) -> None:
    """The database is at head (tables the dump lacks refer to ones it has): all replaced."""
    scripts = ScriptDirectory.from_config(alembic_config())
    older = scripts.get_revision(scripts.get_current_head()).down_revision
    engine = create_engine(scratch_pg)
    try:
        await upgrade(engine, str(older))
    finally:
        await engine.dispose()
    copy = await backup(scratch_pg, tmp_path / "older.dump")
    await env.person("c001", "王五")
    await env.engine.dispose()

    done = await restore(db_url, copy.path, yes=True)

    assert (done.revision, done.people, done.entries) == (older, 0, 0)
    assert done.head == scripts.get_current_head()
