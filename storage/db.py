"""Engine and session factory; SQLite gets WAL and foreign keys, PostgreSQL goes through asyncpg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, NotSupportedError, ProgrammingError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the tail).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str, echo: bool = False) -> AsyncEngine:
    """Create the async engine for `url`, making the SQLite directory if needed."""
    parsed = make_url(url)
    # An error's text leaves out the statement's parameters: they can hold a cadre's entry,
    # and errors are logged.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        # Session.close() already rolled back; a second rollback on check-in is one more
        # round trip to the aiosqlite thread for every unit of work.
        kwargs["pool_reset_on_return"] = None
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# SQLSTATE classes of a mistake in the statement or its data: data exception, syntax or
# access rule violation, feature not supported. Retrying cannot help.
NOT_TRANSIENT_STATES = frozenset({"22", "42", "0A"})


def is_transient_error(error: BaseException | None) -> bool:
    """A database failure that may pass: unreachable, refusing, locked, a lost connection.

    Every driver error but a mistake in the statement or its data counts, whatever class
    the driver gives it (asyncpg reports "not accepting connections" as a plain DBAPIError).
    IntegrityError counts too: two writers racing for a day's next entry number; retrying
    renumbers. A real bug is retried a few times and then parked with its text kept.
    """
    if isinstance(error, DBAPIError):
        # PostgreSQL's SQLSTATE says more than the class asyncpg's adapter picks.
        state = str(getattr(error.orig, "sqlstate", "") or "")
        if state[:2] in NOT_TRANSIENT_STATES:
            return False
        return not isinstance(error, ProgrammingError | DataError | NotSupportedError)
    return isinstance(error, SQLAlchemyTimeoutError | ConnectionError | OSError)
