"""The score-and-export benchmark still runs: a tiny county on SQLite gives a full report."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook

from benchmarks.scoring import report, run
from benchmarks.team import Spec
from services import zh

SPEC = Spec(people=300, days=4)


async def test_benchmark_scores_exports_and_reuses(tmp_path: Path) -> None:
    out = tmp_path / "grades.xlsx"
    result = await run("sqlite", SPEC, iterations=1, warmup=0, cache_dir=tmp_path, out=out)

    sizes, figures = result["sizes"], result["figures"]
    assert not sizes.reused
    assert sizes.people == SPEC.people and 0 < sizes.active <= SPEC.people
    # The scoring layer: every share is there, and ratings never exceed the active cadres.
    assert 0 < sizes.flagged < sizes.entries
    assert 0 < sizes.ratings <= sizes.active
    assert 0 < sizes.evaluations <= sizes.forms <= sizes.active
    assert sizes.comments > 0 and sizes.reminders > 0

    assert figures.rows == sizes.active
    assert figures.ratio > 0 and figures.raw_rows > 0
    assert figures.statements >= 5
    assert figures.peak_rss_mb > 0 and figures.tracemalloc_mb > 0
    text = report(result)
    for words in ("score", "export", "total", "raw GROUP BY", "ratio", "peak RSS", "tracemalloc"):
        assert words in text, words
    assert f"{sizes.active:,} rows" in text and "target < 3" in text

    # One row per active cadre under the header, as `worklog export` writes it.
    book = load_workbook(BytesIO(out.read_bytes()), read_only=True)
    rows = list(book[zh.GRADES_SHEET].iter_rows(values_only=True))
    assert list(rows[0]) == list(zh.GRADES_HEADER)
    assert len(rows) == sizes.active + 1

    again = await run("sqlite", SPEC, iterations=1, warmup=0, cache_dir=tmp_path)
    assert again["sizes"].reused
    assert again["sizes"].entries == sizes.entries
