"""Score and export a 35,000-cadre quarter (`worklog export 2026Q4`), against one raw GROUP BY.

Reuses the county of benchmarks.team (35,000 cadres, about 6 million entries of 2026Q4) and
adds, set-based, what the grade table reads: unit categories, a few join dates and 好 caps,
2026Q4 ratings within the 40 % 好 cap, comments, 5+2 forms with self-assessments, leader
evaluations, quality flags on the entries (in production the nightly `quality` job sets them;
here a modulo rule) and the daily reminders sent for part of the missed days.

Then, with the clock on the quarter's last day after work, times what `worklog export 2026Q4
--out F.xlsx` does: `GradingService.report` over every active cadre and
`services.sheets.grades_workbook`, alternating with the floor, one raw SQL GROUP BY over the
same entries (one statement, every row fetched) on the same engine. Memory is measured apart
from the time: the process's peak RSS over the timed runs (reset just before them), and the
peak of Python's allocations in one further, untimed run under tracemalloc (which slows it).

The database is kept (a file under the temp directory for SQLite, the schema `bench_scoring`
on PostgreSQL) and reused while its size, the generators and the migrations match:

    .venv/bin/python -m benchmarks.scoring --db both
"""

from __future__ import annotations

import gc
import json
import resource
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from sqlalchemy import Date, bindparam, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.team import (
    CALENDAR,
    DEFAULT_PG_URL,
    NOW,
    QUARTER,
    TODAY,
    Progress,
    Spec,
    _pg_dsn,
    county_arguments,
    pg_engine,
    prepare_pg,
    prepare_sqlite,
)
from bot.app import build_services
from bot.config import Config
from services.clock import FrozenClock
from services.sheets import grades_workbook
from storage.db import create_engine

PG_SCHEMA = "bench_scoring"
TARGET_SECONDS = 10.0
TARGET_RATIO = 3.0
TARGET_MB = 500.0
# Bump when the scoring layer changes: cached databases of another version are rebuilt.
SCORING_VERSION = "1"
LABEL = QUARTER.label
CATEGORIES = ("经济发展类", "执法服务类", "综合类")
FORM_BEST = (
    "牵头完成重点项目前期手续",
    "督办民生实事项目",
    "起草年度工作总结",
    "组织安全检查",
    "协调群众诉求",
)
FORM_WEAKER = ("档案整理进度偏慢", "调研深度不够")

# The floor: every active and inactive cadre's entries and logged days of the quarter.
FLOOR_SQL = text(
    "SELECT person_id, COUNT(*), COUNT(DISTINCT work_date) FROM log_entries"
    " WHERE work_date >= :start AND work_date <= :end AND NOT withdrawn"
    " GROUP BY person_id"
).bindparams(bindparam("start", type_=Date), bindparam("end", type_=Date))


# -- the scoring layer on top of the team county ------------------------------------------------


class Dialect:
    """Literals of one database: the layer is plain SQL run by sqlite3 or asyncpg."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    def day(self, d: date) -> str:
        return f"'{d.isoformat()}'" if self.sqlite else f"DATE '{d.isoformat()}'"

    def stamp(self, utc: str) -> str:
        """A UTC moment ('2026-12-28 02:00:00') as SQLAlchemy's UTCDateTime stores it."""
        return f"'{utc}.000000'" if self.sqlite else f"TIMESTAMPTZ '{utc}+00'"

    def at_day(self, column: str, clock: str) -> str:
        """The timestamp of `clock` UTC on the date in `column`."""
        if self.sqlite:
            return f"{column} || ' {clock}.000000'"
        return f"(({column} + TIME '{clock}') AT TIME ZONE 'UTC')"


def layer_statements(dialect: Dialect) -> list[str]:
    """Set-based statements adding the facts the grade table reads; none depends on Python."""
    q = dialect
    rated = q.stamp("2026-12-29 02:00:00")
    commented = q.stamp("2026-11-18 02:30:00")
    earlier = q.stamp("2026-09-20 03:00:00")  # Q3: outside the timed quarter
    submitted = q.stamp("2026-12-25 07:00:00")
    working = [d for d in QUARTER.days() if CALENDAR.is_working_day(d) and d <= TODAY]
    days = ", ".join(f"({q.day(d)}, {i})" for i, d in enumerate(working))
    categories = " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(CATEGORIES))
    best = json.dumps(FORM_BEST, ensure_ascii=False)
    weaker = json.dumps(FORM_WEAKER, ensure_ascii=False)
    return [
        # A top unit's category is its sections' too; the county leaders' unit has none.
        "UPDATE units SET category = CASE"
        f" (CASE WHEN parent_id = 1 THEN id ELSE parent_id END) % 3 {categories} END"
        " WHERE parent_id IS NOT NULL",
        f"UPDATE people SET joined_on = {q.day(date(2026, 11, 2))} WHERE id % 200 = 13",
        "INSERT INTO rating_caps (unit_id, quarter, percent, reason, created_at)"
        f" SELECT id, '{LABEL}', 60, '上年度综合考核排名前列', {rated}"
        " FROM units WHERE parent_id = 1 AND id % 10 = 2",
        # 35 % 好 of the rated (within the 40 % cap of the unit's active cadres), 5 % unrated.
        "INSERT INTO ratings (person_id, quarter, unit_id, grade, rater_id, created_at,"
        " updated_at)"
        f" SELECT id, '{LABEL}', unit_id, CASE WHEN rn * 100 <= n * 35 THEN 'good'"
        " WHEN rn * 100 <= n * 75 THEN 'fair' WHEN rn * 100 <= n * 95 THEN 'average'"
        f" ELSE 'poor' END, COALESCE(supervisor_id, id), {rated}, {rated}"
        " FROM (SELECT id, unit_id, supervisor_id,"
        " ROW_NUMBER() OVER (PARTITION BY unit_id ORDER BY (id * 7919) % 1009, id) AS rn,"
        " COUNT(*) OVER (PARTITION BY unit_id) AS n"
        " FROM people WHERE active AND id % 20 <> 7) AS r",
        "INSERT INTO comments (author_id, subject_id, positive, text, created_at)"
        f" SELECT supervisor_id, id, TRUE, '工作主动，按时完成督办任务', {commented}"
        " FROM people WHERE supervisor_id IS NOT NULL AND id % 6 = 1"
        f" UNION ALL SELECT supervisor_id, id, TRUE, '材料扎实，数据准确', {rated}"
        " FROM people WHERE supervisor_id IS NOT NULL AND id % 15 = 4"
        f" UNION ALL SELECT supervisor_id, id, FALSE, '日志过于简单，请写清具体事项', {commented}"
        " FROM people WHERE supervisor_id IS NOT NULL AND id % 25 = 9"
        f" UNION ALL SELECT supervisor_id, id, TRUE, '防汛值守认真负责', {earlier}"
        " FROM people WHERE supervisor_id IS NOT NULL AND id % 9 = 2",
        # 7/8 of the active cadres filled the form in, 9/10 of those submitted it.
        "INSERT INTO fivetwo_forms (person_id, quarter, best, weaker, self_assessment,"
        " submitted_at, created_at, updated_at)"
        f" SELECT id, '{LABEL}', '{best}', '{weaker}',"
        " CASE id % 5 WHEN 0 THEN '自评：好。本季度圆满完成各项任务'"
        " WHEN 4 THEN '自评：一般。个别工作推进不够及时'"
        " ELSE '自评：较好。能够按时完成领导交办的工作' END,"
        f" CASE WHEN id % 10 = 3 THEN NULL ELSE {submitted} END, {submitted}, {submitted}"
        " FROM people WHERE active AND id % 8 <> 5",
        "INSERT INTO evaluations (subject_id, quarter, author_id, text, created_at, updated_at)"
        f" SELECT id, '{LABEL}', supervisor_id, CASE id % 4 WHEN 0 THEN '好。该同志工作扎实'"
        " WHEN 3 THEN '一般。该同志需加强学习' ELSE '较好。该同志工作认真负责' END,"
        f" {rated}, {rated} FROM people WHERE active AND supervisor_id IS NOT NULL"
        " AND id % 8 <> 5 AND id % 10 <> 3 AND id % 5 <> 2",
        # The nightly check has seen every day but today's: 5 % of the items flagged.
        "UPDATE log_entries SET quality = CASE WHEN id % 40 = 3 THEN 'repeat'"
        " WHEN id % 50 = 11 THEN 'trivial' WHEN id % 200 = 17 THEN 'copy,repeat' ELSE '' END"
        f" WHERE work_date < {q.day(TODAY)}",
        # A daily reminder went out (17:30) for two thirds of the days a bound cadre missed.
        "WITH days (d, i) AS (VALUES " + days + ")"
        " INSERT INTO outbox_messages (key, kind, priority, person_id, reminds_of, text, status,"
        " attempts, not_before, created_at, sent_at, unsure)"
        " SELECT 'daily:' || p.id || ':' || days.d, 'daily', 1, p.id, days.d,"
        f" '今天的工作日志还没有记录，请及时填写。', 'sent', 1, {q.at_day('days.d', '09:30:00')},"
        f" {q.at_day('days.d', '09:00:00')}, {q.at_day('days.d', '09:30:05')}, 0"
        " FROM people AS p CROSS JOIN days"
        " WHERE p.active AND p.telegram_user_id IS NOT NULL AND (p.id + days.i) % 3 <> 0"
        " AND NOT EXISTS (SELECT 1 FROM log_entries AS e WHERE e.person_id = p.id"
        " AND e.work_date = days.d AND NOT e.withdrawn)"
        " AND NOT EXISTS (SELECT 1 FROM absences AS a WHERE a.person_id = p.id"
        " AND NOT a.withdrawn AND a.start_date <= days.d AND a.end_date >= days.d)",
    ]


# What the report prints as the generated sizes, counted once when the layer is added.
SIZE_QUERIES = {
    "active": "SELECT COUNT(*) FROM people WHERE active",
    "flagged": "SELECT COUNT(*) FROM log_entries WHERE quality <> ''",
    "ratings": f"SELECT COUNT(*) FROM ratings WHERE quarter = '{LABEL}'",
    "comments": "SELECT COUNT(*) FROM comments",
    "forms": f"SELECT COUNT(*) FROM fivetwo_forms WHERE quarter = '{LABEL}'",
    "evaluations": f"SELECT COUNT(*) FROM evaluations WHERE quarter = '{LABEL}'",
    "reminders": "SELECT COUNT(*) FROM outbox_messages WHERE kind = 'daily'",
}


@dataclass
class Sizes:
    """What the database holds: the team county and the scoring layer."""

    units: int
    people: int
    active: int
    entries: int
    flagged: int
    ratings: int
    comments: int
    forms: int
    evaluations: int
    reminders: int
    seconds: float  # to generate; 0 when reused
    reused: bool


def _sizes(meta: dict[str, str], seconds: float, reused: bool) -> Sizes:
    def n(key: str) -> int:
        return int(meta[f"scoring_{key}"])

    return Sizes(
        int(meta["units"]),
        int(meta["people_rows"]),
        n("active"),
        int(meta["entries"]),
        n("flagged"),
        n("ratings"),
        n("comments"),
        n("forms"),
        n("evaluations"),
        n("reminders"),
        seconds,
        reused,
    )


def sqlite_path(cache_dir: Path, spec: Spec) -> Path:
    days = spec.days or "all"
    return cache_dir / f"scoring-{spec.people}p-{days}d-{spec.seed}.db"


def _layered(meta: dict[str, str]) -> bool:
    return meta.get("scoring") == SCORING_VERSION


async def prepare_sqlite_scoring(path: Path, spec: Spec, fresh: bool) -> Sizes:
    """The team county at `path` with the scoring layer, generated unless a match is there."""
    review_file_over = Config().review.review_file_over
    started = time.perf_counter()
    generated = await prepare_sqlite(path, spec, fresh, review_file_over)
    db = sqlite3.connect(path)
    try:
        meta = dict(db.execute("SELECT key, value FROM bench_meta").fetchall())
    finally:
        db.close()
    if _layered(meta):
        return _sizes(meta, 0.0, reused=True)
    if generated.reused:  # an older layer, or none: start from a clean county
        generated = await prepare_sqlite(path, spec, True, review_file_over)
    progress = Progress("SQLite scoring")
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        db.execute("BEGIN")
        for statement in layer_statements(Dialect(sqlite=True)):
            db.execute(statement)
        counts = {k: db.execute(sql).fetchone()[0] for k, sql in SIZE_QUERIES.items()}
        rows = [(f"scoring_{k}", str(v)) for k, v in counts.items()]
        db.executemany(
            "INSERT INTO bench_meta VALUES (?, ?)", [*rows, ("scoring", SCORING_VERSION)]
        )
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=WAL")
        meta = dict(db.execute("SELECT key, value FROM bench_meta").fetchall())
    finally:
        db.close()
    progress("layer added")
    return _sizes(meta, time.perf_counter() - started, reused=False)


async def prepare_pg_scoring(url: str, spec: Spec, fresh: bool) -> Sizes:
    """The schema bench_scoring: the team county with the scoring layer."""
    review_file_over = Config().review.review_file_over
    started = time.perf_counter()
    generated = await prepare_pg(url, spec, fresh, review_file_over, PG_SCHEMA)
    dsn = _pg_dsn(url)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": PG_SCHEMA})
    try:
        meta = dict(await conn.fetch("SELECT key, value FROM bench_meta"))
        if _layered(meta):
            return _sizes(meta, 0.0, reused=True)
    finally:
        await conn.close()
    if generated.reused:
        generated = await prepare_pg(url, spec, True, review_file_over, PG_SCHEMA)
    progress = Progress("PostgreSQL scoring")
    conn = await asyncpg.connect(dsn, server_settings={"search_path": PG_SCHEMA})
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        async with conn.transaction():
            for statement in layer_statements(Dialect(sqlite=False)):
                await conn.execute(statement)
            counts = {k: await conn.fetchval(sql) for k, sql in SIZE_QUERIES.items()}
            rows = [(f"scoring_{k}", str(v)) for k, v in counts.items()]
            await conn.executemany(
                "INSERT INTO bench_meta VALUES ($1, $2)", [*rows, ("scoring", SCORING_VERSION)]
            )
        progress("layer added")
        # The flags rewrote every entry: compact the table as months of autovacuum would have.
        await conn.execute("VACUUM FULL log_entries")
        await conn.execute("VACUUM ANALYZE")
        progress("vacuumed and analysed")
        meta = dict(await conn.fetch("SELECT key, value FROM bench_meta"))
    finally:
        await conn.close()
    return _sizes(meta, time.perf_counter() - started, reused=False)


# -- timing ----------------------------------------------------------------------------------


def reset_peak_rss() -> bool:
    """Reset the process's peak RSS (Linux: clear_refs 5); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """The process's peak resident set since start or the last reset, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Figures:
    """Medians of the alternating runs (seconds) and the memory of the separate passes."""

    score_s: float
    export_s: float
    total_s: float
    raw_s: float
    rows: int  # rows of the grade table
    raw_rows: int
    workbook_bytes: int
    statements: int  # SQL statements of one report
    peak_rss_mb: float  # over the timed runs
    rss_reset: bool  # False: the peak is the whole process's, generation included
    tracemalloc_mb: float  # Python allocations of one score and export

    @property
    def ratio(self) -> float:
        return self.total_s / self.raw_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 2)}


async def measure(
    engine: AsyncEngine, iterations: int, warmup: int, out: Path | None = None
) -> Figures:
    """Alternate the raw GROUP BY and score + export; then count statements and allocations."""
    grading = build_services(Config(), engine, FrozenClock(NOW)).services.grading
    period = grading.period(LABEL)

    async def floor() -> list[Any]:
        async with engine.connect() as conn:
            result = await conn.execute(FLOOR_SQL, {"start": QUARTER.start, "end": QUARTER.end})
            return list(result.all())

    for _ in range(warmup):
        await floor()
        grades_workbook(await grading.report(period))

    gc.collect()
    reset = reset_peak_rss()
    score_s, export_s, total_s, raw_s = [], [], [], []
    rows = raw_rows = size = 0
    for _ in range(iterations):
        started = time.perf_counter()
        raw_rows = len(await floor())
        raw_s.append(time.perf_counter() - started)

        started = time.perf_counter()
        report = await grading.report(period)
        scored = time.perf_counter()
        workbook = grades_workbook(report)
        done = time.perf_counter()
        score_s.append(scored - started)
        export_s.append(done - scored)
        total_s.append(done - started)
        rows, size = len(report.rows), len(workbook)
        if out is not None:
            out.write_bytes(workbook)
        del report, workbook  # the next run must not hold two reports at once
    peak_rss = peak_rss_mb()

    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    # Allocations apart from the timing; the statements of one report counted on the way.
    gc.collect()
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    tracemalloc.start()
    try:
        grades_workbook(await grading.report(period))
        traced_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        event.remove(engine.sync_engine, "before_cursor_execute", count)

    median = statistics.median
    return Figures(
        round(median(score_s), 3),
        round(median(export_s), 3),
        round(median(total_s), 3),
        round(median(raw_s), 3),
        rows,
        raw_rows,
        size,
        statements,
        round(peak_rss, 1),
        reset,
        round(traced_peak / 2**20, 1),
    )


def verdicts(f: Figures) -> dict[str, bool]:
    return {
        "time": f.total_s < TARGET_SECONDS,
        "ratio": f.ratio < TARGET_RATIO,
        "memory": max(f.peak_rss_mb, f.tracemalloc_mb) < TARGET_MB,
    }


async def run(
    database: str,
    spec: Spec,
    *,
    iterations: int,
    warmup: int,
    fresh: bool = False,
    cache_dir: Path | None = None,
    pg_url: str = DEFAULT_PG_URL,
    out: Path | None = None,
) -> dict[str, Any]:
    """Prepare (or reuse) the database, time score + export and the floor, return the figures."""
    if database == "sqlite":
        path = sqlite_path(cache_dir or Path(tempfile.gettempdir()) / "worklog-bench", spec)
        sizes = await prepare_sqlite_scoring(path, spec, fresh)
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        where = str(path)
    else:
        sizes = await prepare_pg_scoring(pg_url, spec, fresh)
        engine = pg_engine(pg_url, PG_SCHEMA)
        where = f"{make_url(pg_url).render_as_string()} schema {PG_SCHEMA}"
    try:
        async with engine.connect() as conn:
            version = (
                (await conn.execute(text("SELECT sqlite_version()"))).scalar()
                if database == "sqlite"
                else (await conn.execute(text("SHOW server_version"))).scalar()
            )
        figures = await measure(engine, iterations, warmup, out)
    finally:
        await engine.dispose()
    return {
        "database": database,
        "version": version,
        "where": where,
        "sizes": sizes,
        "iterations": iterations,
        "figures": figures,
        "met": verdicts(figures),
    }


def report(result: dict[str, Any]) -> str:
    s: Sizes = result["sizes"]
    f: Figures = result["figures"]
    met = {k: "met" if v else "NOT met" for k, v in result["met"].items()}
    how = "reused" if s.reused else f"generated in {s.seconds:.0f} s"
    rss = "since just before the timed runs" if f.rss_reset else "whole process, generation too"
    return "\n".join(
        [
            f"{result['database']} {result['version']} ({result['where']}); {how}",
            f"  {s.people:,} people ({s.active:,} active), {s.units:,} units, "
            f"{s.entries:,} entries ({s.flagged:,} flagged), {s.ratings:,} ratings, "
            f"{s.comments:,} comments, {s.forms:,} 5+2 forms, {s.evaluations:,} evaluations, "
            f"{s.reminders:,} daily reminders sent",
            f"  medians of {result['iterations']} runs alternating with the raw query, seconds:",
            f"    score  (GradingService.report, {f.statements} statements)  {f.score_s:8.3f}"
            f"  {f.rows:,} rows",
            f"    export (grades_workbook)                       {f.export_s:8.3f}"
            f"  {f.workbook_bytes / 2**20:.1f} MB XLSX",
            f"    total  score + export                          {f.total_s:8.3f}"
            f"  target < {TARGET_SECONDS:.0f} s: {met['time']}",
            f"    raw GROUP BY (the floor)                       {f.raw_s:8.3f}"
            f"  {f.raw_rows:,} rows",
            f"    ratio total / raw                              {f.ratio:8.2f}"
            f"  target < {TARGET_RATIO:.0f}: {met['ratio']}",
            f"  memory (separate from the timing): peak RSS {f.peak_rss_mb:.0f} MB ({rss}), "
            f"tracemalloc peak of one score + export {f.tracemalloc_mb:.0f} MB; "
            f"target < {TARGET_MB:.0f} MB: {met['memory']}",
        ]
    )


async def main() -> None:
    parser = county_arguments(__doc__.split("\n")[0], iterations=3, warmup=1)
    parser.add_argument("--out", type=Path, help="also write the last workbook here")
    args = parser.parse_args()
    spec = Spec(args.people, args.days)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = []
    for kind in kinds:
        result = await run(
            kind,
            spec,
            iterations=args.iterations,
            warmup=args.warmup,
            fresh=args.fresh,
            cache_dir=args.cache_dir,
            pg_url=args.pg_url,
            out=args.out,
        )
        print(report(result), flush=True)
        results.append(result)
    summary = [
        {
            "database": r["database"],
            "sizes": asdict(r["sizes"]),
            **r["figures"].as_dict(),
            "ratio": round(r["figures"].ratio, 2),
            "met": r["met"],
        }
        for r in results
    ]
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    uvloop.run(main())
