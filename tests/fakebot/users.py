"""Simulated users: what they send, edit, press and block turns into queued updates."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .chats import Message, telegram_view
from .updates import UpdatesMixin

Date = datetime | int | None
Update = dict[str, Any]
# What a user may reply to: a stored message (as recorded, e.g. ``last_message_to``), the
# ``message`` update that carried it (as ``send_text`` returns) or its ``message_id``.
ReplyTo = Message | Update | int | None

_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")


@dataclass(frozen=True)
class FakeUser:
    """A simulated Telegram user talking to the bot in a private chat."""

    id: int
    first_name: str = "Tester"
    username: str | None = None
    language_code: str | None = "zh-hans"
    last_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The Bot API ``User`` object."""
        out: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    def chat(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object of the private chat with this user."""
        out: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        for key in ("last_name", "username"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def _utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for every ``/command[@bot]`` in ``text``."""
    return [
        {
            "type": "bot_command",
            "offset": _utf16_len(text[: m.start()]),
            "length": _utf16_len(m.group()),
        }
        for m in _COMMAND_RE.finditer(text)
    ]


def _with_text(key: str, text: str | None, entities_key: str) -> dict[str, Any]:
    """``{key: text}`` plus the command entities Telegram would attach (nothing for ``None``)."""
    if text is None:
        return {}
    entities = command_entities(text)
    return {key: text, entities_key: entities} if entities else {key: text}


class UsersMixin(UpdatesMixin):
    """Acting as users: each method queues the update Telegram would deliver to the bot."""

    _next_file: int
    _next_query: int
    _blocked: set[int]

    def send_text(
        self,
        user: FakeUser,
        text: str,
        date: Date = None,
        *,
        chat: dict[str, Any] | None = None,
        reply_to: ReplyTo = None,
    ) -> Update:
        """``user`` sends ``text`` (in ``chat``, default: private chat); returns the update.

        ``reply_to``: the message of that chat it replies to (the bot's or a user's), which
        the update carries as ``reply_to_message`` like Telegram does.
        """
        content = _with_text("text", text, "entities")
        return self._user_message(user, date, content, chat, reply_to)

    def send_photo(
        self,
        user: FakeUser,
        caption: str | None = None,
        date: Date = None,
        *,
        reply_to: ReplyTo = None,
    ) -> Update:
        """``user`` sends a photo (three sizes) with an optional caption; returns the update."""
        sizes = [{**self._file("AgAC"), "width": s, "height": s} for s in (90, 320, 800)]
        content = {"photo": sizes, **_with_text("caption", caption, "caption_entities")}
        return self._user_message(user, date, content, reply_to=reply_to)

    def send_document(
        self,
        user: FakeUser,
        data: bytes = b"hello",
        filename: str = "file.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        date: Date = None,
        *,
        reply_to: ReplyTo = None,
    ) -> Update:
        """``user`` sends a file with an optional caption (its ``file_id`` can be sent back).

        The content is kept: see ``document_bytes``.
        """
        document = self._new_document(data, filename, mime_type)
        content = {"document": document, **_with_text("caption", caption, "caption_entities")}
        return self._user_message(user, date, content, reply_to=reply_to)

    def send_sticker(self, user: FakeUser, emoji: str = "👍", date: Date = None) -> Update:
        """``user`` sends a sticker; returns the update."""
        sticker = {
            **self._file("CAAC"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_message(user, date, {"sticker": sticker})

    def send_voice(self, user: FakeUser, duration: int = 3, date: Date = None) -> Update:
        """``user`` sends a voice note; returns the update."""
        voice = {**self._file("AwAC"), "duration": duration, "mime_type": "audio/ogg"}
        return self._user_message(user, date, {"voice": voice})

    def edit_text(
        self, user: FakeUser, message_id: int, new_text: str, date: Date = None
    ) -> Update:
        """``user`` edits their text message; queues an ``edited_message`` update."""
        msg = self._messages.get((user.id, message_id))
        if msg is None or msg.get("from", {}).get("id") != user.id or "text" not in msg:
            raise ValueError(f"user {user.id} has no text message {message_id} to edit")
        # Copy on write: the original message may still sit unconfirmed in the update queue.
        msg = {k: v for k, v in msg.items() if k not in ("text", "entities")}
        msg.update(_with_text("text", new_text, "entities"), edit_date=self._date(date))
        self._messages[(user.id, message_id)] = msg
        return self.enqueue({"edited_message": copy.deepcopy(msg)})

    def press_button(
        self, user: FakeUser, bot_message_id: int, data: str, *, strict: bool = True
    ) -> Update:
        """``user`` presses an inline button of a bot message in their private chat.

        With ``strict`` the message must currently show a button with this callback data.
        """
        msg = self._messages.get((user.id, bot_message_id))
        if msg is None or msg["from"]["id"] != self.bot_id:
            raise ValueError(f"no bot message {bot_message_id} in chat {user.id}")
        rows = msg.get("reply_markup", {}).get("inline_keyboard", [])
        shown = [button.get("callback_data") for row in rows for button in row]
        if strict and data not in shown:
            raise ValueError(
                f"message {bot_message_id} has no button with callback_data {data!r}; "
                f"buttons: {shown}"
            )
        self._next_query += 1
        query = {
            "id": str(4_000_000_000_000_000_000 + self._next_query),
            "from": user.to_dict(),
            "message": telegram_view(msg),
            "chat_instance": str(-(7_000_000_000_000_000_000 + user.id)),
            "data": data,
        }
        return self.enqueue({"callback_query": query})

    def block(self, user: FakeUser, *, notify: bool = True) -> None:
        """``user`` blocks the bot: sends to them fail with 403 "bot was blocked by the user"."""
        self._blocked.add(user.id)
        if notify:
            self._member_status(user, "member", "kicked")

    def unblock(self, user: FakeUser, *, notify: bool = True) -> None:
        """``user`` unblocks the bot."""
        self._blocked.discard(user.id)
        if notify:
            self._member_status(user, "kicked", "member")

    def _member_status(self, user: FakeUser, old: str, new: str) -> None:
        """Queue the ``my_chat_member`` update of a private chat."""
        members = [{"status": s, "user": self.bot_user} for s in (old, new)]
        for member in members:
            if member["status"] == "kicked":
                member["until_date"] = 0
        update = {
            "chat": user.chat(),
            "from": user.to_dict(),
            "date": self._date(),
            "old_chat_member": members[0],
            "new_chat_member": members[1],
        }
        self.enqueue({"my_chat_member": update})

    def _user_message(
        self,
        user: FakeUser,
        date: Date,
        content: dict[str, Any],
        chat: dict[str, Any] | None = None,
        reply_to: ReplyTo = None,
    ) -> dict[str, Any]:
        """Queue a ``message`` update from ``user`` with ``content``; returns the update."""
        chat = dict(chat) if chat else user.chat()
        replied = None if reply_to is None else self._reply_target(chat["id"], reply_to)
        self._remember_chat(chat)
        msg = {
            "message_id": self._alloc_message_id(chat["id"]),
            "from": user.to_dict(),
            "chat": chat,
            "date": self._date(date),
        }
        if replied is not None:
            msg["reply_to_message"] = replied
        msg.update(content)
        return self.enqueue({"message": msg})

    def _reply_target(self, chat_id: int | str, reply_to: Message | Update | int) -> Message:
        """The ``reply_to_message`` of a user message replying to ``reply_to`` in a chat.

        The message must exist in that chat; its stored version (edits applied) is used.
        """
        if isinstance(reply_to, dict) and "message_id" not in reply_to:
            reply_to = reply_to.get("message") or {}  # a ``message`` update
        if isinstance(reply_to, dict):
            if "message_id" not in reply_to:
                raise ValueError("reply_to must be a message, a message update or a message id")
            other = reply_to.get("chat", {}).get("id", chat_id)
            if other != chat_id:
                raise ValueError(f"can't reply in chat {chat_id} to a message of chat {other}")
            message_id = int(reply_to["message_id"])
        else:
            message_id = int(reply_to)
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            raise ValueError(f"no message {message_id} in chat {chat_id} to reply to")
        return telegram_view(stored, as_reply=True)
