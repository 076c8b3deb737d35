"""The typed CallbackContext: handlers reach the use cases through `context.services`."""

from __future__ import annotations

from telegram.ext import Application, CallbackContext, ExtBot

from services import Services
from services.identity import Actor


class WorklogContext(CallbackContext[ExtBot[None], dict, dict, dict]):
    """Adds `services` (shared per app) and `actor` (set per update by the auth group)."""

    def __init__(
        self,
        application: Application,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self.actor: Actor | None = None

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    def require_actor(self) -> Actor:
        assert self.actor is not None, "auth group did not run"
        return self.actor
