"""The Bot API methods the bot calls, besides getUpdates (see ``updates.py``)."""

from __future__ import annotations

import json
import mimetypes
import re
import struct
from typing import Any

from .chats import ChatsMixin, Message, is_inline_markup, telegram_view
from .common import ApiError, UploadedFile, as_int, bad

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_PLACEHOLDER_LENGTH = 64
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # what a bot may upload through the Bot API
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto's limit
MAX_PHOTO_SIDES = 10_000  # width + height of a photo, at most
MAX_PHOTO_RATIO = 20  # the longer side over the shorter, at most
FORCE_REPLY_FIELDS = frozenset({"force_reply", "input_field_placeholder", "selective"})

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


def _caption(params: dict[str, Any]) -> str:
    """The ``caption`` of a media send, stripped like Telegram ("" when none)."""
    if params.get("parse_mode"):
        raise bad("parse_mode is not supported by the fake Bot API")
    caption = str(params.get("caption") or "").strip()
    if len(caption) > MAX_CAPTION_LENGTH:
        raise bad("message caption is too long")
    return caption


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG picture, or None when it is neither."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        # Start of frame (baseline, progressive, …); C4, C8 and CC are other segments.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        pos += 2 + length
    return None


def _load_markup(params: dict[str, Any]) -> Any:
    """The ``reply_markup`` parameter, JSON-decoded when it came as a string."""
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            raise bad("can't parse reply keyboard markup JSON object") from None
    return markup


def _inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """The validated inline keyboard of ``reply_markup``, if any (edits allow nothing else)."""
    return _checked_inline(_load_markup(params), "inline keyboards")


def _send_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """The validated ``reply_markup`` of a send: an inline keyboard or a ForceReply, if any."""
    markup = _load_markup(params)
    if isinstance(markup, dict) and "force_reply" in markup:
        return _checked_force_reply(markup)
    return _checked_inline(markup, "inline keyboards and ForceReply")


def _checked_inline(markup: Any, supported: str) -> dict[str, Any] | None:
    """``markup`` when it is ``None`` or a valid inline keyboard; otherwise a 400."""
    if markup is None:
        return None
    if not is_inline_markup(markup):
        raise bad(f"reply_markup: the fake Bot API only supports {supported}")
    for row in markup["inline_keyboard"]:
        if not isinstance(row, list):
            raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        for button in row:
            _check_button(button)
    return markup


def _checked_force_reply(markup: dict[str, Any]) -> dict[str, Any]:
    """A valid ``ForceReply`` object, or a 400."""
    unknown = sorted(set(markup) - FORCE_REPLY_FIELDS)
    if unknown:
        raise bad(f"reply_markup: unexpected ForceReply field(s) {unknown}")
    if markup["force_reply"] is not True:
        raise bad("reply_markup: force_reply must be True")
    if "selective" in markup and not isinstance(markup["selective"], bool):
        raise bad("reply_markup: selective must be a Boolean")
    placeholder = markup.get("input_field_placeholder")
    if placeholder is not None and not (
        isinstance(placeholder, str) and 1 <= len(placeholder) <= MAX_PLACEHOLDER_LENGTH
    ):
        raise bad("reply_markup: input_field_placeholder must have 1-64 characters")
    return dict(markup)


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
    max_upload_bytes: int
    _blocked: set[int]
    _open_queries: set[str]
    _commands: dict[tuple[str, str], list[dict[str, str]]]
    menu_button: dict[str, Any]

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
        """sendMessage: plain text, optionally a reply markup and a replied-to message."""
        chat = self._target_chat(params)
        text = _text(params)
        return self._send(chat, params, _send_markup(params), {"text": text})

    def _api_send_document(self, params: dict[str, Any]) -> Message:
        """sendDocument: an uploaded file (multipart) or a known ``file_id``, with a caption."""
        chat = self._target_chat(params)
        caption = _caption(params)
        markup = _send_markup(params)
        content: dict[str, Any] = {"document": self._document_param(params)}
        if caption:
            content["caption"] = caption
        return self._send(chat, params, markup, content)

    def _api_send_photo(self, params: dict[str, Any]) -> Message:
        """sendPhoto: an uploaded PNG or JPEG (multipart) or a known photo ``file_id``."""
        chat = self._target_chat(params)
        caption = _caption(params)
        markup = _send_markup(params)
        content: dict[str, Any] = {"photo": self._photo_param(params)}
        if caption:
            content["caption"] = caption
        return self._send(chat, params, markup, content)

    def _api_edit_message_text(self, params: dict[str, Any]) -> Message:
        """editMessageText of a bot text message; the keyboard goes unless sent again."""
        if "chat_id" not in params:
            raise bad("chat_id is empty")
        msg = self._messages.get((params["chat_id"], as_int(params, "message_id")))
        if msg is None:
            raise bad("message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise bad("message can't be edited")
        if "text" not in msg:
            raise bad("there is no text in the message to edit")
        text, markup = _text(params), _inline_markup(params)
        # A ForceReply only acts when the message arrives: it is no keyboard to edit.
        shown = msg.get("reply_markup") if is_inline_markup(msg.get("reply_markup")) else None
        if msg["text"] == text and shown == markup:
            raise bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg["text"] = text
        if markup is not None:
            msg["reply_markup"] = markup
        elif shown is not None:
            del msg["reply_markup"]
        msg["edit_date"] = self._date()
        return telegram_view(msg)

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

    def _api_set_chat_menu_button(self, params: dict[str, Any]) -> bool:
        """setChatMenuButton (the bot's default button): a Web App button needs an HTTPS URL."""
        button = params.get("menu_button") or {"type": "default"}
        if isinstance(button, str):
            button = json.loads(button)
        if button.get("type") == "web_app":
            url = str((button.get("web_app") or {}).get("url", ""))
            if not url.startswith("https://"):
                raise bad("BUTTON_URL_INVALID")
            if not 1 <= len(str(button.get("text", "")).strip()) <= 64:
                raise bad("BUTTON_TEXT_INVALID")
        self.menu_button = button
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
        """The ``reply_to_message`` named by ``reply_parameters``, if any."""
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        if not isinstance(reply, dict) or "message_id" not in reply:
            return None
        replied = self._messages.get((chat_id, int(reply["message_id"])))
        if replied is None:
            if not reply.get("allow_sending_without_reply"):
                raise bad("message to be replied not found")
            return None
        return telegram_view(replied, as_reply=True)

    def _send(
        self,
        chat: dict[str, Any],
        params: dict[str, Any],
        markup: dict[str, Any] | None,
        content: dict[str, Any],
    ) -> Message:
        """Store a new bot message with ``content`` in ``chat``; returns what Telegram answers."""
        replied = self._replied(params, chat["id"])
        msg: Message = {
            "message_id": self._alloc_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": self._date(),
        }
        if replied is not None:
            msg["reply_to_message"] = replied
        msg.update(content)
        if markup is not None:
            msg["reply_markup"] = markup
        self._messages[(chat["id"], msg["message_id"])] = msg
        self._bot_messages.setdefault(chat["id"], []).append(msg["message_id"])
        return telegram_view(msg)

    def _photo_param(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``PhotoSize`` list of a sendPhoto: a new upload (stored) or a known ``file_id``."""
        value = params.get("photo")
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if value is None or value == "":
            raise bad("there is no photo in the request")
        if isinstance(value, UploadedFile):
            if not value.data:
                raise bad("file must be non-empty")
            if len(value.data) > min(self.max_upload_bytes, MAX_PHOTO_BYTES):
                raise ApiError(413, "Request Entity Too Large")
            size = _image_size(value.data)
            if size is None:
                raise bad("IMAGE_PROCESS_FAILED")
            width, height = size
            longer, shorter = max(size), min(size)
            if width + height > MAX_PHOTO_SIDES or longer > MAX_PHOTO_RATIO * max(shorter, 1):
                raise bad("PHOTO_INVALID_DIMENSIONS")
            return self._new_photo(value.data, width, height)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise bad("the fake Bot API can't fetch files from URLs")
        stored = self._files.get(value) if isinstance(value, str) else None
        if stored is None or "photo" not in stored:
            raise bad("wrong file identifier/HTTP URL specified")
        return [dict(size) for size in stored["photo"]]

    def _document_param(self, params: dict[str, Any]) -> dict[str, Any]:
        """The ``Document`` of a sendDocument: a new upload (stored) or a known ``file_id``."""
        value = params.get("document")
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if value is None or value == "":
            raise bad("there is no document in the request")
        if isinstance(value, UploadedFile):
            if not value.data:
                raise bad("file must be non-empty")
            if len(value.data) > self.max_upload_bytes:
                raise ApiError(413, "Request Entity Too Large")
            filename = value.filename or "document"
            mime_type = value.content_type
            if not mime_type or mime_type == "application/octet-stream":
                guessed = mimetypes.guess_type(filename, strict=False)[0]
                mime_type = guessed or "application/octet-stream"
            return self._new_document(value.data, filename, mime_type)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise bad("the fake Bot API can't fetch files from URLs")
        stored = self._files.get(value) if isinstance(value, str) else None
        if stored is None:
            raise bad("wrong file identifier/HTTP URL specified")
        return dict(stored["document"])
