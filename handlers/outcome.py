"""How the handling of one update ended, for the durable intake that feeds the update.

PTB hands a handler's exception to the error handler and returns normally, so the error
handler reports a transient failure here and the intake, which set up the outcome, retries.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError

from services.errors import is_storage_unavailable


@dataclass
class Outcome:
    error: BaseException | None = None


current_outcome: ContextVar[Outcome | None] = ContextVar("update_outcome", default=None)


def is_transient(error: BaseException | None) -> bool:
    """Failures worth retrying the whole update for: the database or network was unavailable."""
    if isinstance(error, BadRequest | Forbidden | InvalidToken):
        return False
    return is_storage_unavailable(error) or isinstance(
        error, NetworkError | ConnectionError | TimeoutError
    )


def report_transient(error: BaseException) -> None:
    """The update being handled must be processed again later."""
    outcome = current_outcome.get()
    if outcome is not None:
        outcome.error = error
