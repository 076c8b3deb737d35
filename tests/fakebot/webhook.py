"""Webhooks: setWebhook, deleteWebhook, getWebhookInfo and delivering updates by HTTP POST.

While a webhook is set, getUpdates answers 409 and every pending update (the same queue
getUpdates reads) is POSTed as JSON to the webhook, with ``X-Telegram-Bot-Api-Secret-Token``
when a secret is set. At most ``max_connections`` deliveries are in flight at once, and one
chat's updates one at a time, in order (Telegram does not document its order; the service
also puts a chat's updates in update_id order). An update
leaves the queue once the webhook answers 2xx; any other status, a connection error or a
timeout is a failure: it is recorded (``last_error_date`` / ``last_error_message``, like
Telegram) and deliveries pause for ``webhook_retry_delay`` seconds before the update is sent
again (Telegram backs off longer and eventually gives up; the fake retries forever). Updates
still queued when the webhook is deleted stay for getUpdates, unless dropped.

Delivery is at least once, like Telegram's: deleting the webhook abandons the deliveries in
flight, whose updates getUpdates then returns even if the webhook had already received them.

Deviation from Telegram: an ``http://`` URL is accepted when its host is a loopback address
(127.0.0.0/8, ``localhost``, ``::1``), on any port, so tests can run a plain listener; Telegram
insists on HTTPS, on ports 80, 88, 443 and 8443, and refuses loopback and private addresses.
The fake only ever connects to loopback hosts (without checking TLS certificates): delivery
to any other host fails with "Failed to resolve host", so tests never reach the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .common import ApiError, as_int, bad, sleep_on, wake
from .updates import UpdatesMixin

DEFAULT_MAX_CONNECTIONS = 40
MAX_SECRET_LENGTH = 256
WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]*")


def _bad_webhook(reason: str) -> ApiError:
    return bad(f"bad webhook: {reason}")


def _flag(params: dict[str, Any], name: str) -> bool:
    """A Boolean parameter, as JSON (``true``) or as a form or query string."""
    value = params.get(name, False)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's host, without brackets) names this machine."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str) -> str:
    """``url`` when Telegram (with the fake's loopback exception) accepts it; else a 400."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise _bad_webhook("An HTTPS URL must be provided for webhook") from None
    loopback = is_loopback(host)
    # The fake's one deviation: plain HTTP to a loopback host, for tests (see the module doc).
    if parts.scheme.lower() != "https" and not (parts.scheme.lower() == "http" and loopback):
        raise _bad_webhook("An HTTPS URL must be provided for webhook")
    if not host:
        raise _bad_webhook("Failed to resolve host: Name or service not known")
    if loopback:
        return url
    if port is not None and port not in WEBHOOK_PORTS:
        raise _bad_webhook("Webhook can be set up only on ports 80, 88, 443 or 8443")
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if not address.is_global:
            raise _bad_webhook(f"IP address {host} is reserved")
    return url


def _allowed_updates(params: dict[str, Any]) -> list[str] | None:
    """The ``allowed_updates`` parameter as a list (a JSON array string, or one type)."""
    allowed = params["allowed_updates"]
    if isinstance(allowed, str):
        try:
            allowed = json.loads(allowed) if allowed.startswith("[") else [allowed]
        except ValueError:
            raise bad("can't parse allowed updates JSON array") from None
    if allowed is None:
        return []
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise bad("allowed_updates must be an Array of String")
    return [a for a in allowed if a]


def _phrase(status: int) -> str:
    """The standard reason phrase of an HTTP status ("" for an unknown one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass
class Webhook:
    """The webhook set with setWebhook."""

    url: str
    secret: str | None = None
    max_connections: int = DEFAULT_MAX_CONNECTIONS


@dataclass
class WebhookDelivery:
    """What happened to one update sent to the webhook (kept after deleteWebhook)."""

    update_id: int
    attempts: int = 0
    # The last attempt's HTTP status, or its error ("Connection refused", "Read timeout
    # expired", "cancelled" when deleteWebhook or stop abandoned it); None while in flight.
    status: int | str | None = None
    history: list[int | str] = field(default_factory=list)  # every finished attempt's status
    delivered: bool = False  # the webhook answered 2xx

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``/_control/webhook``."""
        return {
            "update_id": self.update_id,
            "attempts": self.attempts,
            "status": self.status,
            "history": list(self.history),
            "delivered": self.delivered,
        }


class WebhookMixin(UpdatesMixin):
    """The webhook methods and the delivery of queued updates to the webhook."""

    clock: Callable[[], datetime]
    webhook_retry_delay: float
    webhook_timeout: float
    _webhook: Webhook | None
    _deliveries: dict[int, WebhookDelivery]
    _in_flight: dict[int, asyncio.Task[None]]
    _abandoned: set[asyncio.Task[None]]
    _resume_at: float
    _resume_timer: asyncio.TimerHandle | None
    _webhook_error: tuple[int, str] | None
    _webhook_waiters: list[asyncio.Future[None]]
    _webhook_session: aiohttp.ClientSession | None

    # -- Bot API methods -------------------------------------------------------------------

    def _api_set_webhook(self, params: dict[str, Any]) -> bool:
        """setWebhook: an empty ``url`` removes the webhook, like Telegram."""
        url = str(params.get("url") or "").strip()
        if not url:
            return self._api_delete_webhook(params)
        check_webhook_url(url)
        secret = params.get("secret_token")
        secret = None if secret is None or secret == "" else str(secret)
        if secret is not None:
            if len(secret) > MAX_SECRET_LENGTH:
                raise bad("secret token is too long")
            if not _SECRET_RE.fullmatch(secret):
                raise bad("secret token contains unallowed characters")
        max_connections = as_int(params, "max_connections", DEFAULT_MAX_CONNECTIONS)
        if not 1 <= max_connections <= 100:
            raise bad("max_connections must be between 1 and 100")
        allowed = _allowed_updates(params) if "allowed_updates" in params else None
        if allowed is not None:  # not passed: the previous setting stays, like Telegram
            self._allowed_updates = frozenset(allowed) if allowed else None
        if self._webhook is None or self._webhook.url != url:
            self._webhook_error = None
        self._webhook = Webhook(url, secret, max_connections)
        self._end_backoff()  # a new setting is tried at once
        if _flag(params, "drop_pending_updates"):
            self._confirm(self._next_update_id)
        # A parked getUpdates ends with a 409, like Telegram's.
        self._poll_gen += 1
        self._poll_conflict = "Conflict: terminated by setWebhook request"
        wake(self._update_waiters)
        self._pump()
        return True

    def _api_delete_webhook(self, params: dict[str, Any]) -> bool:
        """deleteWebhook: queued updates stay for getUpdates unless ``drop_pending_updates``."""
        self._webhook = None
        self._webhook_error = None
        for task in self._in_flight.values():
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(self._abandoned.discard)
        self._in_flight.clear()
        self._end_backoff()
        if _flag(params, "drop_pending_updates"):
            self._confirm(self._next_update_id)
        wake(self._webhook_waiters)
        return True

    def _api_get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        """getWebhookInfo (``url`` is empty when no webhook is set)."""
        hook = self._webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": self._pending_count(),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _api_get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """getUpdates, refused while a webhook is set."""
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        return await super()._api_get_updates(params)

    # -- Python helpers for tests ----------------------------------------------------------

    def enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update; with a webhook set it is delivered there instead of getUpdates."""
        upd = super().enqueue(update)
        self._pump()
        wake(self._webhook_waiters)
        return upd

    def set_webhook(self, url: str, **params: Any) -> None:
        """Set the webhook as the bot would with setWebhook (``secret_token=``, …)."""
        self._api_set_webhook({"url": url, **params})

    def delete_webhook(self, drop_pending_updates: bool = False) -> None:
        """Delete the webhook as the bot would with deleteWebhook."""
        self._api_delete_webhook({"drop_pending_updates": drop_pending_updates})

    def webhook_info(self) -> dict[str, Any]:
        """What getWebhookInfo answers."""
        return self._api_get_webhook_info({})

    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every update sent to a webhook so far, by ``update_id``."""
        return [self._deliveries[k] for k in sorted(self._deliveries)]

    def webhook_state(self) -> dict[str, Any]:
        """The webhook, its queue and every delivery (the answer of ``/_control/webhook``)."""
        hook = self._webhook
        error = self._webhook_error
        return {
            "url": hook.url if hook else "",
            "secret": hook.secret if hook else None,
            "max_connections": hook.max_connections if hook else None,
            "pending": self._pending_count(),
            "in_flight": sorted(self._in_flight),
            "idle": self._webhook_idle(),
            "retry_delay": self.webhook_retry_delay,
            "timeout": self.webhook_timeout,
            "last_error_date": error[0] if error else None,
            "last_error_message": error[1] if error else None,
            "deliveries": [d.to_dict() for d in self.webhook_deliveries()],
        }

    async def wait_webhook(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """``webhook_state()`` once ``predicate`` holds for it (default: the webhook is idle).

        Looked at again whenever an update is queued or a delivery starts or ends.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = self.webhook_state()
            if state["idle"] if predicate is None else predicate(state):
                return state
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = "idle" if predicate is None else getattr(predicate, "__name__", "predicate")
                raise AssertionError(f"webhook not {what} within {timeout}s: {state!r}")
            await sleep_on(self._webhook_waiters, remaining)

    async def wait_webhook_idle(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until no update waits for the webhook and no delivery is in flight."""
        return await self.wait_webhook(None, timeout)

    # -- delivery --------------------------------------------------------------------------

    def _pending_count(self) -> int:
        """Queued updates that would be delivered (``allowed_updates`` applied)."""
        return len(self._deliverable(len(self._updates) + 1))

    def _webhook_idle(self) -> bool:
        """Nothing in flight and, with a webhook set, nothing waiting for it."""
        if self._in_flight:
            return False
        return self._webhook is None or self._pending_count() == 0

    def _pump(self) -> None:
        """Start deliveries for queued updates, as many as ``max_connections`` allows."""
        hook = self._webhook
        if hook is None or self._closing or getattr(self, "_runner", None) is None:
            return
        loop = asyncio.get_running_loop()
        wait = self._resume_at - loop.time()
        if wait > 0:  # backing off after a failure
            if self._resume_timer is None:
                self._resume_timer = loop.call_later(wait, self._resume)
            return
        free = hook.max_connections - len(self._in_flight)
        if free <= 0:
            return
        # One chat's updates go one at a time, in order; different chats side by side.
        in_flight = {self._chat_of(u) for u in self._updates if u["update_id"] in self._in_flight}
        for upd in self._deliverable(len(self._updates) + 1):
            update_id = upd["update_id"]
            chat = self._chat_of(upd)
            if update_id in self._in_flight or chat in in_flight:
                in_flight.add(chat)
                continue
            in_flight.add(chat)
            record = self._deliveries.setdefault(update_id, WebhookDelivery(update_id))
            record.attempts += 1
            record.status = None
            self._in_flight[update_id] = loop.create_task(self._deliver(hook, upd, record))
            free -= 1
            if free <= 0:
                break
        wake(self._webhook_waiters)

    @staticmethod
    def _chat_of(upd: dict[str, Any]) -> object:
        for kind in ("message", "edited_message"):
            if upd.get(kind):
                return upd[kind]["chat"]["id"]
        query = upd.get("callback_query")
        return ("user", query["from"]["id"]) if query else ("update", upd["update_id"])

    def _end_backoff(self) -> None:
        """Forget the pause after a failed delivery."""
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        self._resume_at = 0.0

    def _resume(self) -> None:
        """The back-off after a failure is over."""
        self._resume_timer = None
        self._pump()

    async def _deliver(self, hook: Webhook, upd: dict[str, Any], record: WebhookDelivery) -> None:
        """POST one update to the webhook and settle the outcome."""
        try:
            status = await self._post(hook, upd)
        except asyncio.CancelledError:
            record.status = "cancelled"
            record.history.append("cancelled")
            wake(self._webhook_waiters)
            raise
        update_id = upd["update_id"]
        if self._in_flight.get(update_id) is asyncio.current_task():
            del self._in_flight[update_id]
        record.status = status if isinstance(status, str) else status[0]
        record.history.append(record.status)
        if isinstance(status, tuple) and 200 <= status[0] < 300:
            record.delivered = True
            for i, queued in enumerate(self._updates):
                if queued is upd:
                    del self._updates[i]
                    break
        else:
            if isinstance(status, tuple):
                message = f"Wrong response from the webhook: {status[0]} {status[1]}"
            else:
                message = status
            current = self._webhook
            if current is not None and current.url == hook.url:  # not changed meanwhile
                self._webhook_error = (int(self.clock().timestamp()), message)
                loop = asyncio.get_running_loop()
                self._resume_at = max(self._resume_at, loop.time() + self.webhook_retry_delay)
        self._pump()
        wake(self._webhook_waiters)

    async def _post(self, hook: Webhook, upd: dict[str, Any]) -> tuple[int, str] | str:
        """``(status, reason)`` of the webhook's answer, or the connection error."""
        host = urlsplit(hook.url).hostname or ""
        if not is_loopback(host):
            return f"Failed to resolve host: the fake Bot API only connects to loopback, not {host}"
        if self._webhook_session is None or self._webhook_session.closed:
            self._webhook_session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if hook.secret is not None:
            headers[SECRET_HEADER] = hook.secret
        body = json.dumps(upd, ensure_ascii=False).encode("utf-8")
        try:
            async with self._webhook_session.post(
                hook.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                ssl=False,
                allow_redirects=False,
            ) as resp:
                await resp.read()
                return resp.status, resp.reason or _phrase(resp.status)
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectorError as exc:
            error = exc.os_error
            if isinstance(error, ConnectionRefusedError) or "refused" in str(error).lower():
                return "Connection refused"
            return f"Connection failed: {error or exc}"
        except aiohttp.ClientError as exc:
            return f"Connection failed: {exc!r}"

    async def _stop_webhook(self) -> None:
        """Abandon the deliveries in flight and close the HTTP client (the server stops)."""
        tasks = [*self._in_flight.values(), *self._abandoned]
        self._in_flight.clear()
        self._end_backoff()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._webhook_session is not None:
            await self._webhook_session.close()
            self._webhook_session = None
