"""The audit trail for admins: bindings, refusals, and every read of somebody else's log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from services import zh
from services.clock import Clock
from services.errors import NotFound
from storage.repositories import AuditRow
from storage.uow import UowFactory

__all__ = ["AuditRow", "AuditService", "AuditTrail"]


@dataclass(frozen=True)
class AuditTrail:
    rows: tuple[AuditRow, ...]  # newest first
    limited: bool  # more lines match than were returned

    def render(self, tz: tzinfo) -> str:
        """One line per event, oldest first, for the terminal."""
        if not self.rows:
            return zh.AUDIT_EMPTY
        lines = [zh.AUDIT_HEADER]
        for row in reversed(self.rows):
            actor = row.actor or (
                zh.AUDIT_ACCOUNT.format(id=row.actor_telegram_id) if row.actor_telegram_id else "-"
            )
            detail = "" if row.detail in ("", "{}") else row.detail
            lines.append(
                "\t".join(
                    [
                        f"{row.at.astimezone(tz):%Y-%m-%d %H:%M:%S}",
                        zh.AUDIT_ACTIONS.get(row.action, row.action),
                        row.command or "-",
                        actor,
                        row.subject or "-",
                        detail,
                    ]
                ).rstrip()
            )
        if self.limited:
            lines.append(zh.AUDIT_LIMITED.format(count=len(self.rows)))
        return "\n".join(lines)


class AuditService:
    def __init__(self, uow: UowFactory, clock: Clock, tz: tzinfo) -> None:
        self.uow = uow
        self.clock = clock
        self.tz = tz

    async def trail(
        self, roster_id: str | None = None, since: date | None = None, limit: int = 1000
    ) -> AuditTrail:
        """Lines by or about the person with this 工号 (or everyone), since a day, newest first."""
        start = None if since is None else datetime.combine(since, time(), self.tz)
        async with self.uow() as uow:
            person_id = None
            if roster_id is not None:
                found = await uow.people.find_roster_id(roster_id)
                if found is None:
                    raise NotFound(zh.AUDIT_NO_PERSON.format(id=roster_id))
                person_id = found
            rows = await uow.audit.trail(person_id, start, limit + 1)
        return AuditTrail(tuple(rows[:limit]), len(rows) > limit)
