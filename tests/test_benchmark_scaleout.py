"""The scale-out benchmark still runs: 1 and 2 real `worklog run` processes in webhook mode on
PostgreSQL store a tiny burst, each message once, and the output has its table and JSON."""

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
    runs = result["runs"]
    assert [run["processes"] for run in runs] == [1, 2]
    for run in runs:
        # Every message stored as exactly one entry, its update received once and done.
        assert run["stored"] == MESSAGES and run["once"], run
        assert run["exit_codes"] == [0] * run["processes"], run
        assert len(run["process_cpu_s"]) == run["processes"]
        assert run["msgs_per_s"] > 0 and run["accepted_per_s"] > 0, run
        assert 0 < run["p50_ms"] <= run["p95_ms"] <= run["max_ms"] < 60_000, run
        assert run["ratio"] == round(run["msgs_per_s"] / runs[0]["msgs_per_s"], 2)
    assert runs[0]["ratio"] == 1.0

    header = next(n for n, line in enumerate(lines) if line.startswith("processes"))
    for word in ("msgs/s", "ratio", "webhook/s", "p50 ms", "p95 ms"):
        assert word in lines[header], word
    assert [line.split()[0] for line in lines[header + 1 : header + 3]] == ["1", "2"]
    assert await _scratch_databases() == before, "the scratch databases are dropped"
