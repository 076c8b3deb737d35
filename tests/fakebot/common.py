"""Small pieces shared by the fake's modules: Bot API errors, JSON answers and waiter futures."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional ``parameters``."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The Bot API error object."""
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart/form-data request: its part's file name, type and bytes."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


def bad(description: str) -> ApiError:
    """A 400 Bad Request error."""
    return ApiError(400, f"Bad Request: {description}")


def too_many_requests(retry_after: int) -> ApiError:
    """A 429 flood-wait error asking the client to retry after ``retry_after`` seconds."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def as_int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    """Read an integer parameter, raising a Telegram-like error when missing or invalid."""
    value = params.get(name, default)
    if value is None or value == "":
        raise bad(f"{name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad(f"invalid {name} specified") from None


def json_response(payload: dict[str, Any], status: int = 200) -> web.Response:
    """Serialise a JSON answer (UTF-8, non-ASCII kept readable)."""
    return web.Response(
        body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        status=status,
        content_type="application/json",
    )


def wake(waiters: list[asyncio.Future[None]]) -> None:
    """Resolve and forget all waiter futures."""
    pending = waiters[:]
    waiters.clear()
    for fut in pending:
        if not fut.done():
            fut.set_result(None)


async def sleep_on(waiters: list[asyncio.Future[None]], timeout: float) -> None:
    """Sleep until :func:`wake` is called on ``waiters`` or ``timeout`` passes."""
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiters.append(fut)
    try:
        await asyncio.wait((fut,), timeout=timeout)
    finally:
        if not fut.done():
            fut.cancel()
            with contextlib.suppress(ValueError):
                waiters.remove(fut)
