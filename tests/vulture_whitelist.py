"""Names vulture cannot see being used (frameworks call them, or they are the schema)."""

# ruff: noqa: B018
from bot.telegram import RetryAfterLimiter
from services.entries import EntryService, Recorded
from storage.models import Channel, LogEntry, Unit, UTCDateTime

UTCDateTime.impl, UTCDateTime.cache_ok  # SQLAlchemy TypeDecorator hooks
UTCDateTime.process_bind_param, UTCDateTime.process_result_value
RetryAfterLimiter.process_request  # PTB's rate limiter hook
Channel.WEB, Channel.CLI  # channels of the web page and CLI issues
Unit.parent_id, LogEntry.project_id  # columns the supervisor and projects issues fill
Recorded.replayed  # a channel may tell a replay from a first answer
EntryService.activity_of  # the set-based read model of /team, grades and exports
