"""The ``/_control/<action>`` routes: drive the fake from another process.

POST a JSON object (query parameters count too); the answer is ``{"ok": true, "result": ...}``.
Actions:

- ``send_text``: ``{"user_id": 7, "text": "hi", "first_name": "...", "reply_to": 5}``
  (first_name optional; reply_to, optional, is the id of a message of the private chat it
  replies to); the result is the queued update.
- ``send_texts``: ``{"messages": [{"user_id": .., "text": ..}, ...]}``, a batch for
  benchmarks; the result is ``{"count": n, "update_ids": [...]}``.
- ``stats``: the result of ``FakeBotApi.stats()`` (call counts per method, queue state,
  ``rate_limited``: the 429s answered for a rate limit).
- ``enforce_limits``: ``{"global_per_second": 30, "per_chat_per_second": 1}`` (null: no
  limit), see ``FakeBotApi.enforce_limits``.
- ``webhook`` (GET is fine): the webhook and its deliveries, ``FakeBotApi.webhook_state()``:
  ``{"url": "" when none, "secret", "max_connections", "pending": queued updates,
  "in_flight": [update_id, ...], "idle", "retry_delay", "timeout", "last_error_date",
  "last_error_message", "deliveries": [{"update_id", "attempts", "status": last HTTP status or
  error (null while in flight), "history": [each attempt's status], "delivered"}, ...]}``.
- ``webhook/config``: ``{"retry_delay": 0.05, "timeout": 2}`` (either optional) sets
  ``webhook_retry_delay`` / ``webhook_timeout``; the result is the webhook state.
- ``webhook/wait_idle?timeout=10``: answers once nothing waits for the webhook and no delivery
  is in flight, or after ``timeout`` seconds: the webhook state, whose ``idle`` tells which.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .common import json_response
from .users import FakeUser, UsersMixin


class ControlMixin(UsersMixin):
    """Serves ``/_control/<action>`` through the ``_control_<action>(args)`` methods."""

    stats: Callable[[], dict[str, Any]]  # provided by FakeBotApi
    enforce_limits: Callable[[float | None, float | None], None]  # provided by FakeBotApi
    webhook_retry_delay: float  # provided by FakeBotApi
    webhook_timeout: float  # provided by FakeBotApi
    webhook_state: Callable[[], dict[str, Any]]  # provided by WebhookMixin
    wait_webhook_idle: Callable[[float], Any]  # provided by WebhookMixin

    async def _handle_control(self, request: web.Request) -> web.StreamResponse:
        """Serve one control action (``/_control/a/b`` runs ``_control_a_b``)."""
        name = "_".join(filter(None, (request.match_info["action"], request.match_info.get("sub"))))
        action = getattr(self, "_control_" + name, None)
        if action is None:
            return json_response({"ok": False, "description": "unknown action"}, 404)
        try:
            args: dict[str, Any] = dict(request.query)
            if request.body_exists:
                args.update(await request.json())
            result = action(args)
            if asyncio.iscoroutine(result):
                result = await result
            return json_response({"ok": True, "result": result})
        except (ValueError, TypeError, LookupError) as exc:
            return json_response({"ok": False, "description": f"bad arguments: {exc!r}"}, 400)

    def _control_send_text(self, args: dict[str, Any]) -> dict[str, Any]:
        """``send_text`` as the user named by ``user_id`` (and optionally ``first_name``)."""
        user_id = int(args["user_id"])
        user = FakeUser(user_id, str(args.get("first_name", f"User{user_id}")))
        reply_to = args.get("reply_to")
        return self.send_text(
            user, str(args["text"]), reply_to=None if reply_to is None else int(reply_to)
        )

    def _control_send_texts(self, args: dict[str, Any]) -> dict[str, Any]:
        """``send_texts``: one ``send_text`` per item of ``messages``."""
        sent = [self._control_send_text(item) for item in args["messages"]]
        return {"count": len(sent), "update_ids": [u["update_id"] for u in sent]}

    def _control_sent(self, args: dict[str, Any]) -> dict[str, Any]:
        """What the bot sent (text or caption, chat, buttons, file name) from call ``since``."""
        since = int(args.get("since", 0))
        sent = []
        for call in self.calls(since=since):  # type: ignore[attr-defined]
            if not call.method.lower().startswith("send") or call.status != 200:
                continue
            params = call.params
            document = params.get("document") or params.get("photo")
            sent.append(
                {
                    "method": call.method,
                    "chat_id": params.get("chat_id"),
                    "text": params.get("text", params.get("caption", "")),
                    "reply_markup": params.get("reply_markup"),
                    "file": getattr(document, "filename", None) if document else None,
                }
            )
        return {"next": len(self.calls()), "messages": sent}  # type: ignore[attr-defined]

    def _control_stats(self, args: dict[str, Any]) -> dict[str, Any]:
        """``stats``."""
        return self.stats()

    def _control_enforce_limits(self, args: dict[str, Any]) -> dict[str, Any]:
        """``enforce_limits``."""
        limits = (args.get("global_per_second", 30), args.get("per_chat_per_second", 1))
        global_limit, per_chat = (None if v is None else float(v) for v in limits)
        self.enforce_limits(global_limit, per_chat)
        return {"global_per_second": global_limit, "per_chat_per_second": per_chat}

    def _control_webhook(self, args: dict[str, Any]) -> dict[str, Any]:
        """``webhook``."""
        return self.webhook_state()

    def _control_webhook_config(self, args: dict[str, Any]) -> dict[str, Any]:
        """``webhook/config``."""
        if args.get("retry_delay") is not None:
            self.webhook_retry_delay = max(0.0, float(args["retry_delay"]))
        if args.get("timeout") is not None:
            self.webhook_timeout = max(0.001, float(args["timeout"]))
        return self.webhook_state()

    async def _control_webhook_wait_idle(self, args: dict[str, Any]) -> dict[str, Any]:
        """``webhook/wait_idle``."""
        try:
            return await self.wait_webhook_idle(float(args.get("timeout", 10.0)))
        except AssertionError:
            return self.webhook_state()
