"""The fan-out benchmark still runs: a small fan-out on SQLite gives sane figures."""

from __future__ import annotations

from benchmarks.fanout import Spec, run, verdict


async def test_benchmark_fans_out_within_telegrams_limits_and_reports() -> None:
    spec = Spec(people=400, reminders=60, cadres=4, think=(1.0, 2.0))

    result = await run("sqlite", spec)

    assert result["planned"] == 400
    assert result["reminders_sent"] >= 60 and result["each_recipient_once"]
    assert result["telegram_429s"] == result["sender_429s"] == 0
    assert result["replies"] >= 4
    assert 0 < result["reply_p50_s"] <= result["reply_p95_s"] < 5
    assert result["ratio"] > 0.8
    assert set(result["outbox"]) == {"sent", "pending"}  # the rest of the 400 wait
    assert verdict({**result, "ratio": 0.5})[0].startswith("reminders/s below")
