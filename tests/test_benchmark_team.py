"""The /team and /review benchmark still runs: a tiny county on SQLite gives sane figures."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from benchmarks.team import TEAM_SIZE, Spec, report, run, sqlite_path

SPEC = Spec(people=300, days=4)
COMMANDS = ["/team 2026Q4", "/review 2026-12", "/review 2026Q4"]
STORED_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


async def test_benchmark_generates_times_and_reuses(tmp_path: Path) -> None:
    result = await run("sqlite", SPEC, iterations=3, warmup=1, cache_dir=tmp_path)

    generated = result["generated"]
    assert not generated["reused"]
    assert generated["people"] == SPEC.people
    # 4 working days (28–31 December), about 2.7 entries a day per cadre.
    assert 2 * SPEC.people * 4 < generated["entries"] < 4 * SPEC.people * 4
    figures = {f.command: f for f in result["figures"]}
    assert list(figures) == COMMANDS
    for f in figures.values():
        assert 0 < f.raw_p50 <= f.raw_p95 < 2000, f
        assert 0 < f.service_p50 <= f.service_p95 < 2000, f
        assert f.statements >= 3, f
    assert f"of {TEAM_SIZE} reports shown" in figures["/team 2026Q4"].rows
    assert "page 1 of" in figures["/review 2026-12"].rows
    assert "/team 2026Q4" in report(result)
    assert "target p95 < 50 ms" in report(result)

    # The generated rows are stored as SQLAlchemy stores them (the reads above wrote audit rows).
    with sqlite3.connect(sqlite_path(tmp_path, SPEC)) as db:
        written = db.execute("SELECT at FROM audit_log LIMIT 1").fetchone()[0]
        generated_stamp, day = db.execute(
            "SELECT created_at, work_date FROM log_entries LIMIT 1"
        ).fetchone()
    assert STORED_STAMP.fullmatch(written) and STORED_STAMP.fullmatch(generated_stamp)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", day)

    again = await run("sqlite", SPEC, iterations=2, warmup=0, cache_dir=tmp_path)
    assert again["generated"]["reused"]
    assert again["generated"]["entries"] == generated["entries"]
