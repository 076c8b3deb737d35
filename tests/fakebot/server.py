"""``FakeBotApi``: the aiohttp server, call recording and the waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .common import ApiError, UploadedFile, bad, json_response, sleep_on, wake
from .control import ControlMixin
from .faults import FaultsMixin
from .methods import MAX_UPLOAD_BYTES, MethodsMixin
from .webhook import WebhookMixin

BOT_ID = 7_000_000_001
DEFAULT_USERNAME = "worklog_test_bot"
DEFAULT_BOT_NAME = "WorkLog Test Bot"

# Bot API methods served, in their canonical spelling; anything else answers 404.
API_METHODS = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendDocument",
    "sendPhoto",
    "editMessageText",
    "answerCallbackQuery",
    "setMyCommands",
    "setChatMenuButton",
)

# Form fields Telegram reads as plain strings; others are JSON-decoded (PTB encodes
# non-string values as JSON in form bodies).
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "document",
        "photo",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "ip_address",
        "language_code",
    }
)

# Methods whose answer is a new bot message (see ``wait_for_reply``).
SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})


@dataclass
class Call:
    """One request the bot made, recorded on arrival and completed once answered."""

    method: str
    params: dict[str, Any]
    token: str = ""
    at: float = field(default_factory=time.time)
    seq: int = 0
    fault: str | None = None  # "429", "500", "slow", "drop", or "rate" (a rate limit hit)
    status: int | None = None  # HTTP status; None while the call is not answered yet
    result: Any = None
    error: str | None = None
    delivered: bool = False  # whether the client was still connected to read the answer

    @property
    def answered(self) -> bool:
        """Whether the fake has answered (or dropped) the call."""
        return self.status is not None

    @property
    def ok(self) -> bool:
        """Whether the call was answered successfully."""
        return self.status == 200

    @property
    def chat_id(self) -> int | str | None:
        """The ``chat_id`` parameter, if any."""
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        """The ``text`` parameter, if any."""
        return self.params.get("text")

    def describe(self) -> str:
        """A one-line human-readable summary."""
        keys = (
            "chat_id",
            "message_id",
            "text",
            "caption",
            "document",
            "photo",
            "data",
            "offset",
            "timeout",
        )
        shown = {k: self.params[k] for k in keys if k in self.params}
        if len(str(shown.get("text", ""))) > 60:
            shown["text"] = str(shown["text"])[:57] + "..."
        status = f"fault={self.fault}" if self.fault else f"status={self.status}"
        extra = f" error={self.error!r}" if self.error else ""
        return f"#{self.seq} {self.method} {shown} {status}{extra}"


def _decode(name: str, value: str) -> Any:
    """Decode one query or form field the way Telegram does for its parameter type."""
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_form(request: web.Request) -> dict[str, Any]:
    """Fields of a urlencoded or multipart/form-data body; file parts become UploadedFile."""
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "Request Entity Too Large") from None
    except (ValueError, web.HTTPException):
        raise bad("can't parse request body") from None
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, str):
            params[key] = _decode(key, value)
        elif isinstance(value, bytes | bytearray):  # a part with a non-text content type
            params[key] = _decode(key, bytes(value).decode("utf-8", "replace"))
        else:  # web.FileField: a part with a file name
            with value.file:
                data = value.file.read()
            params[key] = UploadedFile(value.filename, value.content_type, data)
    return params


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query, JSON or form parameters (with uploaded files) of a Bot API request."""
    params = {key: _decode(key, value) for key, value in request.query.items()}
    if request.content_type == "application/json" and request.body_exists:
        try:
            body = await request.json()
        except ValueError:
            raise bad("can't parse JSON object") from None
        if isinstance(body, dict):
            params.update(body)
    elif request.body_exists:
        params.update(await _read_form(request))
    chat_id = params.get("chat_id")
    if isinstance(chat_id, str) and re.fullmatch(r"-?\d+", chat_id.strip()):
        params["chat_id"] = int(chat_id)
    return params


class FakeBotApi(ControlMixin, WebhookMixin, MethodsMixin, FaultsMixin):
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
        host: str = "127.0.0.1",
        webhook_retry_delay: float = 0.2,
        webhook_timeout: float = 10.0,
    ) -> None:
        """Configure the fake; nothing is served until :meth:`start`.

        ``clock`` dates user and bot messages (and webhook errors); ``strict_chats`` refuses
        sends to chats no user wrote from; the limits are sends per second (per chat / overall)
        before a 429. After a failed webhook delivery the next waits ``webhook_retry_delay``
        seconds; a webhook that does not answer within ``webhook_timeout`` seconds fails.
        Both are attributes tests may change at any time.
        """
        self.username = username
        self.bot_name = bot_name
        self.bot_id = BOT_ID
        self.clock = clock or (lambda: datetime.now(UTC))
        self.strict_chats = strict_chats
        self.per_chat_limit = per_chat_limit
        self.global_limit = global_limit
        self.host = host
        # Larger uploads answer 413 (at most MAX_UPLOAD_BYTES, the size the server reads).
        self.max_upload_bytes = MAX_UPLOAD_BYTES
        self.tokens: set[str] = set()
        # "sendMessage" (in any case) -> ("sendMessage", self._api_send_message)
        self._handlers = {
            name.lower(): (name, getattr(self, "_api_" + re.sub("([A-Z])", r"_\1", name).lower()))
            for name in API_METHODS
        }
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._closing_event = asyncio.Event()
        # Calls.
        self._calls: list[Call] = []
        self._counts: Counter[str] = Counter()
        self._last_mark = 0
        self._call_waiters: list[asyncio.Future[None]] = []
        # Updates.
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1
        self._confirmed_offset = 0
        self._allowed_updates: frozenset[str] | None = None
        self._poll_gen = 0
        self._poll_conflict = ""
        self._parked = 0
        self._update_waiters: list[asyncio.Future[None]] = []
        self._park_waiters: list[asyncio.Future[None]] = []
        # The webhook (see webhook.py).
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self._webhook = None
        self._deliveries = {}
        self._in_flight = {}
        self._abandoned = set()
        self._resume_at = 0.0
        self._resume_timer = None
        self._webhook_error = None
        self._webhook_waiters = []
        self._webhook_session = None
        # Chats, messages and what users do.
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._bot_messages: dict[int | str, list[int]] = {}
        self._next_msg_id: dict[int | str, int] = {}
        self._next_file = 0
        self._files: dict[str, dict[str, Any]] = {}
        self._next_query = 0
        self._open_queries: set[str] = set()
        self._blocked: set[int] = set()
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.menu_button: dict[str, Any] = {"type": "default"}
        # Faults and rate limits.
        self._faults = []
        self._rate_chat = {}
        self._rate_global = deque()
        self.rate_limited = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        """Start serving on ``host`` (``port=0`` picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("FakeBotApi is already running")
        self._closing = False
        self._closing_event = asyncio.Event()
        # Room for the largest upload plus the multipart overhead.
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("*", "/_control/{action}", self._handle_control)
        app.router.add_route("*", "/_control/{action}/{sub}", self._handle_control)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        self._pump()  # a webhook set before the start

    async def stop(self) -> None:
        """Answer pending long polls and slow calls at once, then shut the server down.

        Webhook deliveries in flight are abandoned; their updates stay queued.
        """
        if self._runner is None:
            return
        self._closing = True
        self._closing_event.set()
        wake(self._update_waiters)
        await self._stop_webhook()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeBotApi:
        """Start the server on a free port."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
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
        """Value for ``Bot(base_file_url=...)`` (the fake serves no files)."""
        return f"{self.url}/file/bot"

    # -- serving Bot API calls -------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """Serve ``/bot<token>/<method>``: record the call at once, then answer it."""
        token = request.match_info["token"]
        self.tokens.add(token)
        raw_method = request.match_info["method"]
        name, handler = self._handlers.get(raw_method.lower(), (raw_method, None))
        try:
            params, error = await _read_params(request), None
        except ApiError as err:
            params, error = {}, err
        call = self._record(Call(name, params, token))
        try:
            if error is not None:
                raise error
            return await self._answer(request, call, handler)
        except ApiError as err:
            self._finish(request, call, err.status, error=err.description)
            return json_response(err.payload(), err.status)
        except asyncio.CancelledError:  # the server shuts down with the call still pending
            self._finish(request, call, 0, error="cancelled")
            raise

    async def _answer(
        self, request: web.Request, call: Call, handler: Callable[..., Any] | None
    ) -> web.StreamResponse:
        """Apply a pending fault or rate limit, then run the method (errors: ApiError)."""
        fault = self._take_fault(call.method)
        if fault is not None:
            call.fault = fault.kind
            if fault.kind == "drop":
                self._finish(request, call, 0, error="connection dropped")
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=204)
            if fault.kind != "slow":
                raise fault.error()
            # The call is already recorded and visible; its answer comes after the delay.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing_event.wait(), fault.delay)
        if handler is None:
            raise ApiError(404, "Not Found")
        limited = self._rate_limit(call.method, call.chat_id)
        if limited is not None:
            call.fault = "rate"
            raise limited
        result = handler(call.params)
        if asyncio.iscoroutine(result):
            result = await result
        self._finish(request, call, 200, result=result)
        return json_response({"ok": True, "result": result})

    def _record(self, call: Call) -> Call:
        """Append an arriving call to the log and wake the waiters."""
        call.seq = len(self._calls)
        self._calls.append(call)
        self._counts[call.method] += 1
        wake(self._call_waiters)
        return call

    def _finish(
        self,
        request: web.Request,
        call: Call,
        status: int,
        *,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        """Complete a recorded call with its answer and wake the waiters."""
        call.status, call.result, call.error = status, result, error
        # A client that timed out or died (e.g. SIGKILL during a long poll) never sees it.
        transport = request.transport
        call.delivered = status != 0 and transport is not None and not transport.is_closing()
        wake(self._call_waiters)

    # -- inspection ------------------------------------------------------------------------

    def calls(self, method: str | None = None, since: int = 0) -> list[Call]:
        """Recorded calls from position ``since``, optionally of one method (any case)."""
        selected = self._calls[since:]
        if method is None:
            return selected
        wanted = method.lower()
        return [c for c in selected if c.method.lower() == wanted]

    def mark(self) -> int:
        """The current position in the call log (also the default for wait_for_reply)."""
        self._last_mark = len(self._calls)
        return self._last_mark

    def stats(self) -> dict[str, Any]:
        """Call counts per method and the state of the update queue."""
        return {
            "calls": len(self._calls),
            "methods": dict(self._counts),
            "rate_limited": self.rate_limited,
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
        """The first call from position ``since`` that satisfies ``predicate``, once it does.

        Calls are seen on arrival: a call held back by a "slow" fault is returned before it is
        answered (see ``Call.answered``), unless ``predicate`` looks at the answer.
        """
        wanted = method.lower() if method else None

        def match(call: Call) -> bool:
            if wanted and call.method.lower() != wanted:
                return False
            return predicate is None or predicate(call)

        def failure(found: list[Call]) -> str:
            what = f"method={method!r} " if method else ""
            if predicate is not None:
                what += f"predicate={getattr(predicate, '__name__', predicate)!r}"
            return (
                f"no matching call after {timeout}s ({what.strip() or 'any call'}, since #{since})"
            )

        [call] = await self._watch(since, match, 1, timeout, failure)
        return call

    async def wait_for_reply(
        self,
        chat_id: int | str,
        count: int = 1,
        timeout: float = 10.0,
        *,
        since: int | None = None,
    ) -> list[dict[str, Any]]:
        """``count`` new bot messages (texts, documents or photos) to ``chat_id`` after ``since``.

        ``since`` defaults to the last mark. Returns the stored messages, edits applied, oldest
        first, with the ``reply_markup`` the bot sent.
        """

        def match(call: Call) -> bool:
            return call.method in SEND_METHODS and call.ok and call.result["chat"]["id"] == chat_id

        def failure(found: list[Call]) -> str:
            got = [
                c.text if c.text is not None else c.params.get("document", c.params.get("photo"))
                for c in found
            ]
            return (
                f"expected {count} new message(s) to chat {chat_id} within {timeout}s, "
                f"got {len(found)}: {got!r}"
            )

        start = self._last_mark if since is None else since
        found = await self._watch(start, match, count, timeout, failure)
        return [self.message(chat_id, c.result["message_id"]) or c.result for c in found]

    async def _watch(
        self,
        since: int,
        match: Callable[[Call], bool],
        count: int,
        timeout: float,
        failure: Callable[[list[Call]], str],
    ) -> list[Call]:
        """The first ``count`` calls from ``since`` satisfying ``match``, waiting for them.

        A call that is not answered yet is looked at again once it is.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settled: list[Call] = []  # matches before the first unanswered call: final
        pos = since
        while True:
            found = list(settled)
            frontier = None
            for call in self._calls[pos:]:
                if frontier is None and not call.answered:
                    frontier = call.seq
                if match(call):
                    found.append(call)
                    if frontier is None:
                        settled.append(call)
                    if len(found) >= count:
                        return found
            pos = len(self._calls) if frontier is None else frontier
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{failure(found)}.\n{self._recent_calls_text()}")
            await sleep_on(self._call_waiters, remaining)

    def _recent_calls_text(self, limit: int = 15) -> str:
        """The most recent calls, for assertion messages."""
        recent = self._calls[-limit:]
        if not recent:
            return "No calls recorded."
        lines = [f"Last {len(recent)} of {len(self._calls)} call(s):"]
        return "\n".join(lines + ["  " + c.describe() for c in recent])
