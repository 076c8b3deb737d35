"""Configuration: one TOML file, secrets overridable from the environment."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date, time
from pathlib import Path
from typing import Any

from scoring.grades import Rating, Rounding, ScoringRules
from scoring.projects import ProjectRules, parse_amount
from services.policy import (
    LoggingRules,
    ProjectSettings,
    QualityRules,
    ReviewRules,
    SchedulerRules,
    WebSettings,
)

ENV_TOKEN = "WORKLOG_TELEGRAM_TOKEN"
ENV_DATABASE_URL = "WORKLOG_DATABASE_URL"
ENV_WEBHOOK_SECRET = "WORKLOG_TELEGRAM_WEBHOOK_SECRET"
ENV_CONFIG = "WORKLOG_CONFIG"
DEFAULT_CONFIG_PATH = Path("config.toml")


WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(ValueError):
    """The configuration file is missing a value or has a wrong one."""


@dataclass(frozen=True)
class TelegramConfig:
    token: str = ""
    # Used for invite links; when empty the CLI asks Telegram (getMe).
    bot_username: str = ""
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    poll_timeout: int = 30
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    # "polling" (getUpdates, one process) or "webhook" (Telegram posts to the service).
    mode: str = "polling"
    # The HTTPS address Telegram posts updates to; empty = [web] public_url + webhook_path.
    webhook_url: str = ""
    # Where the service listens for them, on the [web] listener.
    webhook_path: str = "/telegram/webhook"
    # Telegram sends it in X-Telegram-Bot-Api-Secret-Token; anything else is refused.
    webhook_secret: str = ""
    # Connections Telegram may open to the webhook at once (1-100).
    webhook_max_connections: int = 40

    def webhook_address(self, public_url: str) -> str:
        """The URL registered with Telegram for the webhook."""
        return self.webhook_url or public_url.rstrip("/") + self.webhook_path


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite+aiosqlite:///data/worklog.db"
    echo: bool = False


@dataclass(frozen=True)
class InviteConfig:
    ttl_days: int = 14


@dataclass(frozen=True)
class CalendarConfig:
    """Admin overrides on top of the working-day calendar."""

    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()


@dataclass(frozen=True)
class OutboxConfig:
    """How fast the outbox sender may send: Telegram's limits for one bot (`[outbox]`)."""

    # Paced messages (notices, reminders, fan-outs) per second.
    rate: float = 25.0
    # All messages per second, replies and direct answers included (Telegram: about 30).
    budget: float = 30.0
    # Seconds between two messages to one chat (Telegram: about one a second).
    per_chat_interval: float = 1.0
    # Paced messages looked up at a time.
    batch_size: int = 20
    # Sends under way at once, per lane (replies, paced messages).
    concurrency: int = 16


@dataclass(frozen=True)
class ServiceConfig:
    """How a `worklog run` process shares the work with others and stops (`[service]`)."""

    # Seconds a stopping process (SIGTERM) has to finish the updates and sends in hand.
    stop_grace: float = 20.0
    # Seconds after which an update claimed by a process that stopped answering is taken
    # over by another (a live process renews its claims well before).
    claim_timeout: float = 60.0


@dataclass(frozen=True)
class OpsConfig:
    """Health and metrics for operators (`[ops]`): /healthz and /metrics on their own port."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9108  # 0: any free port (tests)
    # /healthz answers 503 when the oldest update waiting to be processed is older than this.
    max_pending_age: float = 300.0


@dataclass(frozen=True)
class BackupConfig:
    """The scheduled daily backup (`[backup]`); `worklog backup FILE` works regardless."""

    enabled: bool = True
    dir: str = "backups"
    at: time = time(2, 30)
    # How many daily backups are kept; older ones are deleted.
    keep: int = 14


@dataclass(frozen=True)
class Config:
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    logging: LoggingRules = field(default_factory=LoggingRules)
    invites: InviteConfig = field(default_factory=InviteConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    review: ReviewRules = field(default_factory=ReviewRules)
    scheduler: SchedulerRules = field(default_factory=SchedulerRules)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    scoring: ScoringRules = field(default_factory=ScoringRules)
    quality: QualityRules = field(default_factory=QualityRules)
    projects: ProjectSettings = field(default_factory=ProjectSettings)
    web: WebSettings = field(default_factory=WebSettings)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    ops: OpsConfig = field(default_factory=OpsConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    log_level: str = "INFO"
    # "text" (one line per record) or "json" (one JSON object per line).
    log_format: str = "text"


_SECTIONS: dict[str, type] = {
    "telegram": TelegramConfig,
    "database": DatabaseConfig,
    "logging": LoggingRules,
    "invites": InviteConfig,
    "calendar": CalendarConfig,
    "review": ReviewRules,
    "scheduler": SchedulerRules,
    "outbox": OutboxConfig,
    "quality": QualityRules,
    "web": WebSettings,
    "service": ServiceConfig,
    "ops": OpsConfig,
    "backup": BackupConfig,
}


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    where = f"{section}.{key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{where} must be a number")
        return float(value)
    if isinstance(default, time):
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError as exc:
            raise ConfigError(f'{where} must be a time like "08:30"') from exc
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list of dates")
        out = []
        for item in value:
            try:
                out.append(item if isinstance(item, date) else date.fromisoformat(str(item)))
            except ValueError as exc:
                raise ConfigError(f"{where}: {item!r} is not a date like 2026-10-01") from exc
        return tuple(out)
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string")
    return value


# [scoring] keys that are not plain numbers of ScoringRules.
_POINTS_KEYS = {f"points_{r.name.lower()}": r for r in Rating}


def _scoring_rules(data: dict[str, Any]) -> ScoringRules:
    """[scoring]: flat keys in the file (points_good, quarter_weights, …) → ScoringRules."""
    rules = ScoringRules()
    special = {"rating_points", "rounding", "quarter_weights"}
    plain = {f.name for f in fields(ScoringRules)} - special
    points = dict(rules.rating_points)
    changes: dict[str, Any] = {}
    for key, raw in data.items():
        if key in _POINTS_KEYS:
            points[_POINTS_KEYS[key]] = _coerce("scoring", key, raw, 0.0)
        elif key == "rounding":
            try:
                changes["rounding"] = Rounding(str(raw))
            except ValueError as exc:
                raise ConfigError('scoring.rounding must be "down", "nearest" or "up"') from exc
        elif key == "quarter_weights":
            if not isinstance(raw, list) or len(raw) != 4:
                raise ConfigError("scoring.quarter_weights must be a list of four numbers")
            changes[key] = tuple(_coerce("scoring", key, w, 0.0) for w in raw)
        elif key in plain:
            changes[key] = _coerce("scoring", key, raw, getattr(rules, key))
        else:
            raise ConfigError(f"unknown configuration key scoring.{key}")
    rules = replace(rules, rating_points=points, **changes)
    shares = ("good_cap_percent", "excellent_cap_percent", "excellent_cap_bonus_percent")
    for key in (*shares, "top_percent", "bottom_percent"):
        if not 0 <= getattr(rules, key) <= 100:
            raise ConfigError(f"scoring.{key} must be between 0 and 100")
    weights = (
        rules.weight_rating,
        rules.weight_completeness,
        rules.weight_self,
        rules.weight_department,
        rules.weight_leader,
        *rules.quarter_weights,
    )
    if any(w < 0 for w in weights) or rules.weight_rating + rules.weight_completeness <= 0:
        raise ConfigError("scoring weights must not be negative, rating + completeness > 0")
    if rules.weight_department <= 0:
        raise ConfigError("scoring.weight_department must be positive (it is the /rate rating)")
    if not rules.basic_min_score <= rules.competent_min_score <= rules.excellent_min_score:
        raise ConfigError("scoring: basic_min_score <= competent_min_score <= excellent_min_score")
    if rules.missing_days_limit < 0:
        raise ConfigError("scoring.missing_days_limit must not be negative")
    return rules


def _project_settings(data: dict[str, Any]) -> ProjectSettings:
    """[projects]: remind_at, and ProjectRules' keys (amounts as "20亿" or whole yuan)."""
    settings = ProjectSettings()
    rules = settings.rules
    changes: dict[str, Any] = {}
    for key, raw in data.items():
        if key == "remind_at":
            settings = replace(settings, remind_at=_coerce("projects", key, raw, time(9, 30)))
            continue
        if key not in {f.name for f in fields(ProjectRules)}:
            raise ConfigError(f"unknown configuration key projects.{key}")
        default = getattr(rules, key)
        if key.endswith("_yuan"):
            amount = parse_amount(raw) if isinstance(raw, str) else raw
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise ConfigError(f'projects.{key} must be an amount like "20亿" or whole yuan')
            changes[key] = amount
        elif isinstance(default, tuple):
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise ConfigError(f"projects.{key} must be a list of category names")
            changes[key] = tuple(raw)
        else:
            changes[key] = _coerce("projects", key, raw, default)
    try:
        return replace(settings, rules=replace(rules, **changes))
    except ValueError as exc:
        raise ConfigError(f"projects: {exc}") from exc


def config_from_dict(data: dict[str, Any], env: dict[str, str] | None = None) -> Config:
    """Build a Config from parsed TOML, refusing unknown keys, then apply env overrides."""
    env = os.environ if env is None else env
    cfg = Config()
    for name, value in data.items():
        if name == "log_level":
            cfg = replace(cfg, log_level=str(value).upper())
            continue
        if name == "log_format":
            if value not in ("text", "json"):
                raise ConfigError('log_format must be "text" or "json"')
            cfg = replace(cfg, log_format=value)
            continue
        if name == "scoring" and isinstance(value, dict):
            cfg = replace(cfg, scoring=_scoring_rules(value))
            continue
        if name == "projects" and isinstance(value, dict):
            cfg = replace(cfg, projects=_project_settings(value))
            continue
        section_type = _SECTIONS.get(name)
        if section_type is None or not isinstance(value, dict):
            raise ConfigError(f"unknown configuration section [{name}]")
        current = getattr(cfg, name)
        known = {f.name for f in fields(section_type)}
        changes = {}
        for key, raw in value.items():
            if key not in known:
                raise ConfigError(f"unknown configuration key {name}.{key}")
            changes[key] = _coerce(name, key, raw, getattr(current, key))
        cfg = replace(cfg, **{name: replace(current, **changes)})
    if env.get(ENV_TOKEN):
        cfg = replace(cfg, telegram=replace(cfg.telegram, token=env[ENV_TOKEN].strip()))
    if env.get(ENV_DATABASE_URL):
        cfg = replace(cfg, database=replace(cfg.database, url=env[ENV_DATABASE_URL].strip()))
    if env.get(ENV_WEBHOOK_SECRET):
        secret = env[ENV_WEBHOOK_SECRET].strip()
        cfg = replace(cfg, telegram=replace(cfg.telegram, webhook_secret=secret))
    _check_service(cfg)
    rules = cfg.logging
    if not 0 <= rules.rollover_hour <= 12:
        raise ConfigError("logging.rollover_hour must be between 0 and 12")
    if rules.backfill_window < 0:
        raise ConfigError("logging.backfill_window must not be negative")
    review = cfg.review
    for name in ("team_page_size", "review_page_size", "check_sample_size", "text_limit"):
        if not 1 <= getattr(review, name) <= 1000:
            raise ConfigError(f"review.{name} must be between 1 and 1000")
    if review.check_max_per_person < 1 or review.review_file_over < 1:
        raise ConfigError("review.check_max_per_person and review.review_file_over must be >= 1")
    if review.check_weight_low_completeness < 0 or review.check_weight_weak_entry < 0:
        raise ConfigError("review.check_weight_* must not be negative")
    jobs = cfg.scheduler
    if not jobs.reminder_window_start <= jobs.daily_reminder <= jobs.reminder_window_end:
        raise ConfigError("scheduler.daily_reminder must lie inside the reminder window")
    if jobs.weekly_digest_day not in WEEKDAY_NAMES:
        raise ConfigError(f"scheduler.weekly_digest_day must be one of {', '.join(WEEKDAY_NAMES)}")
    if jobs.fivetwo_deadline_days < 1:
        raise ConfigError("scheduler.fivetwo_deadline_days must be >= 1")
    if jobs.snooze_minutes < 1 or jobs.grace_minutes < 0 or jobs.inbox_retention_days < 1:
        raise ConfigError(
            "scheduler.snooze_minutes and inbox_retention_days must be >= 1, grace_minutes >= 0"
        )
    sending = cfg.outbox
    if not 0 < sending.rate <= sending.budget:
        raise ConfigError("outbox.rate must be positive and at most outbox.budget")
    if not 0 <= sending.per_chat_interval <= 60:
        raise ConfigError("outbox.per_chat_interval must be between 0 and 60 seconds")
    if not 1 <= sending.batch_size <= 1000 or not 1 <= sending.concurrency <= 1000:
        raise ConfigError("outbox.batch_size and outbox.concurrency must be between 1 and 1000")
    quality = cfg.quality
    if not 0 < quality.similarity <= 1:
        raise ConfigError("quality.similarity must be above 0 and at most 1")
    if quality.repeat_window_days < 1 or quality.copy_window_days < 0:
        raise ConfigError("quality.repeat_window_days must be >= 1, copy_window_days >= 0")
    if quality.short_chars < 0 or quality.long_chars < 1:
        raise ConfigError("quality.short_chars must be >= 0 and quality.long_chars >= 1")
    web_settings = cfg.web
    if not 0 < web_settings.port < 65536:
        raise ConfigError("web.port must be between 1 and 65535")
    if web_settings.login_ttl_minutes < 1 or web_settings.signed_in_days < 1:
        raise ConfigError("web.login_ttl_minutes and web.signed_in_days must be >= 1")
    if web_settings.max_body_kb < 1 or web_settings.logins_per_minute < 1:
        raise ConfigError("web.max_body_kb and web.logins_per_minute must be >= 1")
    if web_settings.init_data_max_age_seconds < 60:
        raise ConfigError("web.init_data_max_age_seconds must be >= 60")
    try:
        rules.tz  # noqa: B018 - validates the zone name early
    except Exception as exc:
        raise ConfigError(f"logging.timezone: unknown zone {rules.timezone!r}") from exc
    return cfg


# Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and - in a webhook's secret token.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _check_service(cfg: Config) -> None:
    """The production keys: webhook, several processes, health, backups."""
    tg = cfg.telegram
    if tg.mode not in ("polling", "webhook"):
        raise ConfigError('telegram.mode must be "polling" or "webhook"')
    if tg.mode == "webhook":
        if not _SECRET.fullmatch(tg.webhook_secret):
            raise ConfigError(
                'telegram.mode = "webhook" needs telegram.webhook_secret (or '
                f"{ENV_WEBHOOK_SECRET}): 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        if not cfg.web.enabled:
            raise ConfigError(
                'telegram.mode = "webhook" listens on the [web] host and port: '
                "set [web] enabled = true"
            )
    if not tg.webhook_path.startswith("/"):
        raise ConfigError("telegram.webhook_path must start with /")
    if not 1 <= tg.webhook_max_connections <= 100:
        raise ConfigError("telegram.webhook_max_connections must be between 1 and 100")
    if not 0 < cfg.service.stop_grace <= 600:
        raise ConfigError("service.stop_grace must be between 0 and 600 seconds")
    if not 5 <= cfg.service.claim_timeout <= 3600:
        raise ConfigError("service.claim_timeout must be between 5 and 3600 seconds")
    if not 0 <= cfg.ops.port < 65536:
        raise ConfigError("ops.port must be between 0 (any free port) and 65535")
    if cfg.ops.max_pending_age <= 0:
        raise ConfigError("ops.max_pending_age must be positive")
    if cfg.backup.keep < 1:
        raise ConfigError("backup.keep must be >= 1")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the TOML file (WORKLOG_CONFIG or ./config.toml); a missing file means defaults."""
    chosen = Path(path or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG_PATH)
    data: dict[str, Any] = {}
    if chosen.exists():
        try:
            data = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{chosen}: {exc}") from exc
    elif path is not None or os.environ.get(ENV_CONFIG):
        raise ConfigError(f"configuration file {chosen} not found")
    return config_from_dict(data)


def redact(text: str, token: str) -> str:
    """Remove the bot token from text that may end up in a log."""
    return text.replace(token, "<token>") if token else text
