"""A local fake Telegram Bot API served over real HTTP on 127.0.0.1 for end-to-end tests.

Point a real ``telegram.Bot`` / ``Application`` at it::

    async with FakeBotApi() as api:
        bot = Bot("123:ABC", base_url=api.base_url, base_file_url=api.base_file_url)
        user = FakeUser(1001, "张三")
        api.send_text(user, "/start")
        ...
        replies = await api.wait_for_reply(user.id)

All state lives in the event loop that runs the server: call the test-side helpers
(``send_text``, ``enqueue``, ``inject``...) from that loop only.  From another process use
the ``/_control/`` HTTP routes, or run ``python -m tests.fakebot --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import json
import math
import re
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiohttp import web

BOT_ID = 7_000_000_001
DEFAULT_USERNAME = "worklog_test_bot"
DEFAULT_BOT_NAME = "WorkLog Test Bot"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

FAULTS = ("429", "500", "slow", "drop")

# A 1x1 transparent PNG, used as the default content of simulated photos.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

# Bot API methods served by the fake, in their canonical spelling.
API_METHODS = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "deleteMessage",
    "answerCallbackQuery",
    "sendChatAction",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "setMyShortDescription",
    "setChatMenuButton",
    "getChatMenuButton",
    "sendDocument",
    "sendPhoto",
    "getFile",
    "close",
    "logOut",
)

# Methods whose successful call puts a new message into a chat.
SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
# Methods subject to the optional per-chat / global rate limits.
RATE_LIMITED = SEND_METHODS | {"editMessageText", "editMessageCaption", "editMessageReplyMarkup"}

# Form parameters that Telegram treats as plain strings (everything else is JSON-decoded,
# which is how PTB encodes non-string values in form/multipart bodies).
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "file_id",
        "document",
        "photo",
        "thumbnail",
        "language_code",
        "secret_token",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "description",
        "short_description",
        "name",
        "action",
    }
)

# Update types Telegram leaves out when getUpdates never received ``allowed_updates``.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_BOT_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_HTML_ENTITY_RE = re.compile(r"&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});")
_HTML_TEXT_RE = re.compile(r"[^<&]+")
_HTML_ATTR_RE = re.compile(r"\s*([A-Za-z0-9_-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
_NAMED_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_HTML_TAGS = frozenset(_SIMPLE_HTML_TAGS) | {"a", "span", "blockquote", "tg-emoji"}


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional ``parameters``."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    """Build a 400 Bad Request error."""
    return ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class FakeUser:
    """A simulated Telegram user talking to the bot in a private chat."""

    id: int
    first_name: str = "Tester"
    username: str | None = None
    language_code: str | None = "zh-hans"
    last_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the Bot API ``User`` object."""
        out: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            out["last_name"] = self.last_name
        if self.username:
            out["username"] = self.username
        if self.language_code:
            out["language_code"] = self.language_code
        return out

    def chat(self) -> dict[str, Any]:
        """Return the Bot API ``Chat`` object of the private chat with this user."""
        out: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            out["last_name"] = self.last_name
        if self.username:
            out["username"] = self.username
        return out


@dataclass
class Upload:
    """A file part received in a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes

    def summary(self) -> dict[str, Any]:
        """Return a JSON-friendly description without the content."""
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
        }


@dataclass
class StoredFile:
    """A file known to the fake server (uploaded by the bot or sent by a simulated user)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None


@dataclass
class Call:
    """One request the bot made, as recorded by the fake server."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload]
    at: float
    token: str = ""
    fault: str | None = None
    status: int = 200
    result: Any = None
    error: str | None = None
    seq: int = 0
    delivered: bool = True

    @property
    def ok(self) -> bool:
        """Whether the call was answered successfully."""
        return self.status == 200 and self.fault not in ("429", "500", "drop", "rate")

    @property
    def chat_id(self) -> int | str | None:
        """The ``chat_id`` parameter, if any."""
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        """The ``text`` (or ``caption``) parameter, if any."""
        return self.params.get("text", self.params.get("caption"))

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (file contents summarised)."""
        return {
            "seq": self.seq,
            "method": self.method,
            "params": self.params,
            "files": {name: up.summary() for name, up in self.files.items()},
            "at": self.at,
            "token": self.token,
            "fault": self.fault,
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "delivered": self.delivered,
        }

    def describe(self) -> str:
        """Return a one-line human-readable summary."""
        keys = ("chat_id", "message_id", "text", "caption", "data", "offset", "timeout")
        shown = {k: self.params[k] for k in keys if k in self.params}
        if "text" in shown and len(str(shown["text"])) > 60:
            shown["text"] = str(shown["text"])[:57] + "..."
        status = f"fault={self.fault}" if self.fault else f"status={self.status}"
        extra = f" error={self.error!r}" if self.error else ""
        return f"#{self.seq} {self.method} {shown} {status}{extra}"


@dataclass
class Fault:
    """A pending fault injection."""

    method: str
    kind: str
    remaining: int | None
    retry_after: int = 1
    delay: float = 0.0

    def matches(self, method: str) -> bool:
        """Whether this fault applies to ``method`` (lower-cased)."""
        return self.method in ("*", method)


def _utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def _utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of ``text[index]`` (used in parse error messages)."""
    return len(text[:index].encode("utf-8"))


def _parse_error(what: str, text: str, index: int, extra: str = "") -> ApiError:
    """A 'can't parse entities' error pointing at ``text[index]`` like Telegram."""
    return _bad(f"can't parse entities: {what} at byte offset {_byte_offset(text, index)}{extra}")


def _decode_value(name: str, value: str) -> Any:
    """Decode one form field the way Telegram does for its declared parameter type."""
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _as_chat_id(value: Any) -> int | str:
    """Normalise a chat id: integers stay integers, numeric strings become integers."""
    if isinstance(value, bool):
        raise _bad("chat_id is empty")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if not text:
        raise _bad("chat_id is empty")
    return text


def _as_int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    """Read an integer parameter, raising a Telegram-like error when missing or invalid."""
    value = params.get(name, default)
    if value is None or value == "":
        raise _bad(f"{name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {name} specified") from None


def _timestamp(value: datetime | int | float | None, clock: Callable[[], datetime]) -> int:
    """Unix timestamp for a message date (explicit value or the configured clock)."""
    if value is None:
        value = clock()
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def command_entities(text: str) -> list[dict[str, Any]]:
    """Return ``bot_command`` entities for every ``/command[@bot]`` in ``text``."""
    if "/" not in text:
        return []
    out = []
    for match in _COMMAND_RE.finditer(text):
        out.append(
            {
                "type": "bot_command",
                "offset": _utf16_len(text[: match.start()]),
                "length": _utf16_len(match.group()),
            }
        )
    return out


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into plain text and entities, like the Bot API does."""
    pieces: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, str], int]] = []  # tag, utf16 start, attrs, tag pos
    pos = 0  # current UTF-16 offset in the produced text
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "&":
            m = _HTML_ENTITY_RE.match(text, i)
            decoded = "&"
            if m:
                name = m.group(1)
                if name[0] == "#":
                    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
                    decoded = chr(code) if 0 < code <= 0x10FFFF else m.group()
                else:
                    decoded = _NAMED_HTML_ENTITIES.get(name.lower(), m.group())
                i = m.end()
            else:
                i += 1
            pieces.append(decoded)
            pos += _utf16_len(decoded)
            continue
        if ch != "<":
            m = _HTML_TEXT_RE.match(text, i)
            assert m is not None
            pieces.append(m.group())
            pos += _utf16_len(m.group())
            i = m.end()
            continue
        start = i
        if i + 1 < n and text[i + 1] == "/":
            end = text.find(">", i)
            if end < 0:
                raise _parse_error("Unclosed end tag", text, start)
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise _parse_error("Unexpected end tag", text, start)
            tag, begin, attrs, _ = stack.pop()
            if name and name != tag:
                found = f', expected "</{tag}>", found "</{name}>"'
                raise _parse_error("Unmatched end tag", text, start, found)
            _close_html_entity(tag, attrs, begin, pos, stack, entities)
            i = end + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] not in ">/":
            j += 1
        if j >= n:
            raise _parse_error("Unclosed start tag", text, start)
        tag = text[i + 1 : j].lower()
        if tag not in _HTML_TAGS:
            raise _parse_error(f'Unsupported start tag "{tag}"', text, start)
        attrs: dict[str, str] = {}
        while True:
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise _parse_error("Unclosed start tag", text, start)
            if text[j] == ">":
                break
            m = _HTML_ATTR_RE.match(text, j)
            if not m or m.end() == j:
                raise _parse_error(f'Empty attribute name in the tag "{tag}"', text, j)
            raw = m.group(2) or ""
            if raw[:1] in ("'", '"'):
                raw = raw[1:-1]
            attrs[m.group(1).lower()] = _unescape_html(raw)
            j = m.end()
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise _bad('can\'t parse entities: Tag "span" must have class "tg-spoiler"')
        stack.append((tag, pos, attrs, start))
        i = j + 1
    if stack:
        raise _bad(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(pieces), entities


def _unescape_html(value: str) -> str:
    """Decode the HTML entities Telegram supports inside an attribute value."""
    if "&" not in value:
        return value
    plain, _ = parse_html(value.replace("<", "&lt;"))
    return plain


def _close_html_entity(
    tag: str,
    attrs: dict[str, str],
    begin: int,
    end: int,
    stack: list[tuple[str, int, dict[str, str], int]],
    entities: list[dict[str, Any]],
) -> None:
    """Append the entity produced by a closed HTML tag (if it is not empty)."""
    length = end - begin
    if length <= 0:
        return
    entity: dict[str, Any] = {"offset": begin, "length": length}
    if tag == "a":
        href = attrs.get("href", "")
        if not href:
            return
        entity.update(type="text_link", url=href)
    elif tag == "span":
        entity["type"] = "spoiler"
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    elif tag == "tg-emoji":
        if not attrs.get("emoji-id"):
            return
        entity.update(type="custom_emoji", custom_emoji_id=attrs["emoji-id"])
    elif tag == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][2]["language"] = language[len("language-") :]
            return
        entity["type"] = "code"
    elif tag == "pre":
        entity["type"] = "pre"
        if attrs.get("language"):
            entity["language"] = attrs["language"]
    else:
        entity["type"] = _SIMPLE_HTML_TAGS[tag]
    entities.append(entity)


def _strip_formatted(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict]]:
    """Trim surrounding whitespace like Telegram, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text or not entities:
        return stripped, entities
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    total = _utf16_len(stripped)
    out = []
    for ent in entities:
        begin = max(0, ent["offset"] - lead)
        end = min(total, ent["offset"] + ent["length"] - lead)
        if end > begin:
            out.append({**ent, "offset": begin, "length": end - begin})
    return stripped, out


class FakeBotApi:
    """A fake Telegram Bot API server with simulated users, call recording and faults."""

    def __init__(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        bot_name: str = DEFAULT_BOT_NAME,
        clock: Callable[[], datetime] | None = None,
        strict_chats: bool = True,
        per_chat_limit: float | None = None,
        global_limit: float | None = None,
        parse_html: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        """Configure the fake; nothing is served until :meth:`start`."""
        self.username = username
        self.bot_name = bot_name
        self.bot_id = BOT_ID
        self.clock: Callable[[], datetime] = clock or _utc_now
        self.strict_chats = strict_chats
        self.per_chat_limit = per_chat_limit
        self.global_limit = global_limit
        self.parse_html = parse_html
        self.host = host
        self.tokens: set[str] = set()
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._closing_event: asyncio.Event | None = None
        self._handlers: dict[str, tuple[str, Callable[..., Any]]] = {}
        for name in API_METHODS:
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            self._handlers[name.lower()] = (name, getattr(self, f"_api_{snake}"))
        # Counters that survive reset() so ids never repeat while a bot keeps running.
        self._next_update_id = 1
        self._next_file = 1
        self._next_query = 1
        self._next_msg_id: dict[int | str, int] = {}
        self._calls_base = 0
        self._poll_gen = 0
        self._update_waiters: list[asyncio.Future[None]] = []
        self._call_waiters: list[asyncio.Future[None]] = []
        self._park_waiters: list[asyncio.Future[None]] = []
        self._parked = 0
        self._confirmed_offset = 0
        self._users: dict[int, FakeUser] = {}
        self._reset_state()

    def _reset_state(self) -> None:
        """Forget updates, calls, messages, files and faults (ids keep increasing)."""
        self._calls_base += len(getattr(self, "_calls", ()))
        self._calls: list[Call] = []
        self._counts: Counter[str] = Counter()
        self._updates: deque[dict[str, Any]] = deque()
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._bot_messages: dict[int | str, list[int]] = {}
        self._reply_keyboards: dict[int | str, dict[str, Any] | None] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._queries: dict[str, dict[str, Any]] = {}
        self._faults: list[Fault] = []
        self._rate_chat: dict[int | str, deque[float]] = {}
        self._rate_global: deque[float] = deque()
        self._blocked: set[int] = set()
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._menu_buttons: dict[int | str | None, dict[str, Any]] = {}
        self._allowed_updates: frozenset[str] | None = None
        self.webhook: dict[str, Any] = {}
        self._last_mark = self._calls_base

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> None:
        """Start serving on 127.0.0.1 (``port=0`` picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("FakeBotApi is already running")
        self._closing = False
        self._closing_event = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/_control/{action}", self._handle_control)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Wake every pending long poll / slow answer and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        if self._closing_event is not None:
            self._closing_event.set()
        self._wake(self._update_waiters)
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeBotApi:
        """Start the server on a free port."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port being served."""
        if self._port is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._port

    @property
    def url(self) -> str:
        """Root URL of the server, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for ``Bot(base_url=...)``; PTB appends the token and ``/method``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``Bot(base_file_url=...)``."""
        return f"{self.url}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's ``User`` object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.username,
        }

    def reset(self) -> None:
        """Forget updates, calls, messages, files and faults; ids keep increasing."""
        self._reset_state()

    # ------------------------------------------------------------------ simulated users

    def enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates, assigning the next ``update_id``; returns it."""
        upd = {k: v for k, v in update.items() if k != "update_id"}
        upd = {"update_id": self._next_update_id, **upd}
        self._next_update_id += 1
        for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
            msg = upd.get(key)
            if isinstance(msg, dict) and isinstance(msg.get("chat"), dict):
                self._remember_chat(msg["chat"])
                if key in ("message", "channel_post"):
                    if "message_id" not in msg:
                        msg["message_id"] = self._alloc_message_id(msg["chat"]["id"])
                    self._messages[(msg["chat"]["id"], msg["message_id"])] = msg
        query = upd.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self._queries.setdefault(str(query["id"]), {"answered": False})
        self._updates.append(upd)
        self._wake(self._update_waiters)
        return upd

    def _user_message(
        self,
        user: FakeUser,
        date: datetime | int | None,
        chat: dict[str, Any] | None,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        """Enqueue a ``message`` update from ``user`` with ``content``; returns the update."""
        self._users[user.id] = user
        chat = dict(chat) if chat else user.chat()
        self._remember_chat(chat)
        msg = {
            "message_id": self._alloc_message_id(chat["id"]),
            "from": user.to_dict(),
            "chat": chat,
            "date": _timestamp(date, self.clock),
            **content,
        }
        return self.enqueue({"message": msg})

    def send_text(
        self,
        user: FakeUser,
        text: str,
        date: datetime | int | None = None,
        *,
        chat: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """Simulate ``user`` sending ``text`` (private chat unless ``chat``); returns the update."""
        content: dict[str, Any] = {"text": text}
        ents = entities if entities is not None else command_entities(text)
        if ents:
            content["entities"] = ents
        if reply_to_message_id is not None:
            chat_id = chat["id"] if chat else user.id
            replied = self._messages.get((chat_id, reply_to_message_id))
            if replied is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
            content["reply_to_message"] = copy.deepcopy(replied)
        return self._user_message(user, date, chat, content)

    def send_photo(
        self,
        user: FakeUser,
        caption: str | None = None,
        date: datetime | int | None = None,
        *,
        data: bytes = TINY_PNG,
    ) -> dict[str, Any]:
        """Simulate ``user`` sending a photo (three sizes, downloadable); returns the update."""
        sizes = []
        for width, height in ((90, 90), (320, 320), (800, 800)):
            stored = self._store_file("photos", data, None, "image/jpeg", ".jpg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(data),
                }
            )
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
            ents = command_entities(caption)
            if ents:
                content["caption_entities"] = ents
        return self._user_message(user, date, None, content)

    def send_sticker(
        self, user: FakeUser, emoji: str = "👍", date: datetime | int | None = None
    ) -> dict[str, Any]:
        """Simulate ``user`` sending a sticker; returns the update."""
        stored = self._store_file("stickers", b"RIFF0000WEBPVP8 ", None, "image/webp", ".webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(stored.data),
        }
        return self._user_message(user, date, None, {"sticker": sticker})

    def send_voice(
        self,
        user: FakeUser,
        duration: int = 3,
        date: datetime | int | None = None,
        *,
        data: bytes = b"OggS\x00fake-voice",
    ) -> dict[str, Any]:
        """Simulate ``user`` sending a voice note; returns the update."""
        stored = self._store_file("voice", data, None, "audio/ogg", ".oga")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return self._user_message(user, date, None, {"voice": voice})

    def send_document(
        self,
        user: FakeUser,
        data: bytes = b"hello",
        filename: str = "file.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        date: datetime | int | None = None,
    ) -> dict[str, Any]:
        """Simulate ``user`` sending a document (downloadable via getFile); returns the update."""
        suffix = "." + filename.rsplit(".", 1)[1] if "." in filename else ""
        stored = self._store_file("documents", data, filename, mime_type, suffix)
        content: dict[str, Any] = {"document": self._document_dict(stored)}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user, date, None, content)

    def edit_text(
        self,
        user: FakeUser,
        message_id: int,
        new_text: str,
        date: datetime | int | None = None,
    ) -> dict[str, Any]:
        """Simulate ``user`` editing their message; enqueues an ``edited_message`` update."""
        msg = self._messages.get((user.id, message_id))
        if msg is None or msg.get("from", {}).get("id") != user.id:
            raise ValueError(f"user {user.id} has no message {message_id} to edit")
        if "text" not in msg:
            raise ValueError(f"message {message_id} has no text")
        # Copy on write: the original message may still sit unconfirmed in the update queue.
        msg = {k: v for k, v in msg.items() if k != "entities"}
        msg["text"] = new_text
        ents = command_entities(new_text)
        if ents:
            msg["entities"] = ents
        msg["edit_date"] = _timestamp(date, self.clock)
        self._messages[(user.id, message_id)] = msg
        return self.enqueue({"edited_message": copy.deepcopy(msg)})

    def press_button(
        self,
        user: FakeUser,
        bot_message_id: int,
        data: str,
        *,
        strict: bool = True,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """Simulate ``user`` pressing an inline button of a bot message; returns the update."""
        # strict: the message must currently show a button with this callback data.
        # chat_id defaults to the user's private chat.
        self._users[user.id] = user
        chat_id = user.id if chat_id is None else chat_id
        msg = self._messages.get((chat_id, bot_message_id))
        if msg is None or msg.get("from", {}).get("id") != self.bot_id:
            raise ValueError(f"no bot message {bot_message_id} in chat {chat_id}")
        if strict:
            rows = (msg.get("reply_markup") or {}).get("inline_keyboard", [])
            shown = [b.get("callback_data") for row in rows for b in row]
            if data not in shown:
                raise ValueError(
                    f"message {bot_message_id} has no button with callback_data {data!r}; "
                    f"buttons: {shown}"
                )
        query_id = str(4_000_000_000_000_000_000 + self._next_query)
        self._next_query += 1
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "message": copy.deepcopy(msg),
            "chat_instance": str(-(7_000_000_000_000_000_000 + abs(chat_id))),
            "data": data,
        }
        return self.enqueue({"callback_query": query})

    def block(self, user: FakeUser, *, notify: bool = True) -> None:
        """Simulate ``user`` blocking the bot (sends then fail with 403)."""
        self._blocked.add(user.id)
        if notify:
            self._enqueue_member_status(user, "member", "kicked")

    def unblock(self, user: FakeUser, *, notify: bool = True) -> None:
        """Simulate ``user`` unblocking the bot."""
        self._blocked.discard(user.id)
        if notify:
            self._enqueue_member_status(user, "kicked", "member")

    def _enqueue_member_status(self, user: FakeUser, old: str, new: str) -> None:
        """Enqueue a ``my_chat_member`` update for a private chat."""
        now = _timestamp(None, self.clock)
        old_member: dict[str, Any] = {"status": old, "user": self.bot_user}
        new_member: dict[str, Any] = {"status": new, "user": self.bot_user}
        for member in (old_member, new_member):
            if member["status"] == "kicked":
                member["until_date"] = 0
        self.enqueue(
            {
                "my_chat_member": {
                    "chat": user.chat(),
                    "from": user.to_dict(),
                    "date": now,
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                }
            }
        )

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None, since: int = 0) -> list[Call]:
        """Recorded calls (optionally of one method, case-insensitive, from position ``since``)."""
        start = max(0, since - self._calls_base)
        selected = self._calls[start:] if start else list(self._calls)
        if method is None:
            return selected
        wanted = method.lower()
        return [c for c in selected if c.method.lower() == wanted]

    def mark(self) -> int:
        """Return the current position in the call log (also the default for wait_for_reply)."""
        self._last_mark = self._calls_base + len(self._calls)
        return self._last_mark

    def messages_to(self, chat_id: int | str) -> list[str]:
        """Texts (or captions) of the bot's messages still in ``chat_id``, edits applied."""
        out = []
        for mid in self._bot_messages.get(chat_id, ()):
            msg = self._messages.get((chat_id, mid))
            if msg is not None:
                out.append(msg.get("text", msg.get("caption", "")))
        return out

    def last_message_to(self, chat_id: int | str) -> dict[str, Any] | None:
        """The full stored dict of the bot's latest message in ``chat_id``, or ``None``."""
        for mid in reversed(self._bot_messages.get(chat_id, ())):
            msg = self._messages.get((chat_id, mid))
            if msg is not None:
                return copy.deepcopy(msg)
        return None

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """A stored message (bot's or user's) by chat and id, or ``None``."""
        msg = self._messages.get((chat_id, message_id))
        return copy.deepcopy(msg) if msg is not None else None

    def reply_keyboard(self, chat_id: int | str) -> dict[str, Any] | None:
        """The reply keyboard the bot currently shows in ``chat_id`` (``None`` if removed)."""
        return self._reply_keyboards.get(chat_id)

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list:
        """The command list set with setMyCommands for a scope and language."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    def file(self, file_id: str) -> StoredFile | None:
        """A stored file by id."""
        return self._files.get(file_id)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed through a getUpdates ``offset``."""
        return list(self._updates)

    @property
    def confirmed_offset(self) -> int:
        """Updates with ``update_id`` below this value have been confirmed and dropped."""
        return self._confirmed_offset

    def stats(self) -> dict[str, Any]:
        """Call counts per method and update-queue state."""
        return {
            "calls": self._calls_base + len(self._calls),
            "methods": dict(self._counts),
            "pending_updates": len(self._updates),
            "confirmed_offset": self._confirmed_offset,
            "next_update_id": self._next_update_id,
            "tokens": sorted(self.tokens),
        }

    async def wait_for(
        self,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        *,
        method: str | None = None,
        since: int = 0,
    ) -> Call:
        """Wait until a recorded call (from position ``since``) satisfies ``predicate``."""
        wanted = method.lower() if method else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pos = max(since, self._calls_base)
        while True:
            base = self._calls_base
            pos = max(pos, base)
            calls = self._calls
            while pos - base < len(calls):
                call = calls[pos - base]
                pos += 1
                if wanted and call.method.lower() != wanted:
                    continue
                if predicate is None or predicate(call):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = f"method={method!r} " if method else ""
                if predicate is not None:
                    what += f"predicate={getattr(predicate, '__name__', predicate)!r}"
                raise AssertionError(
                    f"no matching call after {timeout}s ({what.strip() or 'any call'}, "
                    f"since #{since}).\n{self._recent_calls_text()}"
                )
            await self._wait_new_call(remaining)

    async def wait_for_reply(
        self,
        chat_id: int | str,
        count: int = 1,
        timeout: float = 10.0,
        *,
        since: int | None = None,
    ) -> list[dict[str, Any]]:
        """Wait for ``count`` new bot messages to ``chat_id`` after ``since`` (default: mark())."""
        # Returns the stored messages (current state, edits applied), oldest first.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pos = self._last_mark if since is None else since
        found: list[Call] = []
        while True:
            base = self._calls_base
            pos = max(pos, base)
            calls = self._calls
            while pos - base < len(calls) and len(found) < count:
                call = calls[pos - base]
                pos += 1
                if (
                    call.method in SEND_METHODS
                    and call.ok
                    and isinstance(call.result, dict)
                    and call.result["chat"]["id"] == chat_id
                ):
                    found.append(call)
            if len(found) >= count:
                out = []
                for call in found:
                    current = self._messages.get((chat_id, call.result["message_id"]))
                    out.append(copy.deepcopy(current if current is not None else call.result))
                return out
            remaining = deadline - loop.time()
            if remaining <= 0:
                got = [c.text for c in found]
                raise AssertionError(
                    f"expected {count} new message(s) to chat {chat_id} within {timeout}s, "
                    f"got {len(found)}: {got!r}.\n{self._recent_calls_text()}"
                )
            await self._wait_new_call(remaining)

    async def _wait_new_call(self, timeout: float) -> None:
        """Sleep until a new call is recorded or ``timeout`` passes."""
        await self._sleep_on(self._call_waiters, timeout)

    @staticmethod
    async def _sleep_on(waiters: list[asyncio.Future[None]], timeout: float) -> None:
        """Sleep until :meth:`_wake` is called on ``waiters`` or ``timeout`` passes."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await asyncio.wait((fut,), timeout=timeout)
        finally:
            if not fut.done():
                fut.cancel()
                with contextlib.suppress(ValueError):
                    waiters.remove(fut)

    @property
    def polling(self) -> int:
        """Number of getUpdates long polls currently parked waiting for updates."""
        return self._parked

    async def wait_for_poll(self, timeout: float = 10.0) -> None:
        """Wait until a getUpdates long poll is parked, i.e. the bot is idle and listening."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._parked:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no getUpdates long poll parked within {timeout}s.\n"
                    f"{self._recent_calls_text()}"
                )
            await self._sleep_on(self._park_waiters, remaining)

    def _recent_calls_text(self, limit: int = 15) -> str:
        """Describe the most recent calls for assertion messages."""
        recent = self._calls[-limit:]
        if not recent:
            return "No calls recorded."
        lines = [f"Last {len(recent)} of {len(self._calls)} call(s):"]
        lines += ["  " + c.describe() for c in recent]
        return "\n".join(lines)

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        method: str,
        fault: str | int,
        times: int | None = 1,
        retry_after: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"`` = any) fail with ``fault``."""
        # Faults: "429" (flood wait with retry_after), "500", "slow" (answer normally after
        # `delay` seconds), "drop" (close the connection without answering).
        # times=None keeps the fault forever.
        kind = str(fault)
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        if times is not None and times <= 0:
            raise ValueError("times must be positive or None")
        self._faults.append(Fault(method.lower(), kind, times, int(retry_after), float(delay)))

    def clear_faults(self) -> None:
        """Remove all pending fault injections."""
        self._faults.clear()

    def _take_fault(self, method: str) -> Fault | None:
        """Consume and return the first fault matching ``method``."""
        if not self._faults:
            return None
        lowered = method.lower()
        for fault in self._faults:
            if fault.matches(lowered):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _check_rate(self, chat_id: Any) -> int | None:
        """Apply the optional rate limits; returns a retry_after when exceeded."""
        now = time.monotonic()
        if self.global_limit:
            window = self._rate_global
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.global_limit:
                return max(1, math.ceil(window[0] + 1.0 - now))
        if self.per_chat_limit and chat_id is not None:
            window = self._rate_chat.setdefault(chat_id, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.per_chat_limit:
                return max(1, math.ceil(window[0] + 1.0 - now))
            window.append(now)
        if self.global_limit:
            self._rate_global.append(now)
        return None

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        """Resolve and forget all waiter futures."""
        if not waiters:
            return
        pending = waiters[:]
        waiters.clear()
        for fut in pending:
            if not fut.done():
                fut.set_result(None)

    def _record(self, call: Call) -> Call:
        """Append a call to the log and wake wait_for()."""
        call.seq = self._calls_base + len(self._calls)
        self._calls.append(call)
        self._counts[call.method] += 1
        self._wake(self._call_waiters)
        return call

    @staticmethod
    def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
        """Serialise a JSON response."""
        return web.Response(
            body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            status=status,
            content_type="application/json",
        )

    @staticmethod
    def _error_payload(err: ApiError) -> dict[str, Any]:
        """The Bot API error object for ``err``."""
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": err.status,
            "description": err.description,
        }
        if err.parameters:
            payload["parameters"] = err.parameters
        return payload

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
        """Read query, JSON, form-urlencoded or multipart parameters like the Bot API."""
        params: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        for key, value in request.query.items():
            params[key] = _decode_value(key, value)
        if request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if isinstance(body, dict):
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = Upload(value.filename, value.content_type, value.file.read())
                    else:
                        params[key] = _decode_value(key, value)
        if "chat_id" in params:
            params["chat_id"] = _as_chat_id(params["chat_id"])
        return params, files

    async def _apply_fault(
        self, request: web.Request, fault: Fault, call: Call
    ) -> web.StreamResponse | None:
        """Answer according to an injected fault; ``None`` means carry on normally."""
        call.fault = fault.kind
        if fault.kind == "slow":
            if fault.delay > 0 and self._closing_event is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing_event.wait(), fault.delay)
            return None
        if fault.kind == "429":
            err = ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        elif fault.kind == "500":
            err = ApiError(500, "Internal Server Error")
        else:  # drop
            call.status = 0
            call.error = "connection dropped"
            self._record(call)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=204)
        call.status = err.status
        call.error = err.description
        self._record(call)
        return self._json(self._error_payload(err), err.status)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """Serve ``/bot<token>/<method>``."""
        token = request.match_info["token"]
        raw_method = request.match_info["method"]
        self.tokens.add(token)
        entry = self._handlers.get(raw_method.lower())
        name = entry[0] if entry else raw_method
        call = Call(name, {}, {}, time.time(), token=token)
        try:
            call.params, call.files = await self._read_params(request)
        except ApiError as err:
            call.status, call.error = err.status, err.description
            self._record(call)
            return self._json(self._error_payload(err), err.status)
        fault = self._take_fault(name)
        if fault is not None:
            response = await self._apply_fault(request, fault, call)
            if response is not None:
                return response
        try:
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            if (self.per_chat_limit or self.global_limit) and name in RATE_LIMITED:
                retry_after = self._check_rate(call.params.get("chat_id"))
                if retry_after is not None:
                    call.fault = "rate"
                    raise ApiError(
                        429,
                        f"Too Many Requests: retry after {retry_after}",
                        {"retry_after": retry_after},
                    )
            result = entry[1](call.params, call.files)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as err:
            call.status, call.error = err.status, err.description
            self._record(call)
            return self._json(self._error_payload(err), err.status)
        call.result = result
        # A client that timed out or died (e.g. SIGKILL during a long poll) never sees this.
        transport = request.transport
        call.delivered = transport is not None and not transport.is_closing()
        self._record(call)
        return self._json({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """Serve file downloads under ``/file/bot<token>/<file_path>``."""
        token = request.match_info["token"]
        path = request.match_info["path"]
        self.tokens.add(token)
        call = Call("_download", {"file_path": path}, {}, time.time(), token=token)
        fault = self._take_fault("_download")
        if fault is not None:
            response = await self._apply_fault(request, fault, call)
            if response is not None:
                return response
        stored = self._files_by_path.get(path)
        if stored is None:
            call.status, call.error = 404, "Not Found"
            self._record(call)
            return self._json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        self._record(call)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # ------------------------------------------------------------------ control API

    async def _handle_control(self, request: web.Request) -> web.StreamResponse:
        """Serve ``/_control/<action>`` for tests and benchmarks in other processes."""
        action = request.match_info["action"]
        body: dict[str, Any] = {}
        if request.body_exists:
            try:
                loaded = await request.json()
            except ValueError:
                return self._json({"ok": False, "description": "body must be JSON"}, 400)
            if isinstance(loaded, dict):
                body = loaded
        args = {**request.query, **body}
        try:
            result = await self._control(action, args)
        except LookupError as exc:
            return self._json({"ok": False, "description": f"missing or unknown: {exc}"}, 400)
        except (ValueError, TypeError) as exc:
            return self._json({"ok": False, "description": str(exc)}, 400)
        except ApiError as err:
            return self._json(self._error_payload(err), err.status)
        if result is NotImplemented:
            return self._json({"ok": False, "description": f"unknown action {action}"}, 404)
        return self._json({"ok": True, "result": result})

    def _control_user(self, args: dict[str, Any]) -> FakeUser:
        """Build (or reuse) the simulated user named by ``user_id`` in control arguments."""
        user_id = int(args["user_id"])
        known = self._users.get(user_id)
        fields_given = {
            k: args[k] for k in ("first_name", "username", "language_code") if k in args
        }
        if known is not None and not fields_given:
            return known
        base = (
            {"first_name": f"User{user_id}"}
            if known is None
            else {
                "first_name": known.first_name,
                "username": known.username,
                "language_code": known.language_code,
            }
        )
        user = FakeUser(user_id, **{**base, **fields_given})
        self._users[user_id] = user
        return user

    async def _control(self, action: str, args: dict[str, Any]) -> Any:
        """Dispatch one control action."""
        date = args.get("date")
        if action == "send_text":
            return self.send_text(self._control_user(args), str(args["text"]), date)
        if action == "edit_text":
            user = self._control_user(args)
            return self.edit_text(user, int(args["message_id"]), str(args["text"]), date)
        if action == "press_button":
            user = self._control_user(args)
            strict = str(args.get("strict", "true")).lower() not in ("0", "false")
            return self.press_button(
                user, int(args["message_id"]), str(args["data"]), strict=strict
            )
        if action == "send_photo":
            return self.send_photo(self._control_user(args), args.get("caption"), date)
        if action == "send_sticker":
            return self.send_sticker(self._control_user(args), args.get("emoji", "👍"), date)
        if action == "send_voice":
            return self.send_voice(self._control_user(args), int(args.get("duration", 3)), date)
        if action == "send_document":
            data = base64.b64decode(args.get("data_b64", "")) if "data_b64" in args else b"hello"
            return self.send_document(
                self._control_user(args),
                data,
                args.get("filename", "file.txt"),
                args.get("mime_type", "text/plain"),
                args.get("caption"),
                date,
            )
        if action == "send_texts":
            # Batch form for benchmarks: {"messages": [{"user_id": .., "text": ..}, ...]}.
            sent = [
                self.send_text(self._control_user(m), str(m["text"]), m.get("date"))
                for m in args["messages"]
            ]
            return {"count": len(sent), "update_ids": [u["update_id"] for u in sent]}
        if action == "enqueue":
            return self.enqueue(args["update"])
        if action == "calls":
            return await self._control_calls(args)
        if action == "stats":
            return self.stats()
        if action == "messages":
            chat_id = _as_chat_id(args["chat_id"])
            return {"texts": self.messages_to(chat_id), "last": self.last_message_to(chat_id)}
        if action == "pending_updates":
            return self.pending_updates()
        if action == "inject":
            times = args.get("times", 1)
            self.inject(
                str(args["method"]),
                str(args["fault"]),
                None if times is None else int(times),
                int(args.get("retry_after", 1)),
                float(args.get("delay", 0.0)),
            )
            return True
        if action == "clear_faults":
            self.clear_faults()
            return True
        if action == "reset":
            self.reset()
            return True
        if action == "config":
            for key in ("strict_chats", "per_chat_limit", "global_limit", "parse_html"):
                if key in args:
                    setattr(self, key, args[key])
            return True
        return NotImplemented

    async def _control_calls(self, args: dict[str, Any]) -> dict[str, Any]:
        """Recorded calls from ``since``; ``wait`` seconds of long-polling for a first one."""
        since = int(args.get("since", 0) or 0)
        method = args.get("method") or None
        wait = float(args.get("wait", 0) or 0)
        limit = int(args.get("limit", 0) or 0)
        selected = self.calls(method, since)
        if not selected and wait > 0:
            with contextlib.suppress(AssertionError):
                await self.wait_for(None, wait, method=method, since=since)
            selected = self.calls(method, since)
        nxt = self._calls_base + len(self._calls)
        if limit and len(selected) > limit:
            selected = selected[:limit]
            nxt = selected[-1].seq + 1
        return {"calls": [c.to_json() for c in selected], "next": nxt}

    # ------------------------------------------------------------------ chats & messages

    def _remember_chat(self, chat: dict[str, Any]) -> None:
        """Record a chat the bot may now write to."""
        self._chats[chat["id"]] = dict(chat)

    def _alloc_message_id(self, chat_id: int | str) -> int:
        """Next message id in a chat (shared by the bot and the users, like Telegram)."""
        mid = self._next_msg_id.get(chat_id, 0) + 1
        self._next_msg_id[chat_id] = mid
        return mid

    def _target_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        """The chat a send method writes to, enforcing existence and blocks."""
        if "chat_id" not in params:
            raise _bad("chat_id is empty")
        chat_id = params["chat_id"]
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict_chats or not isinstance(chat_id, int):
                raise _bad("chat not found")
            chat = {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
            if chat_id < 0:
                chat = {"id": chat_id, "type": "supergroup", "title": f"Group{chat_id}"}
            self._chats[chat_id] = chat
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _format(
        self, params: dict[str, Any], key: str, entities_key: str, limit: int
    ) -> tuple[str, list[dict[str, Any]]]:
        """Apply parse_mode / entities to ``params[key]`` and validate its length."""
        raw = params.get(key)
        text = "" if raw is None else str(raw)
        entities = params.get(entities_key) or []
        parse_mode = str(params.get("parse_mode") or "")
        if parse_mode.lower() == "html" and self.parse_html:
            text, entities = parse_html(text)
        text, entities = _strip_formatted(text, list(entities))
        if len(text) > limit:
            what = "message is too long" if key == "text" else "message caption is too long"
            raise _bad(what)
        return text, entities

    def _inline_markup(self, params: dict[str, Any], chat_id: int | str) -> dict[str, Any] | None:
        """Validate ``reply_markup``; returns the inline keyboard to attach (if any)."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise _bad("can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _bad("can't parse inline keyboard button: Text buttons are unallowed")
                    actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
                    if not actions:
                        raise _bad("can't parse inline keyboard button: Text buttons are unallowed")
                    data = button.get("callback_data")
                    if data is not None and not (
                        0 < len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                    ):
                        raise _bad("BUTTON_DATA_INVALID")
            return markup
        if "keyboard" in markup:
            self._reply_keyboards[chat_id] = markup
        elif markup.get("remove_keyboard"):
            self._reply_keyboards[chat_id] = None
        return None

    def _post_message(self, params: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        """Create, store and return a message the bot sends."""
        chat = self._target_chat(params)
        chat_id = chat["id"]
        markup = self._inline_markup(params, chat_id)
        msg: dict[str, Any] = {
            "message_id": self._alloc_message_id(chat_id),
            "from": self.bot_user,
            "chat": chat,
            "date": _timestamp(None, self.clock),
        }
        reply_to = params.get("reply_to_message_id")
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id", reply_to)
        if reply_to is not None:
            replied = self._messages.get((chat_id, int(reply_to)))
            if replied is not None:
                msg["reply_to_message"] = copy.deepcopy(replied)
            elif not (
                isinstance(reply_parameters, dict)
                and reply_parameters.get("allow_sending_without_reply")
            ):
                raise _bad("message to be replied not found")
        msg.update(content)
        if markup is not None:
            msg["reply_markup"] = markup
        self._messages[(chat_id, msg["message_id"])] = msg
        self._bot_messages.setdefault(chat_id, []).append(msg["message_id"])
        return dict(msg)

    def _editable(self, params: dict[str, Any]) -> dict[str, Any]:
        """Find the bot message an edit method targets."""
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")
        if "chat_id" not in params:
            raise _bad("chat_id is empty")
        message_id = _as_int(params, "message_id")
        msg = self._messages.get((params["chat_id"], message_id))
        if msg is None:
            raise _bad("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited")
        return msg

    def _apply_edit(self, msg: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Apply changes (``None`` removes a field) or fail with 'message is not modified'."""
        if all(msg.get(k) == v for k, v in changes.items()):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        for key, value in changes.items():
            if value is None:
                msg.pop(key, None)
            else:
                msg[key] = value
        msg["edit_date"] = _timestamp(None, self.clock)
        return dict(msg)

    def _store_file(
        self, folder: str, data: bytes, name: str | None, mime: str | None, suffix: str
    ) -> StoredFile:
        """Store file content under a fresh file id and download path."""
        n = self._next_file
        self._next_file += 1
        prefix = {"photos": "AgAC", "documents": "BQAC", "voice": "AwAC", "stickers": "CAAC"}
        file_id = f"{prefix.get(folder, 'BAAC')}AgIAAxkBAAI{n:08d}"
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=f"AQAD{n:08d}",
            file_path=f"{folder}/file_{n}{suffix}",
            data=data,
            file_name=name,
            mime_type=mime,
        )
        self._files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _resolve_upload(
        self, params: dict[str, Any], files: dict[str, Upload], name: str
    ) -> tuple[bytes, str | None, str | None, StoredFile | None]:
        """Return (data, filename, mime, existing file) for an uploaded or referenced file."""
        upload = files.get(name)
        value = params.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is not None:
            return upload.data, upload.filename, upload.content_type, None
        if not value:
            raise _bad(f"there is no {name} in the request")
        existing = self._files.get(str(value))
        if existing is not None:
            return existing.data, existing.file_name, existing.mime_type, existing
        if str(value).startswith(("http://", "https://")):
            return b"", str(value).rsplit("/", 1)[-1] or None, None, None
        raise _bad("wrong file identifier/HTTP URL specified")

    @staticmethod
    def _document_dict(stored: StoredFile) -> dict[str, Any]:
        """The Bot API ``Document`` object for a stored file."""
        doc: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        return doc

    def _caption_content(self, params: dict[str, Any]) -> dict[str, Any]:
        """Caption fields for a media message."""
        if params.get("caption") in (None, ""):
            return {}
        caption, entities = self._format(params, "caption", "caption_entities", MAX_CAPTION_LENGTH)
        content: dict[str, Any] = {"caption": caption}
        if entities:
            content["caption_entities"] = entities
        return content

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        """Dictionary key for a command scope and language."""
        if isinstance(scope, str):
            scope = json.loads(scope)
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    # ------------------------------------------------------------------ Bot API methods

    def _api_get_me(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        """getMe."""
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _confirm(self, offset: int) -> None:
        """Drop confirmed updates according to a getUpdates ``offset``."""
        updates = self._updates
        if offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
            self._confirmed_offset = max(self._confirmed_offset, offset)
        elif offset < 0:
            while len(updates) > -offset:
                updates.popleft()
            first = updates[0]["update_id"] if updates else self._next_update_id
            self._confirmed_offset = max(self._confirmed_offset, first)

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` pending updates allowed by ``allowed_updates``."""
        allowed = self._allowed_updates
        out: list[dict[str, Any]] = []
        for upd in self._updates:
            if len(out) >= limit:
                break
            kind = next((k for k in upd if k != "update_id"), "")
            if allowed is None:
                if kind in DEFAULT_EXCLUDED_UPDATES:
                    continue
            elif kind not in allowed:
                continue
            out.append(upd)
        return out

    async def _api_get_updates(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> list[dict[str, Any]]:
        """getUpdates with real offset confirmation and long polling."""
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params, "offset", 0)
        limit = min(100, max(1, _as_int(params, "limit", 100)))
        try:
            timeout = max(0.0, float(params.get("timeout") or 0))
        except (TypeError, ValueError):
            raise _bad("invalid timeout specified") from None
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            if isinstance(allowed, str):
                allowed = json.loads(allowed) if allowed.startswith("[") else [allowed]
            self._allowed_updates = frozenset(allowed) if allowed else None
        self._confirm(offset)
        # A newer getUpdates terminates an older pending one, like Telegram does.
        self._poll_gen += 1
        generation = self._poll_gen
        self._wake(self._update_waiters)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._deliverable(limit)
            if batch or self._closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._parked += 1
            self._wake(self._park_waiters)
            try:
                await self._sleep_on(self._update_waiters, remaining)
            finally:
                self._parked -= 1
            if generation != self._poll_gen:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )

    def _api_set_webhook(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """setWebhook (recorded only)."""
        self.webhook = dict(params)
        if params.get("drop_pending_updates"):
            self._confirm(self._next_update_id)
        return True

    def _api_delete_webhook(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """deleteWebhook, honouring ``drop_pending_updates``."""
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._confirm(self._next_update_id)
        return True

    def _api_get_webhook_info(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict[str, Any]:
        """getWebhookInfo."""
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("max_connections"):
            info["max_connections"] = self.webhook["max_connections"]
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _api_send_message(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        """sendMessage."""
        text, entities = self._format(params, "text", "entities", MAX_TEXT_LENGTH)
        if not text:
            self._target_chat(params)
            raise _bad("message text is empty")
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._post_message(params, content)

    def _api_edit_message_text(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict[str, Any]:
        """editMessageText."""
        msg = self._editable(params)
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        text, entities = self._format(params, "text", "entities", MAX_TEXT_LENGTH)
        if not text:
            raise _bad("message text is empty")
        markup = self._inline_markup(params, msg["chat"]["id"])
        changes = {"text": text, "entities": entities or None, "reply_markup": markup}
        return self._apply_edit(msg, changes)

    def _api_edit_message_caption(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict[str, Any]:
        """editMessageCaption."""
        msg = self._editable(params)
        if "text" in msg:
            raise _bad("there is no caption in the message to edit")
        content = self._caption_content(params)
        markup = self._inline_markup(params, msg["chat"]["id"])
        changes = {
            "caption": content.get("caption"),
            "caption_entities": content.get("caption_entities"),
            "reply_markup": markup,
        }
        return self._apply_edit(msg, changes)

    def _api_edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict[str, Any]:
        """editMessageReplyMarkup."""
        msg = self._editable(params)
        markup = self._inline_markup(params, msg["chat"]["id"])
        return self._apply_edit(msg, {"reply_markup": markup})

    def _api_delete_message(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """deleteMessage."""
        if "chat_id" not in params:
            raise _bad("chat_id is empty")
        key = (params["chat_id"], _as_int(params, "message_id"))
        if self._messages.pop(key, None) is None:
            raise _bad("message to delete not found")
        return True

    def _api_answer_callback_query(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """answerCallbackQuery (each query can be answered once)."""
        query = self._queries.get(str(params.get("callback_query_id", "")))
        if query is None or query["answered"]:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        query["answered"] = True
        query["answer"] = dict(params)
        return True

    def _api_send_chat_action(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """sendChatAction."""
        self._target_chat(params)
        if not params.get("action"):
            raise _bad("action is empty")
        return True

    def _api_set_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """setMyCommands, validating names and descriptions like Telegram."""
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be an array of at most 100 BotCommand")
        for cmd in commands:
            if not _BOT_COMMAND_NAME_RE.match(str(cmd.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", "")).strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _api_get_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> list:
        """getMyCommands."""
        return self.commands(params.get("scope"), params.get("language_code") or "")

    def _api_delete_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """deleteMyCommands."""
        self._commands.pop(
            self._commands_key(params.get("scope"), params.get("language_code")), None
        )
        return True

    def _api_set_my_description(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """setMyDescription (recorded only)."""
        return True

    def _api_set_my_short_description(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> bool:
        """setMyShortDescription (recorded only)."""
        return True

    def _api_set_chat_menu_button(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """setChatMenuButton."""
        button = params.get("menu_button") or {"type": "default"}
        self._menu_buttons[params.get("chat_id")] = button
        return True

    def _api_get_chat_menu_button(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict[str, Any]:
        """getChatMenuButton."""
        chat_id = params.get("chat_id")
        button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None)
        return button or {"type": "commands"}

    def _api_send_document(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict[str, Any]:
        """sendDocument (multipart upload, file id or URL)."""
        self._target_chat(params)
        data, name, mime, existing = self._resolve_upload(params, files, "document")
        if existing is None:
            suffix = "." + name.rsplit(".", 1)[1] if name and "." in name else ""
            existing = self._store_file("documents", data, name, mime, suffix)
        content = {"document": self._document_dict(existing), **self._caption_content(params)}
        return self._post_message(params, content)

    def _api_send_photo(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        """sendPhoto (returns three photo sizes sharing the uploaded bytes)."""
        self._target_chat(params)
        data, _, _, _ = self._resolve_upload(params, files, "photo")
        sizes = []
        for width, height in ((90, 90), (320, 320), (1280, 1280)):
            stored = self._store_file("photos", data, None, "image/jpeg", ".jpg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(data),
                }
            )
        content = {"photo": sizes, **self._caption_content(params)}
        return self._post_message(params, content)

    def _api_get_file(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        """getFile."""
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def _api_close(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """close."""
        return True

    def _api_log_out(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        """logOut."""
        return True


def texts_of(messages: Iterable[dict[str, Any]]) -> list[str]:
    """Texts (or captions) of message dicts, e.g. the result of ``wait_for_reply``."""
    return [m.get("text", m.get("caption", "")) for m in messages]


async def _serve(args: argparse.Namespace) -> None:
    """Run a FakeBotApi until SIGINT/SIGTERM."""
    api = FakeBotApi(
        username=args.username,
        strict_chats=not args.relaxed_chats,
        per_chat_limit=args.per_chat_limit,
        global_limit=args.global_limit,
        host=args.host,
    )
    await api.start(args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"READY {api.base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``python -m tests.fakebot --port N``."""
    parser = argparse.ArgumentParser(description="Serve a fake Telegram Bot API.")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument(
        "--relaxed-chats", action="store_true", help="allow sending to chats never seen"
    )
    parser.add_argument("--per-chat-limit", type=float, default=None)
    parser.add_argument("--global-limit", type=float, default=None)
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
