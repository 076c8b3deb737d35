"""The operator's command line.

`worklog init | run | roster import | projects import | invite | weblink | jobs | calendar |
audit | score | export | cap | demo | backup | restore`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bot.config import Config, ConfigError, load_config, redact
from bot.logs import configure as configure_logging
from storage.db import create_engine
from storage.migrate import upgrade


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="worklog", description="工作日志机器人 运维命令")
    parser.add_argument(
        "-c", "--config", help="TOML file (default: $WORKLOG_CONFIG or ./config.toml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or upgrade the database (migrations)")
    sub.add_parser(
        "run", help="run the bot, the web page and the jobs (no token: web page and jobs only)"
    )
    roster = sub.add_parser("roster", help="roster of cadres")
    roster_sub = roster.add_subparsers(dest="roster_command", required=True)
    imp = roster_sub.add_parser("import", help="import or update people from CSV or XLSX")
    imp.add_argument("file", type=Path)
    projects = sub.add_parser("projects", help="the project ledger (项目台账)")
    projects_sub = projects.add_subparsers(dest="projects_command", required=True)
    projects_import = projects_sub.add_parser(
        "import", help="import or update projects (keyed by name) from CSV or XLSX"
    )
    projects_import.add_argument("file", type=Path)
    projects_export = projects_sub.add_parser(
        "export", help="the ledger as XLSX: investment progress, last update, stale projects"
    )
    projects_export.add_argument("--out", type=Path, required=True, help="the .xlsx to write")
    projects_score = projects_sub.add_parser(
        "score", help="the quarter's unit project score (项目建设考核), ranked, with every line"
    )
    projects_score.add_argument("quarter", help="e.g. 2026Q4")
    projects_score.add_argument("--out", type=Path, help="also write the XLSX")
    invite = sub.add_parser("invite", help="print single-use invite links")
    invite.add_argument("ids", nargs="*", help="roster ids (工号)")
    invite.add_argument("--unbound", action="store_true", help="every active person not yet bound")
    weblink = sub.add_parser("weblink", help="print a single-use login link for the web page")
    weblink.add_argument("ids", nargs="+", help="roster ids (工号)")
    jobs = sub.add_parser("jobs", help="scheduled jobs: list them, or run one now")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_sub.add_parser("list", help="every job, what it does and when it runs next")
    run_job = jobs_sub.add_parser("run", help="run a job now (twice for one period sends once)")
    run_job.add_argument("name")
    run_job.add_argument("--period", help="the day (2026-11-20) or week (2026-W47) to run for")
    webhook = sub.add_parser("webhook", help="Telegram's webhook registration (webhook mode)")
    webhook.add_argument(
        "webhook_command",
        choices=["set", "delete", "info"],
        help="set: register [telegram] webhook_url with the secret; delete: back to polling; "
        "info: what Telegram has",
    )
    calendar = sub.add_parser("calendar", help="working days, holidays and 调休 of a year")
    calendar.add_argument("year", type=int)
    audit = sub.add_parser("audit", help="print the audit trail (reads of others' logs, ...)")
    audit.add_argument("--person", help="only lines by or about this roster id (工号)")
    audit.add_argument("--since", help="only lines from this day on (2026-11-01)")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many lines")
    score = sub.add_parser("score", help="per-unit summary of completeness, ratings and grades")
    score.add_argument("period", help="a quarter, half year or year: 2026Q4, 2026H2, 2026")
    export = sub.add_parser("export", help="the grade table (one row per cadre) as XLSX")
    export.add_argument("period", help="a quarter, half year or year: 2026Q4, 2026H2, 2026")
    export.add_argument("--out", type=Path, required=True, help="the .xlsx file to write")
    cap = sub.add_parser("cap", help="a unit's own 好 cap for one quarter (60–80 %% for top units)")
    cap_sub = cap.add_subparsers(dest="cap_command", required=True)
    cap_set = cap_sub.add_parser("set", help="set a unit's cap for a quarter")
    cap_set.add_argument("unit", help="the unit's name as on the roster")
    cap_set.add_argument("quarter", help="2026Q4")
    cap_set.add_argument("percent", help="0–100, e.g. 70 or 70%%")
    cap_set.add_argument("--reason", default="", help="why (shown in the audit trail)")
    sub.add_parser(
        "demo",
        help="seed a demo county (refused on a real roster) and print web login links",
    )
    backup = sub.add_parser("backup", help="a consistent copy of the database, safe while it runs")
    backup.add_argument("file", type=Path)
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    restore = sub.add_parser(
        "restore", help="replace the database by a backup (the old one is kept aside)"
    )
    restore.add_argument("file", type=Path)
    restore.add_argument(
        "--yes", action="store_true", help="PostgreSQL: confirm every service is stopped"
    )
    return parser


async def _init(config: Config) -> None:
    engine = create_engine(config.database.url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _with_services(config: Config, action):  # type: ignore[no-untyped-def]
    """Migrate the database, then run `action(services)` on it."""
    from bot.app import build_services

    engine = create_engine(config.database.url)
    try:
        await upgrade(engine)
        return await action(build_services(config, engine).services)
    finally:
        await engine.dispose()


async def _roster_import(config: Config, path: Path) -> int:
    from services.roster import RosterFileError, read_roster_file

    try:
        rows = read_roster_file(path)
    except (RosterFileError, OSError) as exc:
        print(f"花名册无法读取: {exc}", file=sys.stderr)
        return 2
    report = await _with_services(config, lambda services: services.roster.import_rows(rows))
    print(report.render())
    return 1 if report.refused else 0


async def _projects_import(config: Config, path: Path) -> int:
    from services import zh
    from services.project_import import read_project_file
    from services.tables import TableFileError

    try:
        rows = read_project_file(path)
    except (TableFileError, OSError) as exc:
        print(zh.PROJECTS_FILE_CANNOT_READ.format(error=exc), file=sys.stderr)
        return 1
    report = await _with_services(
        config, lambda services: services.project_import.import_rows(rows)
    )
    print(report.render())
    return 1 if report.refused else 0


async def _projects_export(config: Config, out: Path) -> int:
    from services import zh
    from services.sheets import ledger_workbook

    ledger = await _with_services(config, lambda services: services.project_reports.ledger())
    out.write_bytes(ledger_workbook(ledger))
    print(zh.PROJECTS_EXPORTED.format(count=len(ledger.lines), path=out))
    return 0


async def _projects_score(config: Config, quarter: str, out: Path | None) -> int:
    from services import zh
    from services.errors import DomainError
    from services.sheets import project_score_workbook

    try:
        report = await _with_services(
            config, lambda services: services.project_reports.score(quarter)
        )
    except DomainError as exc:
        print(exc.reply, file=sys.stderr)
        return 2
    print(
        zh.PROJECT_SCORE_SUMMARY.format(
            label=report.quarter.label,
            to_date=zh.PROJECT_SCORE_TO_DATE if report.to_date else "",
            units=len(report.units),
        )
    )
    for unit in report.units:
        score = unit.ranked.score
        print(
            zh.PROJECT_SCORE_LINE.format(
                rank=unit.rank,
                unit=unit.unit_name,
                total=score.total,
                bonus=score.bonus,
                deduction=abs(score.deduction),
                projects=unit.projects,
            )
        )
    if report.unassigned:
        print(zh.PROJECT_SCORE_UNASSIGNED.format(names="、".join(report.unassigned)))
    if out is not None:
        out.write_bytes(project_score_workbook(report))
        print(zh.PROJECT_SCORE_WRITTEN.format(path=out))
    return 0


async def _bot_username(config: Config) -> str:
    if config.telegram.bot_username:
        return config.telegram.bot_username.lstrip("@")
    if not config.telegram.token:
        raise ConfigError(
            "telegram.bot_username is not set and there is no telegram.token to ask Telegram"
        )
    from telegram import Bot

    async with Bot(
        config.telegram.token,
        base_url=config.telegram.base_url,
        base_file_url=config.telegram.base_file_url,
    ) as bot:
        return bot.username


async def _webhook(config: Config, action: str) -> int:
    """Register, remove or show the webhook at Telegram (or a self-hosted Bot API server)."""
    from telegram import Bot
    from telegram.error import TelegramError

    from bot.webhook import set_webhook
    from services import zh

    tg = config.telegram
    if not tg.token:
        raise ConfigError("telegram.token is not set: the webhook is registered with the bot's")
    expected = tg.webhook_address(config.web.base_url())
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
        try:
            if action == "set":
                if not tg.webhook_secret:
                    raise ConfigError(
                        "telegram.webhook_secret (or WORKLOG_TELEGRAM_WEBHOOK_SECRET) is not "
                        "set: Telegram must send it with every update"
                    )
                await set_webhook(bot, expected, tg.webhook_secret, tg.webhook_max_connections)
                print(zh.WEBHOOK_SET.format(url=expected))
                if tg.mode != "webhook":
                    print(zh.WEBHOOK_MODE_HINT)
            elif action == "delete":
                await bot.delete_webhook(drop_pending_updates=False)
                print(zh.WEBHOOK_DELETED)
            info = await bot.get_webhook_info()
        except TelegramError as exc:
            print(zh.WEBHOOK_REFUSED.format(error=redact(str(exc), tg.token)), file=sys.stderr)
            return 1
    print(zh.webhook_info(info.url, expected, info.pending_update_count, info.max_connections))
    if info.last_error_message:
        when = info.last_error_date.isoformat(" ", "seconds") if info.last_error_date else "?"
        print(zh.WEBHOOK_LAST_ERROR.format(when=when, error=info.last_error_message))
    return 0


async def _invite(config: Config, ids: Sequence[str], unbound: bool) -> int:
    if not ids and not unbound:
        print("请给出工号，或用 --unbound 为所有未绑定的人生成邀请链接。", file=sys.stderr)
        return 2
    username = await _bot_username(config)

    batch = await _with_services(
        config,
        lambda services: services.roster.create_invites(
            None if unbound else list(ids), config.invites.ttl_days, unbound_only=unbound
        ),
    )
    print(batch.render(username, config.logging.tz))
    return 1 if batch.unknown else 0


async def _audit(config: Config, person: str | None, since_text: str | None, limit: int) -> int:
    from datetime import date

    from services import zh
    from services.errors import NotFound

    since = None
    if since_text is not None:
        try:
            since = date.fromisoformat(since_text)
        except ValueError:
            print(zh.AUDIT_BAD_DATE.format(text=since_text), file=sys.stderr)
            return 2
    try:
        trail = await _with_services(
            config, lambda services: services.audit.trail(person, since, max(limit, 1))
        )
    except NotFound as exc:
        print(exc.reply, file=sys.stderr)
        return 1
    print(trail.render(config.logging.tz))
    return 0


async def _score(config: Config, period_text: str, out: Path | None) -> int:
    """`worklog score` prints the per-unit summary; `worklog export` also writes the XLSX."""
    from services import zh
    from services.errors import DomainError
    from services.sheets import grades_workbook

    async def build(services):  # type: ignore[no-untyped-def]
        grading = services.grading
        return await grading.report(grading.period(period_text))

    try:
        report = await _with_services(config, build)
    except DomainError as exc:
        print(exc.reply, file=sys.stderr)
        return 2
    if out is not None:
        out.write_bytes(grades_workbook(report))
        print(zh.EXPORT_WRITTEN.format(path=out, rows=len(report.rows), label=report.period.label))
        return 0
    print(_score_table(report))
    return 0


def _score_table(report: Any) -> str:
    from scoring.grades import Grade, Rating
    from services import zh

    head = zh.SCORE_HEAD.format(
        label=report.period.label, to_date=zh.GRADES_TO_DATE if report.to_date else ""
    )
    columns = zh.SCORE_COLUMNS
    lines = [head, "\t".join(columns)]
    for unit in report.units:
        rate = "—" if unit.rate is None else f"{unit.rate * 100:.1f}%"
        lines.append(
            "\t".join(
                [
                    unit.unit,
                    unit.category or zh.NO_CATEGORY,
                    str(unit.cadres),
                    rate,
                    "/".join(str(unit.ratings.get(r, 0)) for r in Rating),
                    "/".join(str(unit.grades.get(g, 0)) for g in Grade),
                    "—" if unit.mean_score is None else f"{unit.mean_score:.1f}",
                ]
            )
        )
    if not report.units:
        lines.append(zh.SCORE_NOBODY)
    return "\n".join(lines)


async def _cap(config: Config, unit: str, quarter: str, percent: str, reason: str) -> int:
    from services import zh
    from services.errors import DomainError

    try:
        view = await _with_services(
            config, lambda services: services.rating.set_cap(unit, quarter, percent, reason)
        )
    except DomainError as exc:
        print(exc.reply, file=sys.stderr)
        return 2
    print(
        zh.CAP_SET.format(
            unit=view.unit_name,
            quarter=view.quarter,
            percent=view.percent,
            before="—" if view.previous is None else f"{view.previous}%",
        )
    )
    if view.quota.used > view.quota.limit:
        print(zh.CAP_BELOW_USED.format(used=view.quota.used, limit=view.quota.limit))
    return 0


async def _jobs(config: Config, command: str, name: str | None, period: str | None) -> int:
    from datetime import timedelta

    from bot.app import build_jobs_runner, build_services
    from scheduler.jobs import run_job
    from services import zh
    from services.errors import DomainError
    from storage.backup import BackupError

    engine = create_engine(config.database.url)
    try:
        await upgrade(engine)
        wiring = build_services(config, engine)
        services = wiring.services
        jobs = build_jobs_runner(wiring, config, engine).jobs  # the jobs `worklog run` runs
        if command == "list":
            now = services.clock.now()
            for job in jobs:
                fire = job.trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
                when = "-" if fire is None else f"{fire:%Y-%m-%d %H:%M}"
                print(zh.JOB_LIST_LINE.format(name=job.name, about=job.about, next=when))
            return 0
        assert name is not None
        try:
            outcome = await run_job(jobs, name, period)
        except DomainError as exc:
            print(exc.reply, file=sys.stderr)
            return 2
        except BackupError as exc:
            print(_backup_error(exc), file=sys.stderr)
            return 1
        print(
            zh.JOB_DONE.format(
                name=outcome.job, key=outcome.run_key, count=outcome.messages, note=outcome.note
            ).strip()
        )
        return 0
    finally:
        await engine.dispose()


def _calendar(config: Config, year: int) -> int:
    from datetime import MAXYEAR, MINYEAR

    from scheduler.calendar import WorkCalendar, describe_year
    from services import zh

    if not MINYEAR <= year <= MAXYEAR:
        print(zh.CALENDAR_BAD_YEAR.format(year=year), file=sys.stderr)
        return 2
    rules = config.calendar
    print(describe_year(WorkCalendar(rules.extra_holidays, rules.extra_workdays), year))
    return 0


async def _weblink(config: Config, ids: Sequence[str]) -> int:
    """One login link per 工号 (each issued in its own transaction: an unknown id does not
    stop the others)."""
    from services import zh
    from services.errors import DomainError

    async def issue(services):  # type: ignore[no-untyped-def]
        failed = 0
        for roster_id in ids:
            try:
                link = await services.web_access.issue_link(roster_id=roster_id, by="cli")
            except DomainError as exc:
                print(exc.reply, file=sys.stderr)
                failed += 1
                continue
            expires = link.expires_at.astimezone(config.logging.tz).strftime("%m-%d %H:%M")
            print(
                zh.WEBLINK_PRINTED.format(
                    name=link.name, roster_id=link.roster_id, expires=expires, url=link.url
                )
            )
        return failed

    if not config.web.enabled:
        print("网页版未开启（[web] enabled = false）", file=sys.stderr)
        return 2
    return 1 if await _with_services(config, issue) else 0


async def _demo(config: Config, config_path: str | None) -> int:
    """Seed the demo county (services.demo), then print the web address and one login link
    each for a cadre, a supervisor and a rater."""
    import shlex

    from services import zh
    from services.demo import DemoRefused, DemoService

    async def seed(services):  # type: ignore[no-untyped-def]
        report = await DemoService.of(services).seed()
        links = []
        for role, person in (
            (zh.DEMO_ROLE_CADRE, report.cadre),
            (zh.DEMO_ROLE_SUPERVISOR, report.supervisor),
            (zh.DEMO_ROLE_RATER, report.rater),
        ):
            link = await services.web_access.issue_link(roster_id=person.roster_id, by="demo")
            links.append((role, person, link))
        return report, links

    try:
        report, links = await _with_services(config, seed)
    except DemoRefused as exc:
        print(exc.reply, file=sys.stderr)
        return 1
    print(report.render())
    print(zh.DEMO_ADDRESS.format(url=config.web.base_url()))
    print(zh.DEMO_LINKS_HEAD.format(minutes=config.web.login_ttl_minutes))
    for role, person, link in links:
        print(
            zh.DEMO_LINK.format(
                role=role,
                name=person.name,
                roster_id=person.roster_id,
                unit=person.unit,
                position=person.position,
                url=link.url,
            )
        )
    config_option = "" if config_path is None else f"-c {shlex.quote(config_path)} "
    command = f"worklog {config_option}weblink"
    print(zh.DEMO_MORE_LINKS.format(command=command, roster_id=report.cadre.roster_id))
    if not config.web.enabled:
        print(zh.DEMO_WEB_DISABLED, file=sys.stderr)
    return 0


def _count(value: int | None) -> str:
    return "—" if value is None else str(value)


def _backup_error(exc: Any) -> str:
    from services import zh

    return zh.BACKUP_ERRORS[exc.reason].format(**exc.fields)


async def _backup(config: Config, file: Path, force: bool) -> int:
    from services import zh
    from storage.backup import BackupError, backup
    from storage.single import sqlite_path

    try:
        copy = await backup(config.database.url, file, force=force)
    except BackupError as exc:
        print(_backup_error(exc), file=sys.stderr)
        return 1
    size = zh.file_size(copy.size)
    people, entries = _count(copy.people), _count(copy.entries)
    print(zh.BACKUP_DONE.format(path=copy.path, size=size, people=people, entries=entries))
    if sqlite_path(config.database.url) is not None:
        print(zh.BACKUP_INTEGRITY_OK)
    return 0


async def _restore(config: Config, file: Path, yes: bool) -> int:
    from services import zh
    from storage.backup import BackupError, restore

    try:
        done = await restore(config.database.url, file, yes=yes)
    except BackupError as exc:
        print(_backup_error(exc), file=sys.stderr)
        return 1
    if done.aside is not None:
        print(zh.RESTORE_ASIDE.format(path=done.aside))
    print(zh.RESTORE_DONE.format(source=file, people=done.people, entries=done.entries))
    print(zh.RESTORE_MIGRATED.format(revision=done.revision, head=done.head))
    return 0


def _run_service(main: Coroutine[Any, Any, None]) -> None:
    """Run the service on uvloop where it exists: less event-loop overhead per update."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    # PTB 22 reports durations (retry_after, ...) as timedeltas only when asked to.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"配置错误: {exc}", file=sys.stderr)
        return 2
    configure_logging(config)
    try:
        if args.command == "init":
            asyncio.run(_init(config))
            shown = make_url(config.database.url).render_as_string(hide_password=True)
            print(f"数据库已就绪: {redact(shown, config.telegram.token)}")
            return 0
        if args.command == "run":
            from bot.app import serve

            try:
                _run_service(serve(config))
            except RuntimeError as exc:
                print(f"服务异常退出: {exc}", file=sys.stderr)
                return 1
            return 0
        if args.command == "roster":
            return asyncio.run(_roster_import(config, args.file))
        if args.command == "projects" and args.projects_command == "import":
            return asyncio.run(_projects_import(config, args.file))
        if args.command == "projects" and args.projects_command == "export":
            return asyncio.run(_projects_export(config, args.out))
        if args.command == "projects" and args.projects_command == "score":
            return asyncio.run(_projects_score(config, args.quarter, args.out))
        if args.command == "invite":
            return asyncio.run(_invite(config, args.ids, args.unbound))
        if args.command == "weblink":
            return asyncio.run(_weblink(config, args.ids))
        if args.command == "jobs":
            name = getattr(args, "name", None)
            period = getattr(args, "period", None)
            return asyncio.run(_jobs(config, args.jobs_command, name, period))
        if args.command == "webhook":
            return asyncio.run(_webhook(config, args.webhook_command))
        if args.command == "calendar":
            return _calendar(config, args.year)
        if args.command == "audit":
            return asyncio.run(_audit(config, args.person, args.since, args.limit))
        if args.command == "score":
            return asyncio.run(_score(config, args.period, None))
        if args.command == "export":
            return asyncio.run(_score(config, args.period, args.out))
        if args.command == "cap":
            return asyncio.run(_cap(config, args.unit, args.quarter, args.percent, args.reason))
        if args.command == "demo":
            return asyncio.run(_demo(config, args.config))
        if args.command == "backup":
            return asyncio.run(_backup(config, args.file, args.force))
        if args.command == "restore":
            return asyncio.run(_restore(config, args.file, args.yes))
    except ConfigError as exc:
        print(f"配置错误: {exc}", file=sys.stderr)
        return 2
    return 2
