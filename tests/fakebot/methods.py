"""The Bot API methods the bot calls, besides getUpdates (see ``updates.py``)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from .chats import ChatsMixin, Message
from .common import ApiError, as_int, bad

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64

_BOT_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
    """Dictionary key of a command scope and language."""
    if isinstance(scope, str):
        scope = json.loads(scope)
    return json.dumps(scope or {"type": "default"}, sort_keys=True), str(language_code or "")


def _text(params: dict[str, Any]) -> str:
    """The ``text`` of a send or edit, stripped like Telegram and checked for length."""
    if params.get("parse_mode"):
        raise bad("parse_mode is not supported by the fake Bot API")
    text = str(params.get("text") or "").strip()
    if not text:
        raise bad("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad("message is too long")
    return text


def _inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """The validated inline keyboard of ``reply_markup``, if any (the only kind supported)."""
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            raise bad("can't parse reply keyboard markup JSON object") from None
    if markup is None:
        return None
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        raise bad("reply_markup: the fake Bot API only supports inline keyboards")
    for row in markup["inline_keyboard"]:
        if not isinstance(row, list):
            raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        for button in row:
            _check_button(button)
    return markup


def _check_button(button: Any) -> None:
    """Reject an inline button without text, without an action or with bad callback data."""
    looks = {"text", "style", "icon_custom_emoji_id"}
    if not isinstance(button, dict) or not button.get("text") or not set(button) - looks:
        raise bad("can't parse inline keyboard button: Text buttons are unallowed")
    data = button.get("callback_data")
    if data is not None and not 0 < len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
        raise bad("BUTTON_DATA_INVALID")


class MethodsMixin(ChatsMixin):
    """``_api_<snake_name>(params)`` answers Bot API method ``<name>`` or raises ApiError."""

    strict_chats: bool
    _blocked: set[int]
    _open_queries: set[str]
    _commands: dict[tuple[str, str], list[dict[str, str]]]

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list:
        """The command list set with setMyCommands for a scope and language."""
        return list(self._commands.get(_commands_key(scope, language_code), []))

    def _api_get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        """getMe."""
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_send_message(self, params: dict[str, Any]) -> Message:
        """sendMessage: plain text, optionally an inline keyboard and a replied-to message."""
        chat = self._target_chat(params)
        text = _text(params)
        markup = _inline_markup(params)
        msg: Message = {
            "message_id": self._alloc_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": self._date(),
            "text": text,
        }
        replied = self._replied(params, chat["id"])
        if replied is not None:
            msg["reply_to_message"] = replied
        if markup is not None:
            msg["reply_markup"] = markup
        self._messages[(chat["id"], msg["message_id"])] = msg
        self._bot_messages.setdefault(chat["id"], []).append(msg["message_id"])
        return dict(msg)

    def _api_edit_message_text(self, params: dict[str, Any]) -> Message:
        """editMessageText of a bot message; the keyboard goes unless sent again."""
        if "chat_id" not in params:
            raise bad("chat_id is empty")
        msg = self._messages.get((params["chat_id"], as_int(params, "message_id")))
        if msg is None:
            raise bad("message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise bad("message can't be edited")
        text, markup = _text(params), _inline_markup(params)
        if msg["text"] == text and msg.get("reply_markup") == markup:
            raise bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg["text"] = text
        msg.pop("reply_markup", None)
        if markup is not None:
            msg["reply_markup"] = markup
        msg["edit_date"] = self._date()
        return dict(msg)

    def _api_answer_callback_query(self, params: dict[str, Any]) -> bool:
        """answerCallbackQuery: each query can be answered once."""
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        self._open_queries.discard(query_id)
        return True

    def _api_set_my_commands(self, params: dict[str, Any]) -> bool:
        """setMyCommands, validating names and descriptions like Telegram."""
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("commands must be an array of at most 100 BotCommand")
        for cmd in commands:
            if not _BOT_COMMAND_NAME_RE.match(str(cmd.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", "")).strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = _commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _target_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        """The chat a send writes to: known (unless ``strict_chats`` is off) and not blocked."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad("chat_id is empty")
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict_chats or not isinstance(chat_id, int):
                raise bad("chat not found")
            chat = {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
            if chat_id < 0:
                chat = {"id": chat_id, "type": "supergroup", "title": f"Group{chat_id}"}
            self._chats[chat_id] = chat
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _replied(self, params: dict[str, Any], chat_id: int | str) -> Message | None:
        """A copy of the message named by ``reply_parameters``, if any."""
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        if not isinstance(reply, dict) or "message_id" not in reply:
            return None
        replied = self._messages.get((chat_id, int(reply["message_id"])))
        if replied is None and not reply.get("allow_sending_without_reply"):
            raise bad("message to be replied not found")
        return copy.deepcopy(replied)
