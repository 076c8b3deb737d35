"""Domain errors: each carries the Chinese reply the cadre sees; one error handler renders it."""

from __future__ import annotations

from storage.db import is_transient_error
from storage.uow import ClaimLost as ClaimLost  # the intake's, re-exported for the handlers


class DomainError(Exception):
    """A refusal the user caused and can fix; `reply` is shown to them as is."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class InviteInvalid(DomainError):
    """The /start token is unknown, used or expired."""


class UsageError(DomainError):
    """A command was called with missing or malformed arguments."""


class NotFound(DomainError):
    """The entry, day or person the user referred to does not exist for them."""


class NotAllowed(DomainError):
    """The user may not do this (outside the backfill window, someone else's entry, ...)."""


def is_storage_unavailable(error: BaseException | None) -> bool:
    """Whether the database failed in a way that passes: the request should be tried again."""
    return is_transient_error(error)
