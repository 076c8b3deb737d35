"""Backup and restore of the whole database: SQLite by its online backup API, PostgreSQL by
pg_dump, pg_restore and psql. Every refusal is a `BackupError` whose reason keys a Chinese
wording."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from storage.db import create_engine
from storage.migrate import alembic_config, upgrade
from storage.single import AlreadyRunning, SingleProcessLock, sqlite_path

SQLITE_HEADER = b"SQLite format 3\x00"
# The scheduled backups in [backup] dir; the timestamp makes name order the age order.
SCHEDULED_NAME = re.compile(r"worklog-\d{8}-\d{6}\.(db|dump)")
KEY_TABLES = ("people", "log_entries")


class BackupError(Exception):
    """Nothing was changed: `reason` keys zh.BACKUP_ERRORS, `fields` fill its blanks."""

    def __init__(self, reason: str, **fields: object) -> None:
        super().__init__(f"{reason}: {fields}")
        self.reason = reason
        self.fields = fields


@dataclass(frozen=True)
class Copy:
    """A finished backup file and what it holds (None: the table is not in it)."""

    path: Path
    size: int
    people: int | None
    entries: int | None


@dataclass(frozen=True)
class Restored:
    source: Path
    aside: Path | None  # where the database before the restore was kept (SQLite)
    revision: str  # the backup's schema revision
    head: str  # the revision after the migrations
    people: int
    entries: int


@dataclass(frozen=True)
class ScheduledBackup:
    path: Path
    size: int
    removed: list[Path]  # older backups deleted beyond `keep`


# -- backup --------------------------------------------------------------------------------------


async def backup(url: str, target: Path, *, force: bool = False) -> Copy:
    """Copy the database at `url` into `target`, written beside it and renamed when complete."""
    if target.exists() and not force:
        raise BackupError("exists", path=target)
    db = sqlite_path(url)
    if db is not None:
        return await asyncio.to_thread(_sqlite_backup, db, target)
    if make_url(url).get_backend_name() == "postgresql":
        return await _pg_backup(url, target)
    raise BackupError("unsupported", url=make_url(url).render_as_string())


async def backup_to_dir(url: str, directory: Path, keep: int, now: datetime) -> ScheduledBackup:
    """The daily backup: `worklog-<local time>.db` (`.dump` for PostgreSQL), then retention."""
    suffix = ".db" if sqlite_path(url) is not None else ".dump"
    # Run twice within a second (by hand), the newer copy replaces the older.
    copy = await backup(url, directory / f"worklog-{now:%Y%m%d-%H%M%S}{suffix}", force=True)
    return ScheduledBackup(copy.path, copy.size, prune(directory, keep))


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete the oldest scheduled backups beyond the newest `keep` (at least one stays)."""
    found = sorted(p for p in directory.iterdir() if SCHEDULED_NAME.fullmatch(p.name))
    old = found[: max(len(found) - max(keep, 1), 0)]
    for path in old:
        path.unlink()
    return old


def _sqlite_backup(db: Path, target: Path) -> Copy:
    if not db.is_file():
        raise BackupError("no_database", path=db)
    if target.exists() and target.resolve() == db.resolve():
        raise BackupError("same_file", path=target)
    with _temp_beside(target) as temp:
        _sqlite_copy(db, temp)
        problem = _integrity_problem(temp)
        if problem is not None:
            raise BackupError("copy_corrupt", path=db, detail=problem)
        os.replace(temp, target)
    people, entries = _sqlite_counts(target)
    return Copy(target, target.stat().st_size, people, entries)


def _sqlite_copy(source: Path, target: Path) -> None:
    """One consistent snapshot by the backup API: WAL lets the service write meanwhile."""
    src = _read_only(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one snapshot
            # One self-contained file, whatever journal mode the source uses.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _read_only(path: Path) -> sqlite3.Connection:
    """Read-only, also beside a running service in WAL mode (SQLite 3.22+)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _integrity_problem(path: Path) -> str | None:
    """None when `PRAGMA integrity_check` says ok, else what it (or SQLite) said."""
    try:
        with contextlib.closing(_read_only(path)) as c:
            rows = [row[0] for row in c.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if rows == ["ok"] else "; ".join(str(r) for r in rows[:3])


def _sqlite_counts(path: Path) -> tuple[int | None, int | None]:
    with contextlib.closing(_read_only(path)) as c:
        found = {}
        for table in KEY_TABLES:
            try:
                found[table] = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except sqlite3.OperationalError:  # not migrated that far
                found[table] = None
    return found["people"], found["log_entries"]


@contextlib.contextmanager
def _temp_beside(target: Path) -> Iterator[Path]:
    """An empty file in the target's directory (so the rename is atomic), removed if left."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
    finally:
        for leftover in ("", "-journal", "-wal", "-shm"):
            Path(f"{temp}{leftover}").unlink(missing_ok=True)


# -- restore -------------------------------------------------------------------------------------


async def restore(
    url: str, source: Path, *, yes: bool = False, now: datetime | None = None
) -> Restored:
    """Replace the database at `url` by the backup `source`, after checks that change nothing,
    then migrate it to head."""
    stamp = f"{now or datetime.now():%Y%m%d-%H%M%S}"
    db = sqlite_path(url)
    if db is not None:
        revision = await asyncio.to_thread(_check_sqlite_backup, source)
        lock = SingleProcessLock(db)
        try:
            lock.acquire()  # held until migrated, so `worklog run` cannot start meanwhile
        except AlreadyRunning as exc:
            raise BackupError("running", path=db, lock=exc.path) from None
        try:
            aside = await asyncio.to_thread(_swap_in, source, db, stamp)
            head, people, entries = await _migrate_and_count(url)
        finally:
            lock.release()
        return Restored(source, aside, revision, head, people, entries)
    if make_url(url).get_backend_name() == "postgresql":
        revision = await _check_pg_backup(source)
        if not yes:
            raise BackupError("confirm_pg")
        await _pg_load(url, source)
        head, people, entries = await _migrate_and_count(url)
        return Restored(source, None, revision, head, people, entries)
    raise BackupError("unsupported", url=make_url(url).render_as_string())


def _check_sqlite_backup(source: Path) -> str:
    """The backup's revision, once it proved a sound SQLite database of a known schema."""
    if not source.is_file():
        raise BackupError("missing", path=source)
    with source.open("rb") as file:
        if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError("not_sqlite", path=source)
    problem = _integrity_problem(source)
    if problem is not None:
        raise BackupError("corrupt", path=source, detail=problem)
    with contextlib.closing(_read_only(source)) as conn:
        try:
            revisions = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
        except sqlite3.OperationalError:
            revisions = []
    return _known_revision(source, revisions)


def _known_revision(source: Path, revisions: Sequence[str]) -> str:
    if not revisions:
        raise BackupError("no_revision", path=source)
    known = {script.revision for script in _scripts().walk_revisions()}
    unknown = [r for r in revisions if r not in known]
    if unknown:
        raise BackupError("unknown_revision", path=source, revision=",".join(unknown))
    return ",".join(revisions)


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _swap_in(source: Path, db: Path, stamp: str) -> Path | None:
    """Copy `source` beside `db`, set the old database aside (with its WAL), rename it in."""
    with _temp_beside(db) as temp:
        _sqlite_copy(source, temp)
        aside = None
        if db.exists():
            aside = _unused(db.with_name(f"{db.name}.before-restore-{stamp}"))
            os.replace(db, aside)
            if Path(f"{db}-wal").exists():  # committed rows not yet in the main file
                os.replace(f"{db}-wal", f"{aside}-wal")
            _fold_wal(aside)
        # A stale -wal/-shm beside the new file would be read as part of it.
        for stale in ("-wal", "-shm", "-journal"):
            Path(f"{db}{stale}").unlink(missing_ok=True)
        os.replace(temp, db)
    return aside


def _unused(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _fold_wal(path: Path) -> None:
    """Make the set-aside database one file again; a damaged one is kept as it is."""
    with (
        contextlib.suppress(sqlite3.DatabaseError),
        contextlib.closing(sqlite3.connect(path)) as conn,
    ):
        conn.execute("PRAGMA journal_mode=DELETE")


async def _migrate_and_count(url: str) -> tuple[str, int, int]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            head = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            people = await conn.scalar(text("SELECT count(*) FROM people"))
            entries = await conn.scalar(text("SELECT count(*) FROM log_entries"))
    finally:
        await engine.dispose()
    return str(head), int(people or 0), int(entries or 0)


# -- PostgreSQL ----------------------------------------------------------------------------------


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL for pg_dump/pg_restore (no password in it) and the environment that
    carries the password, so it shows neither in `ps` nor in any output."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = URL.create(  # URL.set(password=None) would keep the password
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return plain.render_as_string(hide_password=False), env


async def _pg_backup(url: str, target: Path) -> Copy:
    libpq, env = _libpq(url)
    with _temp_beside(target) as temp:
        hand = ["pg_dump", "--format=custom", "--file", str(target), libpq]
        await _run(["pg_dump", "--format=custom", "--file", str(temp), libpq], env, hand=hand)
        counts, _ = await _pg_data(temp, KEY_TABLES)
        os.replace(temp, target)
    return Copy(target, target.stat().st_size, counts.get("people"), counts.get("log_entries"))


async def _pg_load(url: str, source: Path) -> None:
    """Empty the schema and load the dump in one transaction: tables the dump lacks (an older
    release's dump) go too, and on any error the database stays as it was. pg_restore --clean
    would leave newer tables, whose foreign keys then block dropping the old ones."""
    libpq, env = _libpq(url)
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "restore.sql"  # whole before loading: no half a dump committed
        await _run(["pg_restore", "--no-owner", "--file", str(script), str(source)])
        load = ["psql", "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1"]
        schema = ["--command=DROP SCHEMA public CASCADE", "--command=CREATE SCHEMA public"]
        await _run([*load, *schema, "--file", str(script), "--dbname", libpq], env)


async def _check_pg_backup(source: Path) -> str:
    if not source.is_file():
        raise BackupError("missing", path=source)
    try:
        await _run(["pg_restore", "--list", str(source)])
    except BackupError as exc:
        if exc.reason != "tool_failed":
            raise
        raise BackupError("not_dump", path=source, detail=exc.fields["detail"]) from None
    _, revisions = await _pg_data(source, ("alembic_version",))
    return _known_revision(source, revisions)


async def _pg_data(dump: Path, tables: Sequence[str]) -> tuple[Counter[str], list[str]]:
    """Rows per table in the dump's data, and the alembic_version values if asked for."""
    args = ["pg_restore", "--data-only", "--file=-", *(f"--table={t}" for t in tables), str(dump)]
    _require(args[0], args)
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    counts: Counter[str] = Counter()
    versions: list[str] = []
    table = None
    async for raw in process.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if table is None:
            copy = re.match(r'COPY (?:\S+\.)?"?(\w+)"? .*FROM stdin;$', line)
            if copy:
                table = copy.group(1)
                counts[table] += 0  # an empty table still has its COPY block
        elif line == "\\.":
            table = None
        else:
            counts[table] += 1
            if table == "alembic_version":
                versions.append(line.split("\t")[0])
    error = (await process.stderr.read()).decode("utf-8", "replace").strip()
    if await process.wait() != 0:
        raise BackupError("tool_failed", tool=args[0], detail=error[-500:])
    return counts, versions


def _require(tool: str, hand: Sequence[str]) -> str:
    found = shutil.which(tool)
    if found is None:
        raise BackupError("tool_missing", tool=tool, command=shlex.join(hand))
    return found


async def _run(
    args: list[str], env: dict[str, str] | None = None, hand: Sequence[str] | None = None
) -> None:
    """Run a PostgreSQL client tool; its error output becomes the BackupError's detail."""
    _require(args[0], hand or args)
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, error = await process.communicate()
    if process.returncode != 0:
        detail = error.decode("utf-8", "replace").strip()[-500:]
        raise BackupError("tool_failed", tool=args[0], detail=detail)
