"""The service's log output: text or one JSON object per line, never the bot token."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.config import Config, redact

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The handler configure() installs, replaced when it is called again.
HANDLER_NAME = "worklog"
PAYLOAD_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Application")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, for log collectors (time in UTC, ISO 8601)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


class TokenFilter(logging.Filter):
    """Replace the bot token in every record (httpx and PTB put it in request URLs)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it as usual
            return True
        record.msg, record.args = redact(message, self.token), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.token)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.token)
        return True


def configure(config: Config) -> None:
    """Root logging at config.log_level in config.log_format, the token filtered out."""
    root = logging.getLogger()
    root.setLevel(config.log_level)
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    # httpx logs every request URL at INFO, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # At DEBUG these log whole updates and request parameters: the cadres' message texts.
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    # Like logging.basicConfig: a host that installed its own handlers (pytest) keeps them.
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    json_lines = config.log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    if config.telegram.token:
        handler.addFilter(TokenFilter(config.telegram.token))
    root.addHandler(handler)
