"""The operator's CLI as an admin uses it on a fresh machine (SQLite)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.config import ConfigError, config_from_dict, load_config
from services import zh
from storage.db import create_engine

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "roster_sample.csv"


def test_init_import_and_invite(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config_file), "init"]) == 0
    db = config_file.parent / "data" / "worklog.db"
    assert db.exists()
    assert main(["-c", str(config_file), "roster", "import", str(SAMPLE)]) == 0
    assert "新增 12 人，更新 0 人，未变 0 人，未导入 0 行" in capsys.readouterr().out
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from people").fetchone()[0] == 12
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
        roster_id = conn.execute("select roster_id from people order by id").fetchone()[0]
    # Re-import updates, never duplicates.
    assert main(["-c", str(config_file), "roster", "import", str(SAMPLE)]) == 0
    assert "新增 0 人，更新 0 人，未变 12 人，未导入 0 行" in capsys.readouterr().out
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from people").fetchone()[0] == 12
    assert main(["-c", str(config_file), "invite", roster_id, "NOPE"]) == 1
    out = capsys.readouterr().out
    assert "https://t.me/county_worklog_bot?start=" in out
    assert "NOPE" in out
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from invites").fetchone()[0] == 1


def test_bad_roster_file_is_a_clear_error(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("工号,单位\n1,县发改委\n", encoding="utf-8")
    assert main(["-c", str(config_file), "roster", "import", str(bad)]) == 2
    assert "姓名" in capsys.readouterr().err
    assert main(["-c", str(config_file), "roster", "import", str(tmp_path / "none.csv")]) == 2


def test_run_without_token_and_web_page_names_the_key(config_file: Path) -> None:
    config_file.write_text(config_file.read_text() + "[web]\nenabled = false\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "-c", str(config_file), "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert "telegram.token" in result.stderr
    assert "WORKLOG_TELEGRAM_TOKEN" in result.stderr


def test_run_without_token_is_local_mode_and_stops_on_sigterm(config_file: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config_file.write_text(config_file.read_text() + f"[web]\nport = {port}\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    init = [sys.executable, "-m", "bot", "-c", str(config_file), "init"]
    subprocess.run(init, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "-c", str(config_file), "run"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        seen = []
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if "web page listening" in line:
                break
        log = "".join(seen)
        assert zh.WEB_LOCAL_MODE in log
        assert f"web page listening on 127.0.0.1:{port}" in log
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.css", timeout=10) as css:
            assert css.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()


def test_config_rejects_unknown_keys_and_takes_secrets_from_env() -> None:
    with pytest.raises(ConfigError, match=r"telegram\.tokn"):
        config_from_dict({"telegram": {"tokn": "x"}}, env={})
    with pytest.raises(ConfigError, match="rollover_hour"):
        config_from_dict({"logging": {"rollover_hour": 30}}, env={})
    with pytest.raises(ConfigError, match="work_day_start"):
        config_from_dict({"logging": {"work_day_start": "late"}}, env={})
    for bad in [
        {"team_page_size": 0},
        {"check_sample_size": 5000},
        {"check_max_per_person": 0},
        {"review_file_over": 0},
        {"check_weight_weak_entry": -1},
        {"text_limit": "long"},
    ]:
        with pytest.raises(ConfigError, match=r"review\."):
            config_from_dict({"review": bad}, env={})
    review = config_from_dict({"review": {"team_page_size": 30, "check_weight_weak_entry": 2}})
    assert (review.review.team_page_size, review.review.check_weight_weak_entry) == (30, 2.0)
    cfg = config_from_dict(
        {"telegram": {"token": "from-file"}},
        env={"WORKLOG_TELEGRAM_TOKEN": "from-env", "WORKLOG_DATABASE_URL": "sqlite+aiosqlite://"},
    )
    assert cfg.telegram.token == "from-env"
    assert cfg.database.url == "sqlite+aiosqlite://"


def test_example_config_documents_every_key() -> None:
    import tomllib
    from dataclasses import fields

    from bot.config import _SECTIONS

    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    config_from_dict(example, env={})  # it is valid
    for section, cls in _SECTIONS.items():
        assert set(example[section]) == {f.name for f in fields(cls)}, section
    assert load_config(ROOT / "config.example.toml").telegram.poll_timeout == 30


async def test_run_with_a_refused_token_says_so_and_exits_2(api, tmp_path: Path) -> None:
    """Telegram answering 401 is the one fatal condition: told in words, exit code 2."""
    api.inject("getMe", "401", times=None)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "123:revoked-token"\nbase_url = "{api.base_url}"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/worklog.db"\n',
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "-c",
        str(config),
        "run",
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "配置错误: Telegram refused telegram.token" in stderr.decode()
    assert "revoked-token" not in stderr.decode()


def test_installed_worklog_command_runs_outside_the_repository(tmp_path: Path) -> None:
    """The console script of the installed package, not the source tree, finds every package."""
    script = Path(sys.executable).parent / "worklog"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/w.db"\n', "utf-8")
    result = subprocess.run(
        [str(script), "-c", str(config), "init"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "数据库已就绪" in result.stdout


def test_audit_prints_the_trail_by_person_and_date(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reads of someone else's log and refused attempts are listed for admins, filtered."""
    from bot.app import build_services
    from services.errors import NotAllowed

    assert main(["-c", str(config_file), "roster", "import", str(SAMPLE)]) == 0
    config = load_config(config_file)

    async def reads() -> None:
        engine = create_engine(config.database.url)
        try:
            review = build_services(config, engine).services.review
            people = {}
            async with engine.connect() as conn:
                rows = await conn.execute(text("select roster_id, id from people"))
                people = dict(rows.all())
            await review.review(people["1002"], "张伟")  # 李明 reads his report's log
            with pytest.raises(NotAllowed):
                await review.review(people["1002"], "刘洋")  # two levels down: refused
        finally:
            await engine.dispose()

    asyncio.run(reads())
    capsys.readouterr()
    assert main(["-c", str(config_file), "audit", "--person", "1003"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("\t") == ["时间", "事件", "命令", "操作人", "对象", "详情"]
    [line] = out[1:]
    fields = line.split("\t")
    assert fields[1:5] == ["查阅", "review", "1002 李明", "1003 张伟"]
    assert '"period": "' in fields[5]

    assert main(["-c", str(config_file), "audit", "--person", "1002"]) == 0
    events = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()[1:]]
    assert events == ["查阅", "查阅被拒"]

    assert main(["-c", str(config_file), "audit", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out.strip() == "没有符合条件的记录。"
    assert main(["-c", str(config_file), "audit", "--since", "yesterday"]) == 2
    assert "格式不对" in capsys.readouterr().err
    assert main(["-c", str(config_file), "audit", "--person", "9999"]) == 1
    assert "没有工号为 9999 的人员" in capsys.readouterr().err
    assert main(["-c", str(config_file), "audit", "--limit", "1"]) == 0
    assert "只列出最近1条" in capsys.readouterr().out


def test_score_export_and_cap(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An admin sets a unit's cap, prints the per-unit summary and writes the grade table."""
    import openpyxl

    from services import zh

    assert main(["-c", str(config_file), "roster", "import", str(SAMPLE)]) == 0
    capsys.readouterr()
    assert main(["-c", str(config_file), "cap", "set", "县发改委", "2026Q4", "70%"]) == 0
    assert capsys.readouterr().out.strip() == zh.CAP_SET.format(
        unit="县发改委", quarter="2026Q4", percent=70, before="—"
    )
    assert main(["-c", str(config_file), "cap", "set", "县发改委", "2026Q4", "170"]) == 2
    assert capsys.readouterr().err.strip() == zh.CAP_BAD_PERCENT.format(text="170")
    assert main(["-c", str(config_file), "cap", "set", "没有", "2026Q4", "70"]) == 2
    assert capsys.readouterr().err.strip() == zh.CAP_NO_UNIT.format(name="没有")

    assert main(["-c", str(config_file), "score", "2026Q3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2026Q3 考核汇总"
    assert out[1].split("\t") == list(zh.SCORE_COLUMNS)
    units = {line.split("\t")[0]: line.split("\t") for line in out[2:]}
    assert set(units) == {"县发改委", "城关镇人民政府", "市住建局"}
    assert units["县发改委"][1:3] == [zh.NO_CATEGORY, "5"]

    out_file = tmp_path / "grades.xlsx"
    assert main(["-c", str(config_file), "export", "2026Q3", "--out", str(out_file)]) == 0
    assert "考核表" in capsys.readouterr().out
    rows = list(openpyxl.load_workbook(out_file)[zh.GRADES_SHEET].values)
    assert rows[0] == zh.GRADES_HEADER
    assert len(rows) == 1 + sum(1 for _ in SAMPLE.read_text(encoding="utf-8").splitlines()[1:])
    assert main(["-c", str(config_file), "export", "2026-11", "--out", str(out_file)]) == 2
    assert capsys.readouterr().err.strip() == zh.GRADES_PERIOD_KIND.format(text="2026-11")
