"""The scale-out benchmark still runs: 1 and 2 real `worklog run` processes in webhook mode on
PostgreSQL store a tiny burst, each message once, and the output has its tables and JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_DB, _pg_admin, pg_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 40
CPU_SPLIT = {"busy", "worklog_s", "postgres_s", "benchmark_s", "other_s"}


async def _scratch_databases() -> set[str]:
    conn = await _pg_admin()
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'bench_scaleout%'"
        )
    finally:
        await conn.close()
    return {row["datname"] for row in rows}


async def test_benchmark_scales_out_and_stores_every_message_once(
    pg_template: str | None,
) -> None:
    if pg_template is None:
        pytest.skip("PostgreSQL not reachable: several processes need PostgreSQL")
    before = await _scratch_databases()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.scaleout", "--quick",
        "--processes", "1,2", "--messages", str(MESSAGES), "--pg-url", pg_url(PG_ADMIN_DB),
        cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 300)
    text = out.decode()
    assert process.returncode == 0, text[-3000:]

    lines = text.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["benchmark"] == "scaleout" and result["messages"] == MESSAGES
    assert result["rounds"] == 1
    runs = result["runs"]
    assert [(run["round"], run["processes"]) for run in runs] == [(1, 1), (1, 2)]
    for run in runs:
        # Every message stored as exactly one entry, its update received once and done.
        assert run["stored"] == MESSAGES and run["once"], run
        assert run["exit_codes"] == [0] * run["processes"], run
        assert len(run["process_cpu_s"]) == run["processes"]
        assert run["msgs_per_s"] > 0 and run["accepted_per_s"] > 0, run
        assert 0 < run["p50_ms"] <= run["p95_ms"] <= run["max_ms"] < 60_000, run
        assert run["cpu"] is None or set(run["cpu"]) == CPU_SPLIT, run
        assert run["pg_sessions"] is None or run["pg_sessions"] >= run["processes"], run
    counts = result["counts"]
    assert [count["processes"] for count in counts] == [1, 2]
    for count, run in zip(counts, runs, strict=True):  # one round: the medians are the run's
        assert count["rounds_msgs_per_s"] == [run["msgs_per_s"]]
        assert count["ratio"] == round(count["msgs_per_s"] / counts[0]["msgs_per_s"], 2)
    assert counts[0]["ratio"] == 1.0

    header = next(n for n, line in enumerate(lines) if line.startswith("round"))
    for word in ("msgs/s", "webhook/s", "p50 ms", "p95 ms", "CPUs busy", "PG conns"):
        assert word in lines[header], word
    assert [line.split()[:2] for line in lines[header + 1 : header + 3]] == [["1", "1"], ["1", "2"]]
    medians = next(n for n, line in enumerate(lines) if line.startswith("processes"))
    assert "ratio" in lines[medians]
    assert [line.split()[0] for line in lines[medians + 1 : medians + 3]] == ["1", "2"]
    assert await _scratch_databases() == before, "the scratch databases are dropped"
