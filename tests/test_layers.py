"""The one-way dependency graph: channels → services → storage / scoring; nothing imports bot/.

Read from the source with `ast`, so a violation fails here before anyone has to find it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"bot", "handlers", "web", "services", "storage", "scoring", "scheduler"}

# What each package may import from the project (besides itself).
ALLOWED: dict[str, set[str]] = {
    "bot": PROJECT,  # the composition root wires everything
    "handlers": {"services", "scoring"},
    "web": {"services", "scoring"},
    "scheduler": {"services", "scoring"},
    "services": {"storage", "scoring"},
    "storage": {"scoring"},
    "scoring": set(),
}
# Third-party packages a layer must not touch, whatever the project graph says.
FORBIDDEN_LIBRARIES: dict[str, set[str]] = {
    "scoring": {"telegram", "sqlalchemy", "asyncio", "aiohttp", "alembic"},
    "services": {"telegram", "aiohttp", "sqlalchemy"},
    "storage": {"telegram", "aiohttp"},
    "handlers": {"sqlalchemy"},
    "web": {"sqlalchemy", "telegram"},
    "scheduler": {"sqlalchemy"},
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every import in a file, including imports inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(package: str) -> list[str]:
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imports_of(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            if module in PROJECT and module != package and module not in ALLOWED[package]:
                problems.append(where)
            if module in FORBIDDEN_LIBRARIES.get(package, set()):
                problems.append(where)
    return problems


@pytest.mark.parametrize("package", sorted(PROJECT))
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    assert violations(package) == []


def test_no_session_outside_storage() -> None:
    """Only repositories and the unit of work touch the SQLAlchemy session."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PROJECT - {"storage"}
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ".session" in line
    ]
    assert offenders == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself finds an upward import (so the tests above can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from bot.app import serve\n    import sqlalchemy.orm\n")
    assert imports_of(bad) == [(2, "bot"), (3, "sqlalchemy")]
