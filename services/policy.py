"""Policy values the use cases apply: the organisation's logging rules (set in config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo

from scoring.projects import ProjectRules


@dataclass(frozen=True)
class LoggingRules:
    """How cadres' log entries are dated, classified and limited."""

    timezone: str = "Asia/Shanghai"
    rollover_hour: int = 4
    work_day_start: time = time(8, 30)
    work_day_end: time = time(17, 30)
    backfill_window: int = 3
    max_item_chars: int = 500

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class ReviewRules:
    """How supervisors' views page and how a spot check (抽查) draws its sample."""

    # /team lists this many people per message; more reports page with buttons.
    team_page_size: int = 20
    # /review shows this many entries per page (◀ ▶).
    review_page_size: int = 15
    # A period with more entries than this comes as an XLSX file instead of pages.
    review_file_over: int = 150
    # Entries sampled by one /check, and at most this many of one person when others have some.
    check_sample_size: int = 5
    check_max_per_person: int = 2
    # Extra sampling weight for a person's shortfall in completeness (0..1) and per weakness
    # of an entry (very short, generic, repeated).
    check_weight_low_completeness: float = 2.0
    check_weight_weak_entry: float = 1.5
    # An entry with at most this many letters, digits or characters counts as very short.
    check_short_chars: int = 6
    # The longest comment, evaluation or spot-check remark a supervisor may write.
    text_limit: int = 500


@dataclass(frozen=True)
class QualityRules:
    """The nightly quality check (质量提示): near-duplicates, trivial and overlong entries."""

    # Two entries are nearly the same when this share of their content words agree (Jaccard).
    similarity: float = 0.8
    # `repeat`: the same as the cadre's own entry on one of this many earlier days.
    repeat_window_days: int = 30
    # `copy`: the same as a colleague's (same unit) entry stored earlier, within this many days.
    copy_window_days: int = 3
    # `trivial`: at most this many letters, digits or characters, or only generic words.
    short_chars: int = 6
    # `long`: more characters than this; one entry should be one thing (一事一记).
    long_chars: int = 200
    # When the nightly check runs (local time), after the work day has rolled over.
    check_at: time = time(4, 30)


@dataclass(frozen=True)
class SchedulerRules:
    """When the scheduled jobs run (local time of `logging.timezone`) and what they may do."""

    # The daily reminder to cadres with nothing logged today, on working days.
    daily_reminder: time = time(17, 30)
    # The window in which a cadre may pick their own reminder time (/settings).
    reminder_window_start: time = time(16, 0)
    reminder_window_end: time = time(21, 0)
    # The second, later nudge to those still without an entry (a cadre may mute it).
    second_nudge: bool = True
    second_nudge_at: time = time(20, 30)
    # 稍后提醒 on a reminder asks again after this many minutes.
    snooze_minutes: int = 60
    # The weekly digest to supervisors: day of week (mon..sun) and time.
    weekly_digest_day: str = "mon"
    weekly_digest_at: time = time(9, 0)
    # On the quarter's last working day: supervisors hear whom they have not read (季查阅),
    # and cadres are asked for the 5+2 form, due this many days after the quarter ends.
    quarterly_review_at: time = time(10, 0)
    fivetwo_deadline_days: int = 7
    # On the month's last working day cadres are asked for their 月小结.
    monthly_summary_at: time = time(16, 0)
    # A job whose time passed while the service was down still runs within this many minutes.
    grace_minutes: int = 120
    # Processed inbox payloads older than this are purged (the audit line stays).
    inbox_retention_days: int = 30
    housekeeping_at: time = time(3, 0)
    # False: this process does not run the scheduled jobs (e.g. a second process).
    run_jobs: bool = True


@dataclass(frozen=True)
class ProjectSettings:
    """[projects]: the scoring table (scoring.projects.ProjectRules) and the stale reminder."""

    rules: ProjectRules = field(default_factory=ProjectRules)
    # The stale-project reminder runs on working days at this local time.
    remind_at: time = time(9, 30)


@dataclass(frozen=True)
class WebSettings:
    """[web]: the mobile web page served beside the bot (and alone in local mode)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    # The address people open (behind a reverse proxy: "https://rizhi.example.gov.cn");
    # empty: http://host:port.
    public_url: str = ""
    # A login link works once, for this long.
    login_ttl_minutes: int = 15
    # A signed-in browser stays signed in this long.
    signed_in_days: int = 14
    # The Mini App's signed data is refused when older than this.
    init_data_max_age_seconds: int = 3600
    # Larger form posts are refused before they are read.
    max_body_kb: int = 64
    # Login attempts (links opened, Mini App sign-ins) per client address and minute.
    logins_per_minute: int = 10

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def secure(self) -> bool:
        """Cookies are marked Secure when people reach the page over HTTPS."""
        return self.base_url().startswith("https://")
