"""Webhook intake on PostgreSQL with 1, 2 and 4 `worklog run` processes, measured in one run.

For each process count, the processes (`python -m bot run`, webhook mode, each on its own
web and ops port, no scheduled jobs, no backups) start on a fresh database copied from one
migrated template with `--cadres` bound cadres; the Bot API they reply through is the fake
(`tests.fakebot`, in this process). The load generator then plays Telegram: it POSTs
`--messages` message updates (private chats, `1.走访企业第k号项目`, one entry each) with the
secret header straight to the processes' webhooks, round-robin, at most `--in-flight` at a
time (Telegram opens up to 40 connections), sending a refused one (not 200) again to the next
process. It waits until every message is a log entry, checks each is stored exactly once,
and stops the processes with SIGTERM (each must exit 0). `--warmup` messages per process go
first and are not measured (connections, caches). Each count runs once per round, on a fresh
copy of the database, every other round in reverse order (1,2,4 then 4,2,1): this machine's
speed drifts by tens of percent within minutes, and the median over the rounds, with the
order alternated, keeps that drift from favouring one count.

Prints, per run: messages/s from the first POST to the last entry stored; webhook answers/s
(updates durably in the inbox); p50/p95/max from the webhook's receipt
(`inbox_updates.received_at`) to the entry (`log_entries.created_at`), both written by this
host's clock; how busy the machine's CPUs were meanwhile and whose CPU
seconds those were (the worklog processes, PostgreSQL if on this host, this process with the
load generator and the fake Bot API, anything else); the PostgreSQL connections opened. A
table of the runs and one of the medians per process count (messages/s, its ratio to one
process, p50, p95), then one JSON line with all of it (and each process's CPU seconds).
The load is one burst: while the webhooks accept faster than the processes store, the
receipt-to-entry times are mostly the burst's queue in the inbox, not the work on one message.
Replies go through the outbox at Telegram's limits (`[outbox]` defaults, sent by whichever
process holds the sender lease), so they trail the entries and are not measured.

The figures are relative. On one machine the processes share its CPUs with each other, with
PostgreSQL (same host, one database) and with the load generator and the fake Bot API. One
process is bound by its one Python thread (about a core); a second uses what is left of the
other cores, and once every core is busy more processes only add contention (context
switches, connections, claims of the one inbox). Spread over machines, with PostgreSQL on its
own host, each process brings its own CPU. Run from the repository root:

    .venv/bin/python -m benchmarks.scaleout
    .venv/bin/python -m benchmarks.scaleout --messages 2000 --processes 1,2,4 --rounds 2
    .venv/bin/python -m benchmarks.scaleout --quick   # a smoke run: 40 messages, 1 and 2, once
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import uvloop
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.intake import dedup_key
from bot.webhook import SECRET_HEADER
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import InboxUpdate, LogEntry
from tests.fakebot import FakeBotApi, FakeUser
from tests.seeding import process_env, seed_bound_people, write_config

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "4242:scaleout-benchmark"
SECRET = "scaleout-benchmark-secret"
FIRST_USER = 20_000_000
DEFAULT_PG_URL = os.environ.get(
    "WORKLOG_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class Spec:
    messages: int = 2000
    processes: tuple[int, ...] = (1, 2, 4)
    rounds: int = 2  # each count once per round, every other round in reverse order
    cadres: int = 200  # bound cadres the messages come from, in turn
    in_flight: int = 32  # webhook POSTs under way at once
    warmup: int = 50  # messages per process stored before the measured ones
    start_timeout: float = 180.0  # seconds for the processes to answer /healthz


QUICK = Spec(messages=40, processes=(1, 2), rounds=1, cadres=20, in_flight=8, warmup=5)


# -- databases -------------------------------------------------------------------------------


class Databases:
    """Scratch PostgreSQL databases next to the admin database of `pg_url`, dropped after."""

    def __init__(self, pg_url: str) -> None:
        self.base = make_url(pg_url)
        self.tag = uuid.uuid4().hex[:10]

    def url(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    async def admin(self, sql: str, *args: Any) -> Any:
        """Run `sql` on the admin database; its first value."""
        conn = await asyncpg.connect(
            host=self.base.host,
            port=self.base.port or 5432,
            user=self.base.username,
            password=self.base.password,
            database=self.base.database,
            timeout=10,
        )
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def sessions(self, url: str) -> int | None:
        """Connections opened to the database of `url` so far (PostgreSQL 14+ counts them
        as they close)."""
        await asyncio.sleep(0.5)  # the backends of the stopped processes report on exit
        with contextlib.suppress(asyncpg.PostgresError):
            sql = "SELECT sessions FROM pg_stat_database WHERE datname = $1"
            value = await self.admin(sql, make_url(url).database)
            return None if value is None else int(value)
        return None

    @contextlib.asynccontextmanager
    async def template(self, cadres: int) -> AsyncIterator[str]:
        """A migrated database with `cadres` bound cadres: the name, to copy from."""
        name = f"bench_scaleout_tpl_{self.tag}"
        await self.admin(f'CREATE DATABASE "{name}"')
        try:
            engine = create_engine(self.url(name))
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()
            people = [(f"S{n:04d}", FIRST_USER + n) for n in range(cadres)]
            await seed_bound_people(self.url(name), people)
            yield name
        finally:
            await self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextlib.asynccontextmanager
    async def copy(self, template: str, suffix: str) -> AsyncIterator[str]:
        """A fresh copy of the template: its URL."""
        name = f"bench_scaleout_{self.tag}_{suffix}"
        await self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield self.url(name)
        finally:
            await self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """One `worklog run` in webhook mode; its log in a file (a pipe could fill up)."""

    def __init__(self, tmp: Path, name: str, api: FakeBotApi, db_url: str) -> None:
        self.name = name
        self.port = free_port()
        self.ops_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram/webhook"
        self.config = tmp / f"{name}.toml"
        self.log = tmp / f"{name}.log"
        sections: dict[str, dict[str, Any]] = {
            "telegram": {
                "token": TOKEN,
                "base_url": api.base_url,
                "base_file_url": api.base_file_url,
                "mode": "webhook",
                "webhook_secret": SECRET,
                "webhook_url": self.url,
            },
            "database": {"url": db_url},
            "web": {"host": "127.0.0.1", "port": self.port},
            "ops": {"port": self.ops_port},
            "scheduler": {"run_jobs": False},
            "service": {"stop_grace": 20},
            "backup": {"enabled": False},
        }
        write_config(self.config, sections)
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = process_env(self.config)
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=str(ROOT),
                stdout=log, stderr=log,
            )  # fmt: skip

    async def ready(self, http: aiohttp.ClientSession, timeout: float) -> None:
        """Wait until /healthz answers 200 (migrated, names loaded, webhook listening)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.ops_port}/healthz"
        while True:
            if self.process.returncode is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not answer /healthz:\n{self.tail()}")
            await asyncio.sleep(0.2)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux; 0 elsewhere)."""
        assert self.process is not None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def terminate(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


def _jiffies_of(stat: str) -> int:
    """User + system CPU time, own and of reaped children, from a /proc/PID/stat line."""
    fields = stat.rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15])


def postgres_jiffies() -> int:
    """CPU time of this host's PostgreSQL: every `postgres` process, the backends that ended
    counted in the postmaster's reaped children (0 when it runs elsewhere)."""
    total = 0
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")] == "postgres":
                total += _jiffies_of(stat)
    return total


class CpuMeter:
    """Where this machine's CPU time went between `start` and `stop` (Linux /proc): how busy
    its CPUs were, and the CPU seconds of PostgreSQL, of this process (the load generator
    and the fake Bot API) and of everything else; the worklog processes count their own."""

    @staticmethod
    def _sample() -> tuple[int, int, int, float] | None:
        try:
            values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = values[3] + values[4]  # idle + iowait
        own = os.times()
        return sum(values) - idle, sum(values), postgres_jiffies(), own.user + own.system

    def start(self) -> None:
        self.first = self._sample()

    def stop(self, worklog_s: float) -> dict[str, Any] | None:
        last = self._sample()
        if self.first is None or last is None or last[1] == self.first[1]:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        busy_s = (last[0] - self.first[0]) / tick
        postgres_s = (last[2] - self.first[2]) / tick
        benchmark_s = last[3] - self.first[3]
        return {
            "busy": round((last[0] - self.first[0]) / (last[1] - self.first[1]), 2),
            "worklog_s": round(worklog_s, 1),
            "postgres_s": round(postgres_s, 1),
            "benchmark_s": round(benchmark_s, 1),
            "other_s": round(max(0.0, busy_s - worklog_s - postgres_s - benchmark_s), 1),
        }


# -- the load --------------------------------------------------------------------------------


def build_updates(api: FakeBotApi, cadres: int, first: int, n: int) -> list[dict[str, Any]]:
    """Message updates as Telegram sends them, made by the fake (which then knows each
    message, so the replies to them are valid): message k from cadre k mod `cadres`, in a
    private chat, unique update ids and per-chat increasing message ids."""
    users = [FakeUser(FIRST_USER + n, f"干部{n}") for n in range(cadres)]
    return [
        api.send_text(users[k % cadres], f"1.走访企业第{k}号项目") for k in range(first, first + n)
    ]


def source_key(update: dict[str, Any]) -> str:
    """The entry's key of a message update: "chat:message"."""
    return f"{update['message']['chat']['id']}:{update['message']['message_id']}"


@dataclass
class Load:
    started: float = 0.0  # wall clock of the first POST
    answered: float = 0.0  # wall clock of the last 200
    resent: int = 0  # POSTs answered otherwise (or not at all), sent again


async def play(urls: list[str], updates: list[dict[str, Any]], in_flight: int) -> Load:
    """POST every update to the webhooks round-robin, `in_flight` at a time, until each got
    a 200; a refused delivery goes to the next process, as Telegram's retry through a
    balancer would."""
    bodies = [json.dumps(u, ensure_ascii=False).encode() for u in updates]
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    pending = iter(enumerate(bodies))
    load = Load()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=in_flight, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def deliver() -> None:
            for k, body in pending:
                for attempt in itertools.count():
                    url = urls[(k + attempt) % len(urls)]
                    try:
                        async with http.post(url, data=body, headers=headers) as response:
                            await response.read()
                            if response.status == 200:
                                break
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                    load.resent += 1
                    if attempt >= 50:
                        raise RuntimeError(f"update {k} refused 50 times")
                    await asyncio.sleep(0.05)
                load.answered = time.time()

        load.started = time.time()
        await asyncio.gather(*(deliver() for _ in range(in_flight)))
    return load


async def stored_count(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(LogEntry)) or 0)


async def wait_stored(engine: Any, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (count := await stored_count(engine)) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {count} of {n} entries stored")
        await asyncio.sleep(0.1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(
    engine: Any, warm: list[dict[str, Any]], updates: list[dict[str, Any]], load: Load
) -> dict[str, Any]:
    """Throughput and receipt-to-entry latency of the measured `updates` (after the `warm`
    ones), from what the database holds."""
    async with engine.connect() as conn:
        inbox = (await conn.execute(select(InboxUpdate.dedup_key, InboxUpdate.received_at))).all()
        entries = (
            await conn.execute(
                select(LogEntry.source_key, LogEntry.source_part, LogEntry.created_at)
            )
        ).all()
        pending = int(
            await conn.scalar(select(func.count()).where(InboxUpdate.status != "done")) or 0
        )
    received = dict(inbox)
    created = {key: at for key, part, at in entries if part == 0}
    per_message = Counter(key for key, _, _ in entries)
    latencies = [(created[source_key(u)] - received[dedup_key(u)]).total_seconds() for u in updates]
    last = max(created[source_key(u)] for u in updates).timestamp()
    n = len(updates)
    return {
        "stored": len(entries) - len(warm),
        # Every message once, one entry each, its update received once and done.
        "once": set(per_message) == {source_key(u) for u in warm + updates}
        and set(per_message.values()) == {1}
        and len(inbox) == len(warm) + n
        and pending == 0,
        "msgs_per_s": round(n / (last - load.started), 1),
        "accepted_per_s": round(n / (load.answered - load.started), 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "seconds": round(last - load.started, 2),
        "resent": load.resent,
    }


# -- the run ---------------------------------------------------------------------------------


async def run_count(count: int, url: str, api: FakeBotApi, spec: Spec, tmp: Path) -> dict[str, Any]:
    """Start `count` processes on the fresh database `url`, play the load, stop them."""
    processes = [Process(tmp, f"p{count}-{i}", api, url) for i in range(count)]
    engine = create_engine(url)
    try:
        began = time.monotonic()
        for process in processes:
            await process.start()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(p.ready(http, spec.start_timeout) for p in processes))
        start_s = time.monotonic() - began
        urls = [p.url for p in processes]
        # Warm each process up (connections, caches) before the measured burst.
        warm = build_updates(api, spec.cadres, 0, spec.warmup * count)
        await play(urls, warm, spec.in_flight)
        await wait_stored(engine, len(warm), 60 + len(warm) / 5)
        updates = build_updates(api, spec.cadres, len(warm), spec.messages)
        cpu_before = [p.cpu_seconds() for p in processes]
        meter = CpuMeter()
        meter.start()
        load = await play(urls, updates, spec.in_flight)
        await wait_stored(engine, len(warm) + spec.messages, 60 + spec.messages / 5)
        cpu = [round(p.cpu_seconds() - b, 1) for p, b in zip(processes, cpu_before, strict=True)]
        machine = meter.stop(sum(cpu))
        result = await measure(engine, warm, updates, load)
        began = time.monotonic()
        exits = list(await asyncio.gather(*(p.terminate() for p in processes)))
        stop_s = time.monotonic() - began
    finally:
        for process in processes:
            await process.kill()
        await engine.dispose()
    failed = [p.name for p, code in zip(processes, exits, strict=True) if code != 0]
    if failed:
        raise RuntimeError(f"{', '.join(failed)} did not exit 0: {exits}\n{processes[0].tail()}")
    return {
        "processes": count,
        "messages": spec.messages,
        **result,
        "process_cpu_s": cpu,
        "cpu": machine,
        "exit_codes": exits,
        "start_s": round(start_s, 1),
        "stop_s": round(stop_s, 1),
    }


def order(spec: Spec) -> list[tuple[int, int]]:
    """(round, process count) in the order they run: 1,2,4 then 4,2,1 and so on, so a drift
    of the machine's speed during the run does not favour one count."""
    out = []
    for n in range(spec.rounds):
        counts = spec.processes if n % 2 == 0 else tuple(reversed(spec.processes))
        out += [(n + 1, count) for count in counts]
    return out


async def run(spec: Spec, pg_url: str = DEFAULT_PG_URL) -> dict[str, Any]:
    """Every process count of `spec` in every round, each on a fresh copy of one seeded
    template; per count the median over the rounds, and its ratio to the first count's."""
    databases = Databases(pg_url)
    api = FakeBotApi(strict_chats=False)
    await api.start()
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
            async with databases.template(spec.cadres) as template:
                for round_no, count in order(spec):
                    async with databases.copy(template, f"r{round_no}p{count}") as url:
                        one = await run_count(count, url, api, spec, Path(tmp))
                        one["pg_sessions"] = await databases.sessions(url)
                        runs.append({"round": round_no, **one})
    finally:
        await api.stop()
    counts = []
    for count in spec.processes:
        mine = [one for one in runs if one["processes"] == count]
        counts.append(
            {
                "processes": count,
                "msgs_per_s": round(statistics.median(one["msgs_per_s"] for one in mine), 1),
                "p50_ms": round(statistics.median(one["p50_ms"] for one in mine)),
                "p95_ms": round(statistics.median(one["p95_ms"] for one in mine)),
                "rounds_msgs_per_s": [one["msgs_per_s"] for one in mine],
            }
        )
    for one in counts:
        one["ratio"] = round(one["msgs_per_s"] / counts[0]["msgs_per_s"], 2)
    return {
        "messages": spec.messages,
        "cadres": spec.cadres,
        "in_flight": spec.in_flight,
        "rounds": spec.rounds,
        "cpus": os.cpu_count(),
        "counts": counts,
        "runs": runs,
    }


def report(result: dict[str, Any]) -> str:
    """The tables: one row per run in the order they ran, then one per process count."""
    lines = [
        f"{result['messages']} messages from {result['cadres']} cadres, "
        f"{result['in_flight']} POSTs in flight, {result['cpus']} CPUs; CPU seconds while "
        "measured: worklog processes / PostgreSQL / load generator and fake API / the rest",
        "round  processes  msgs/s  webhook/s  p50 ms  p95 ms  max ms  CPUs busy"
        "  CPU s wl/pg/gen/rest  PG conns",
    ]
    for one in result["runs"]:
        cpu = one["cpu"]
        busy, split = "-", "-"
        if cpu is not None:
            busy = f"{cpu['busy']:.0%}"
            split = "/".join(
                f"{cpu[k]:.0f}" for k in ("worklog_s", "postgres_s", "benchmark_s", "other_s")
            )
        lines.append(
            f"{one['round']:>5}  {one['processes']:>9}  {one['msgs_per_s']:>6.1f}"
            f"  {one['accepted_per_s']:>9.1f}  {one['p50_ms']:>6.0f}  {one['p95_ms']:>6.0f}"
            f"  {one['max_ms']:>6.0f}  {busy:>9}  {split:>20}  {one['pg_sessions']!s:>8}"
        )
    lines += [
        "",
        f"median of {result['rounds']} round(s)",
        "processes  msgs/s  ratio  p50 ms  p95 ms",
    ]
    for one in result["counts"]:
        lines.append(
            f"{one['processes']:>9}  {one['msgs_per_s']:>6.1f}  {one['ratio']:>5.2f}"
            f"  {one['p50_ms']:>6}  {one['p95_ms']:>6}"
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, help=f"default {Spec.messages}")
    parser.add_argument("--processes", help="process counts, e.g. 1,2,4 (the default)")
    parser.add_argument("--rounds", type=int, help=f"default {Spec.rounds}")
    parser.add_argument("--cadres", type=int, help=f"default {Spec.cadres}")
    parser.add_argument("--in-flight", type=int, help=f"default {Spec.in_flight}")
    parser.add_argument("--warmup", type=int, help=f"per process, default {Spec.warmup}")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 40 messages, 1 and 2, one round"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="SQLAlchemy URL of PostgreSQL")
    args = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    spec = QUICK if args.quick else Spec()
    if args.messages is not None:
        spec = replace(spec, messages=args.messages)
    if args.processes:
        spec = replace(spec, processes=tuple(int(n) for n in args.processes.split(",")))
    if args.rounds is not None:
        spec = replace(spec, rounds=args.rounds)
    if args.cadres is not None:
        spec = replace(spec, cadres=args.cadres)
    if args.in_flight is not None:
        spec = replace(spec, in_flight=args.in_flight)
    if args.warmup is not None:
        spec = replace(spec, warmup=args.warmup)
    result = await run(spec, args.pg_url)
    print(report(result), flush=True)
    print(json.dumps({"benchmark": "scaleout", **result}, ensure_ascii=False), flush=True)
    if not all(one["once"] for one in result["runs"]):
        raise SystemExit("not every message was stored exactly once")


if __name__ == "__main__":
    uvloop.run(main())
