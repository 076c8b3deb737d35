"""The chats and messages the fake knows about, shared by the users and the bot."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

Message = dict[str, Any]


class ChatsMixin:
    """Chats, per-chat message ids and stored messages (the bot's and the users')."""

    bot_id: int
    bot_name: str
    username: str
    clock: Callable[[], datetime]
    _chats: dict[int | str, dict[str, Any]]
    _messages: dict[tuple[int | str, int], Message]
    _bot_messages: dict[int | str, list[int]]
    _next_msg_id: dict[int | str, int]

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's ``User`` object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.username,
        }

    def messages_to(self, chat_id: int | str) -> list[str]:
        """Texts of the bot's messages in ``chat_id``, oldest first, edits applied."""
        return [
            self._messages[(chat_id, mid)]["text"] for mid in self._bot_messages.get(chat_id, ())
        ]

    def last_message_to(self, chat_id: int | str) -> Message | None:
        """A copy of the bot's latest message in ``chat_id``, or ``None``."""
        mids = self._bot_messages.get(chat_id)
        return self.message(chat_id, mids[-1]) if mids else None

    def message(self, chat_id: int | str, message_id: int) -> Message | None:
        """A copy of a stored message (bot's or user's) by chat and id, or ``None``."""
        msg = self._messages.get((chat_id, message_id))
        return copy.deepcopy(msg) if msg is not None else None

    def _remember_chat(self, chat: dict[str, Any]) -> None:
        """Record a chat the bot may now write to."""
        self._chats[chat["id"]] = dict(chat)

    def _alloc_message_id(self, chat_id: int | str) -> int:
        """Next message id in a chat (shared by the bot and the users, like Telegram)."""
        mid = self._next_msg_id.get(chat_id, 0) + 1
        self._next_msg_id[chat_id] = mid
        return mid

    def _date(self, value: datetime | int | None = None) -> int:
        """Unix timestamp of a message date: ``value`` or, by default, the fake's clock."""
        if value is None:
            value = self.clock()
        return int(value.timestamp()) if isinstance(value, datetime) else int(value)
