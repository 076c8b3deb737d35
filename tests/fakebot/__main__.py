"""``python -m tests.fakebot --port N``: serve a fake Bot API until SIGINT or SIGTERM.

Prints ``READY <base_url>`` once listening; drive it through the ``/_control/`` routes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .server import DEFAULT_USERNAME, FakeBotApi


async def serve(args: argparse.Namespace) -> None:
    """Run a FakeBotApi until SIGINT/SIGTERM."""
    api = FakeBotApi(
        username=args.username,
        strict_chats=not args.relaxed_chats,
        per_chat_limit=args.per_chat_limit,
        global_limit=args.global_limit,
        host=args.host,
        webhook_retry_delay=args.webhook_retry_delay,
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
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description="Serve a fake Telegram Bot API.")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument(
        "--relaxed-chats", action="store_true", help="allow sending to chats never seen"
    )
    parser.add_argument("--per-chat-limit", type=float, default=None)
    parser.add_argument("--global-limit", type=float, default=None)
    parser.add_argument(
        "--webhook-retry-delay",
        type=float,
        default=0.2,
        help="seconds between a failed webhook delivery and the next",
    )
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
