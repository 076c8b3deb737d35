"""deploy/ stays true to the code: the production config loads, every `worklog` command the
walkthrough and the units name exists, the metrics the Prometheus examples use are exported,
the ports and limits agree across the files, and the unit stops later than the service's
grace. systemd-analyze, promtool and nginx check their files when installed."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from bot.cli import _parser, main
from bot.config import (
    ENV_CONFIG,
    ENV_DATABASE_URL,
    ENV_TOKEN,
    ENV_WEBHOOK_SECRET,
    Config,
    ConfigError,
    OpsConfig,
    ServiceConfig,
    load_config,
)
from bot.ops import Metrics
from services.policy import WebSettings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
EXAMPLE = DEPLOY / "worklog.toml.example"
TEMPLATE = DEPLOY / "worklog@.service"
MIGRATE = DEPLOY / "worklog-migrate.service"
NGINX = DEPLOY / "nginx.conf.example"
PROMETHEUS = DEPLOY / "prometheus.yml.example"
ALERTS = DEPLOY / "alerts.yml.example"
CONTAINERFILE = DEPLOY / "Containerfile"
WALKTHROUGH = DEPLOY / "README.md"
SECRET = "a" * 64
# deploy/README.md makes worklog-2.toml from worklog-1.toml with exactly these substitutions.
SECOND_PORTS = (("port = 8080", "port = 8081"), ("port = 9108", "port = 9109"))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets as systemd's EnvironmentFile gives them; nothing else from this machine."""
    for name in (ENV_TOKEN, ENV_DATABASE_URL, ENV_CONFIG):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_WEBHOOK_SECRET, SECRET)


@pytest.fixture
def first(env: None) -> Config:
    return load_config(EXAMPLE)


@pytest.fixture
def second(env: None, tmp_path: Path) -> Config:
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in SECOND_PORTS:
        assert len(re.findall(rf"(?m)^{old}$", text)) == 1, f"one line {old!r} for the sed"
        text = re.sub(rf"(?m)^{old}$", new, text)
    path = tmp_path / "worklog-2.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _unit(path: Path) -> dict[str, list[str]]:
    """A unit file's settings: key → its values in order (comments and sections dropped)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min)?", value)
    assert match, f"a duration this test understands: {value!r}"
    return float(match.group(1)) * (60 if match.group(2) == "min" else 1)


# -- the production config -----------------------------------------------------------------------


def test_production_config_loads(first: Config) -> None:
    assert first.telegram.mode == "webhook"
    assert first.telegram.webhook_secret == SECRET  # from the environment, not the file
    assert first.database.url.startswith("postgresql+asyncpg://")
    assert first.web.public_url.startswith("https://")
    assert first.web.host == first.ops.host == "127.0.0.1"
    assert first.log_format == "json"
    assert first.scheduler.run_jobs  # both processes: the lease picks one


def test_no_secret_in_the_config_file() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    telegram = data.get("telegram", {})
    assert not telegram.get("token") and not telegram.get("webhook_secret")
    user = data["database"]["url"].removeprefix("postgresql+asyncpg://").split("@")[0]
    assert ":" not in user, "the password comes from WORKLOG_DATABASE_URL"


def test_production_config_needs_the_webhook_secret(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_WEBHOOK_SECRET)
    with pytest.raises(ConfigError, match="webhook_secret"):
        load_config(EXAMPLE)


def test_second_process_differs_in_its_ports_only(first: Config, second: Config) -> None:
    assert (second.web.port, second.ops.port) == (8081, 9109)
    assert (first.web.port, first.ops.port) == (8080, 9108)
    same = replace(second, web=replace(second.web, port=8080), ops=replace(second.ops, port=9108))
    assert same == first
    walkthrough = WALKTHROUGH.read_text(encoding="utf-8")
    for old, new in SECOND_PORTS:
        assert f"s/^{old}$/{new}/" in walkthrough


# -- the systemd units ---------------------------------------------------------------------------


def test_unit_stops_later_than_the_grace(first: Config) -> None:
    unit = _unit(TEMPLATE)
    timeout = _seconds(unit["TimeoutStopSec"][-1])
    assert timeout > ServiceConfig().stop_grace
    assert timeout > first.service.stop_grace
    assert unit["KillSignal"] == ["SIGTERM"]


def test_units_run_the_service_as_configured(tmp_path: Path) -> None:
    unit = _unit(TEMPLATE)
    assert unit["ExecStart"] == ["/opt/worklog/.venv/bin/worklog run"]
    assert f"{ENV_CONFIG}=/etc/worklog/worklog-%i.toml" in unit["Environment"]
    assert unit["AssertPathExists"] == ["/etc/worklog/worklog-%i.toml"]
    assert unit["User"] == ["worklog"]
    assert unit["WorkingDirectory"] == ["/var/lib/worklog"]
    assert unit["ReadWritePaths"] == ["/var/lib/worklog"]
    assert unit["ProtectSystem"] == ["strict"]
    # Exit code 2 (configuration refused) is not restarted: that is what the CLI returns.
    assert unit["RestartPreventExitStatus"] == ["2"]
    assert main(["-c", str(tmp_path / "missing.toml"), "run"]) == 2
    migrate = _unit(MIGRATE)
    assert migrate["ExecStart"] == ["/opt/worklog/.venv/bin/worklog init"]
    assert migrate["Type"] == ["oneshot"]
    assert "worklog-migrate.service" in unit["After"][-1]
    for key in ("EnvironmentFile", "User", "WorkingDirectory", "ProtectSystem", "ReadWritePaths"):
        assert migrate[key] == unit[key], key


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    stub = tmp_path / "worklog"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for source, name in (
        (TEMPLATE, "worklog@1.service"),
        (MIGRATE, "worklog-migrate.service"),
    ):
        text = source.read_text(encoding="utf-8")
        (units / name).write_text(text.replace("/opt/worklog/.venv/bin/worklog", str(stub)))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in units.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    ours = [line for line in output.splitlines() if "worklog" in line]
    assert done.returncode == 0 and not ours, output


# -- commands named in the walkthrough and the units ---------------------------------------------

# `worklog` where a command starts: line start, a code span, after ; && || | ( exec ExecStart=.
_INVOCATION = re.compile(
    r"(?:^|&&|\|\||[;|(`]|\bexec\b|ExecStart=)[ \t]*(?:\S*/)?worklog"
    r"(?P<args>(?:[ \t]+[^\s;&|`#][^\s;&|`]*)+)",
    re.MULTILINE,
)


def _code(path: Path) -> tuple[list[str], list[str]]:
    """(whole command lines, mentions): fenced code and ExecStart lines are whole commands;
    code spans in prose and comments may leave out the arguments."""
    text = path.read_text(encoding="utf-8")
    lines: list[str] = []
    if path.suffix == ".md":
        blocks = re.findall(r"(?ms)^```[^\n]*\n(.*?)^```", text)
        lines = [line for block in blocks for line in block.splitlines()]
        prose = re.sub(r"(?ms)^```[^\n]*\n.*?^```", "", text)
    else:
        lines = [line for line in text.splitlines() if line.startswith("ExecStart=")]
        prose = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    spans = re.findall(r"`([^`\n]+)`", prose)
    return lines, spans


def _words(args: str) -> list[str]:
    words = shlex.split(args, comments=True)
    for i, word in enumerate(words):
        if word[0] in "|&;<>" or ">" in word:
            return words[:i]
    return words


def _subcommand_path(words: list[str]) -> list[str]:
    """Walk the parser's subcommands along `words`; fail on a word that is none of them."""
    parser = _parser()
    options_with_value = {"-c", "--config"}
    words = list(words)
    while words and words[0].startswith("-"):
        option = words.pop(0)
        if option in options_with_value:
            words.pop(0)
    path: list[str] = []
    for word in words:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            fixed = [a for a in parser._actions if a.choices and not a.option_strings]
            if fixed:  # e.g. `webhook set|delete|info`
                assert word in fixed[0].choices, f"worklog {' '.join(path)} {word}"
                path.append(word)
            break
        choices = subparsers[0].choices
        assert word in choices, f"`worklog {' '.join([*path, word])}` is no command of bot.cli"
        path.append(word)
        parser = choices[word]
    assert path, f"no subcommand in `worklog {' '.join(words)}`"
    return path


def _invocations(texts: list[str]) -> list[list[str]]:
    """The arguments of each `worklog` invocation; one passing on shell expansions ("$@",
    the operator's function) cannot be checked statically and is left out."""
    found = (m["args"] for t in texts for m in _INVOCATION.finditer(t))
    return [_words(args) for args in found if "$" not in args]


def test_every_worklog_command_named_exists() -> None:
    files = [*sorted(DEPLOY.glob("*.md")), *sorted(DEPLOY.glob("*.service"))]
    named: set[tuple[str, ...]] = set()
    for path in files:
        lines, spans = _code(path)
        for words in _invocations(lines):
            named.add(tuple(_subcommand_path(words)))
            try:  # a whole command line parses with its arguments
                _parser().parse_args(words)
            except SystemExit:
                pytest.fail(f"{path.name}: `worklog {shlex.join(words)}` does not parse")
        for words in _invocations(spans):
            named.add(tuple(_subcommand_path(words)))
    # The walkthrough's steps are all there.
    for step in (
        ("init",),
        ("run",),
        ("roster", "import"),
        ("webhook", "set"),
        ("backup",),
        ("restore",),
        ("jobs", "run"),
    ):
        assert step in named, step


def test_the_checker_catches_a_wrong_command() -> None:
    assert _invocations(["worklog roster import x.csv  # 注释"]) == [["roster", "import", "x.csv"]]
    assert (
        _invocations(["sudo -u worklog sh -c x", "`worklog@1`", "cd /var/lib/worklog && x"]) == []
    )
    with pytest.raises(AssertionError):
        _subcommand_path(["webhook", "register"])
    with pytest.raises(AssertionError):
        _subcommand_path(["migrate"])


def test_containerfile_runs_the_service_from_the_package() -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    cmd = json.loads(re.search(r"(?m)^CMD (.+)$", text)[1])
    assert cmd[0] == "worklog"
    _parser().parse_args(cmd[1:])
    assert cmd[1:] == ["run"]
    copied = set(re.findall(r"(?m)^COPY (\w+)/ ", text))
    include = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]["find"]["include"]
    assert {name.rstrip("*") for name in include} <= copied
    assert re.search(r"(?m)^COPY pyproject\.toml README\.md ", text)  # pyproject's readme
    # The CJK font the dev script installs for the /chart pictures.
    font = re.search(r"fonts-wqy-\w+", (ROOT / "dev").read_text(encoding="utf-8"))[0]
    assert font in text
    exposed = {int(p) for p in re.search(r"(?m)^EXPOSE (.+)$", text)[1].split()}
    assert exposed == {WebSettings().port, OpsConfig().port}
    user = re.findall(r"(?m)^USER (\S+)$", text)
    assert user and user[-1] not in ("root", "0")


# -- nginx ---------------------------------------------------------------------------------------


def test_nginx_matches_the_config(first: Config, second: Config) -> None:
    text = NGINX.read_text(encoding="utf-8")
    live = "\n".join(line.split("#")[0] for line in text.splitlines())
    upstream = re.search(r"upstream worklog \{(.*?)\}", live, re.S)[1]
    servers = set(re.findall(r"server (\S+);", upstream))
    assert servers == {f"{c.web.host}:{c.web.port}" for c in (first, second)}
    assert f"client_max_body_size {first.web.max_body_kb}k;" in live
    webhook = re.search(
        rf"location = {re.escape(first.telegram.webhook_path)} \{{(.*?)\}}", live, re.S
    )
    assert webhook, "the webhook path has its own location"
    # A POST is passed to the other process on 503 only with non_idempotent.
    assert re.search(r"proxy_next_upstream [^;]*http_503[^;]*non_idempotent;", webhook[1])
    # The ops ports are never proxied.
    for config in (first, second):
        assert f":{config.ops.port}" not in live
    assert re.search(r"location = /healthz \{ return 404; \}", live)
    assert re.search(r"location = /metrics \{ return 404; \}", live)


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None, reason="no nginx/openssl"
)
def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    ssl = tmp_path / "ssl"
    ssl.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=worklog.example.gov.cn", "-keyout", str(ssl / "privkey.pem"),
         "-out", str(ssl / "fullchain.pem")],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    site = tmp_path / "site.conf"
    site.write_text(NGINX.read_text(encoding="utf-8").replace("/etc/ssl/worklog", str(ssl)))
    main_conf = tmp_path / "nginx.conf"
    main_conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{ access_log off; include {site}; }}\n"
    )
    done = subprocess.run(
        ["nginx", "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(main_conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# -- Prometheus ----------------------------------------------------------------------------------


def _exported() -> set[str]:
    """Every metric and sample name a fresh process's /metrics shows."""
    names = set()
    for line in generate_latest(Metrics().registry).decode().splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            names.add(line.split()[2])
        elif line:
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_metrics_named_in_the_examples_exist() -> None:
    exported = _exported()
    for path in (PROMETHEUS, ALERTS, WALKTHROUGH):
        used = set(re.findall(r"\bworklog_[a-z_]+\b", path.read_text(encoding="utf-8")))
        assert used <= exported, f"{path.name}: {sorted(used - exported)}"
        if path == ALERTS:
            assert len(used) >= 5, sorted(used)


def test_prometheus_scrapes_every_ops_port(first: Config, second: Config) -> None:
    text = PROMETHEUS.read_text(encoding="utf-8")
    live = "\n".join(line.split("#")[0] for line in text.splitlines())
    targets = set(re.findall(r"- (127\.0\.0\.1:\d+)", live))
    assert targets == {f"{c.ops.host}:{c.ops.port}" for c in (first, second)}
    assert "metrics_path: /metrics" in live
    jobs = set(re.findall(r"job_name: (\S+)", live))
    used = set(re.findall(r'job="([^"]+)"', ALERTS.read_text(encoding="utf-8")))
    assert used and used <= jobs
    threshold = re.search(r"worklog_inbox_oldest_pending_seconds\) > (\d+)", ALERTS.read_text())
    assert float(threshold[1]) == first.ops.max_pending_age  # what /healthz checks


@pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool")
def test_promtool_accepts_the_examples(tmp_path: Path) -> None:
    rules = tmp_path / "worklog-alerts.yml"
    rules.write_text(ALERTS.read_text(encoding="utf-8"))
    config = tmp_path / "prometheus.yml"
    text = PROMETHEUS.read_text(encoding="utf-8")
    config.write_text(text.replace("/etc/prometheus/worklog-alerts.yml", str(rules)))
    for args in (["check", "rules", str(rules)], ["check", "config", str(config)]):
        done = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


# -- secrets -------------------------------------------------------------------------------------


def test_only_real_environment_variables_are_named() -> None:
    known = {ENV_TOKEN, ENV_DATABASE_URL, ENV_WEBHOOK_SECRET, ENV_CONFIG}
    for path in sorted(DEPLOY.iterdir()):
        used = set(re.findall(r"\bWORKLOG_[A-Z_]+\b", path.read_text(encoding="utf-8")))
        assert used <= known, f"{path.name}: {sorted(used - known)}"
    walkthrough = WALKTHROUGH.read_text(encoding="utf-8")
    for name in (ENV_TOKEN, ENV_DATABASE_URL, ENV_WEBHOOK_SECRET):
        assert re.search(rf"(?m)^{name}=", walkthrough), f"secrets.env example lacks {name}"
