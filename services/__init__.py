"""Use cases by capability. Each opens its unit of work, commits once and returns plain data.

Channels (Telegram handlers, the CLI, scheduled jobs, later the web page) reach them through
`Services`, which the composition root (`bot.app`) builds.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.audit import AuditService
from services.charts import ChartService
from services.clock import Clock
from services.entries import EntryService
from services.forms import FormService
from services.grading import GradingService
from services.identity import IdentityService
from services.inbox import InboxService
from services.outbox import OutboxService
from services.policy import LoggingRules
from services.project_import import ProjectImportService
from services.project_reports import ProjectReportService
from services.projects import ProjectService
from services.quality import QualityService
from services.rating import RatingService
from services.reminders import ReminderService
from services.review import ReviewService
from services.roster import RosterService
from services.web_access import WebAccessService


@dataclass(frozen=True)
class Services:
    clock: Clock
    rules: LoggingRules
    entries: EntryService
    identity: IdentityService
    roster: RosterService
    inbox: InboxService
    outbox: OutboxService
    review: ReviewService
    rating: RatingService
    grading: GradingService
    audit: AuditService
    reminders: ReminderService
    forms: FormService
    charts: ChartService
    quality: QualityService
    projects: ProjectService
    project_reports: ProjectReportService
    project_import: ProjectImportService
    web_access: WebAccessService
