"""The chats, messages and files the fake knows about, shared by the users and the bot."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

Message = dict[str, Any]


def is_inline_markup(markup: Any) -> bool:
    """Whether ``markup`` is an ``InlineKeyboardMarkup`` (the only kind a Message carries)."""
    return isinstance(markup, dict) and isinstance(markup.get("inline_keyboard"), list)


def telegram_view(msg: Message, *, as_reply: bool = False) -> Message:
    """A deep copy of a stored message as Telegram shows it to the bot.

    A message only carries an inline keyboard as ``reply_markup``: a ForceReply the bot sent
    is recorded by the fake but never shown back. ``as_reply``: the copy is the
    ``reply_to_message`` of another message, which holds no further ``reply_to_message``.
    """
    out = copy.deepcopy(msg)
    if "reply_markup" in out and not is_inline_markup(out["reply_markup"]):
        del out["reply_markup"]
    if as_reply:
        out.pop("reply_to_message", None)
    return out


class ChatsMixin:
    """Chats, per-chat message ids, stored messages (the bot's and the users') and files."""

    bot_id: int
    bot_name: str
    username: str
    clock: Callable[[], datetime]
    _chats: dict[int | str, dict[str, Any]]
    _messages: dict[tuple[int | str, int], Message]
    _bot_messages: dict[int | str, list[int]]
    _next_msg_id: dict[int | str, int]
    _next_file: int
    _files: dict[str, dict[str, Any]]

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
        """Texts of the bot's messages in ``chat_id``, oldest first, edits applied.

        A document or a photo stands for its caption ("" without one).
        """
        out = []
        for mid in self._bot_messages.get(chat_id, ()):
            msg = self._messages[(chat_id, mid)]
            out.append(msg["text"] if "text" in msg else msg.get("caption", ""))
        return out

    def last_message_to(self, chat_id: int | str) -> Message | None:
        """A copy of the bot's latest message in ``chat_id`` (text, document or photo), or None.

        The copy is the recorded message, edits applied, with the ``reply_markup`` the bot
        sent (an inline keyboard or a ForceReply): pass its ``message_id`` to ``press_button``
        or the message itself as ``reply_to`` of ``send_text``.
        """
        mids = self._bot_messages.get(chat_id)
        return self.message(chat_id, mids[-1]) if mids else None

    def message(self, chat_id: int | str, message_id: int) -> Message | None:
        """A copy of a stored message (bot's or user's) by chat and id, or ``None``."""
        msg = self._messages.get((chat_id, message_id))
        return copy.deepcopy(msg) if msg is not None else None

    def document_bytes(self, source: Message | str) -> bytes:
        """The content of a document the bot uploaded or a user sent.

        ``source``: a message carrying a ``document`` (as recorded or returned by
        ``wait_for_reply``), a ``message`` update, a ``Document`` dict or a ``file_id``.
        """
        file_id: Any = source
        if isinstance(source, dict):
            doc = source.get("document") or source.get("message", {}).get("document") or source
            file_id = doc.get("file_id")
        stored = self._files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise LookupError(f"no document with file_id {file_id!r}")
        return stored["data"]

    def photo_bytes(self, source: Message | list[dict[str, Any]] | str) -> bytes:
        """The content of a photo the bot uploaded (sendPhoto), exactly as uploaded.

        ``source``: a message carrying a ``photo`` (as recorded or returned by
        ``wait_for_reply``), its list of ``PhotoSize`` or a ``file_id`` of any of its sizes.
        Telegram would re-encode the picture as JPEG; the fake keeps the uploaded bytes.
        """
        file_id: Any = source
        if isinstance(source, dict):
            source = source.get("photo") or []
        if isinstance(source, list):
            file_id = source[-1].get("file_id") if source else None
        stored = self._files.get(file_id) if isinstance(file_id, str) else None
        if stored is None or "photo" not in stored:
            raise LookupError(f"no photo with file_id {file_id!r}")
        return stored["data"]

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

    def _file(self, prefix: str) -> dict[str, str]:
        """A fresh ``file_id`` / ``file_unique_id`` pair."""
        self._next_file += 1
        n = self._next_file
        return {"file_id": f"{prefix}AgIAAxkBAAI{n:08d}", "file_unique_id": f"AQAD{n:08d}"}

    def _new_document(self, data: bytes, file_name: str, mime_type: str) -> dict[str, Any]:
        """Store a document's content under a fresh file id; returns its ``Document`` object."""
        document = {
            **self._file("BQAC"),
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        self._files[document["file_id"]] = {"document": document, "data": bytes(data)}
        return dict(document)

    def _new_photo(self, data: bytes, width: int, height: int) -> list[dict[str, Any]]:
        """Store an uploaded picture; returns its ``PhotoSize`` list, smallest first.

        Like Telegram: a thumbnail per side limit smaller than the picture, then the picture
        (at most 2560 on its longer side). Every size reads back as the uploaded bytes.
        """
        longer = max(width, height)
        sides = [side for side in (90, 320, 800, 1280) if side < longer] + [min(longer, 2560)]
        sizes = []
        for side in sides:
            scale = side / longer
            sizes.append(
                {
                    **self._file("AgAC"),
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                    "file_size": len(data),
                }
            )
        for size in sizes:
            self._files[size["file_id"]] = {"photo": sizes, "data": bytes(data)}
        return [dict(size) for size in sizes]
