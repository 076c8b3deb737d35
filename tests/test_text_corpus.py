"""Measured text understanding: splitting and collaborator extraction on a labelled corpus.

The corpus (tests/data/text_corpus.tsv, format in its header) holds realistic messages with
the items a careful reader would make of them and each item's 合作者或服务对象. Splitting is
scored by exact match of a message's whole item list; the collaborator by precision and recall
over the expected items (so a splitting miss does not also count as an extraction miss).
Run with `pytest -s tests/test_text_corpus.py` to see the figures and the mismatches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from scoring.text import CollaboratorExtractor, split_items

CORPUS = Path(__file__).parent / "data" / "text_corpus.tsv"
NO_ONE = "-"

MIN_PRECISION = 0.9
MIN_RECALL = 0.9
MIN_SPLIT_EXACT = 0.95
SHOW_MISMATCHES = 20

# The roster as bot.app.Wiring.load_names teaches it: every unit name and every active person.
ROSTER_UNITS = [
    "县发改委",
    "县财政局",
    "市住建局",
    "城关镇人民政府",
    "高新区管委会",
    "县自然资源局",
    "县应急管理局",
    "县水利局",
    "县信访局",
    "县委组织部",
]
ROSTER_PEOPLE = [
    "王建国",
    "李明",
    "张伟",
    "刘洋",
    "陈静",
    "赵志强",
    "孙丽",
    "周杰",
    "吴敏",
    "郑海",
    "冯晓",
    "许婷",
]


@dataclass(frozen=True)
class Message:
    """One labelled message: its text and the expected (item, collaborator) pairs."""

    line_no: int
    text: str
    items: tuple[tuple[str, str | None], ...]


def _unescape(field: str) -> str:
    """Undo the corpus escapes: \\n, \\t and \\\\."""
    out: list[str] = []
    chars = iter(field)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(nxt, "\\" + nxt))
    return "".join(out)


def load_corpus(path: Path = CORPUS) -> list[Message]:
    """Parse the corpus file into messages."""
    messages: list[Message] = []
    current: tuple[int, str, list[tuple[str, str | None]]] | None = None
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        kind, *fields = line.split("\t")
        if kind == "M" and len(fields) == 1:
            if current:
                messages.append(Message(current[0], current[1], tuple(current[2])))
            current = (line_no, _unescape(fields[0]), [])
        elif kind == "I" and len(fields) == 2 and current is not None:
            who = fields[1].strip()
            current[2].append((_unescape(fields[0]), None if who == NO_ONE else who))
        else:
            raise ValueError(f"{path.name}:{line_no}: cannot read {line!r}")
    if current:
        messages.append(Message(current[0], current[1], tuple(current[2])))
    return messages


@pytest.fixture(scope="module")
def corpus() -> list[Message]:
    return load_corpus()


@pytest.fixture(scope="module")
def extractor() -> CollaboratorExtractor:
    ex = CollaboratorExtractor()
    ex.add_names(ROSTER_UNITS, ROSTER_PEOPLE)
    ex.warm_up()
    return ex


def test_corpus_is_large_and_well_formed(corpus: list[Message]) -> None:
    assert len(corpus) >= 220
    assert all(message.items for message in corpus)
    items = [who for message in corpus for _, who in message.items]
    assert sum(who is None for who in items) >= 100, "many negatives"
    assert sum(who is not None for who in items) >= 100


def test_splitting_exact_match(corpus: list[Message]) -> None:
    misses = []
    for message in corpus:
        expected = [item for item, _ in message.items]
        got = split_items(message.text)
        if got != expected:
            misses.append((message, expected, got))
    rate = 1 - len(misses) / len(corpus)
    print(f"\nsplitting: exact match {rate:.3f} ({len(corpus) - len(misses)}/{len(corpus)})")
    for message, expected, got in misses[:SHOW_MISMATCHES]:
        print(f"  line {message.line_no}: {message.text!r}")
        print(f"    expected {expected}\n    got      {got}")
    assert rate >= MIN_SPLIT_EXACT


def test_collaborator_precision_and_recall(
    corpus: list[Message], extractor: CollaboratorExtractor
) -> None:
    predicted = expected = correct = 0
    misses = []
    for message in corpus:
        for item, want in message.items:
            got = extractor.extract(item)
            predicted += got is not None
            expected += want is not None
            if got is not None and got == want:
                correct += 1
            elif got != want:
                misses.append((message.line_no, item, want, got))
    precision = correct / predicted if predicted else 1.0
    recall = correct / expected if expected else 1.0
    print(
        f"\ncollaborator: precision {precision:.3f} ({correct}/{predicted}), "
        f"recall {recall:.3f} ({correct}/{expected}), {len(misses)} mismatches"
    )
    for line_no, item, want, got in misses[:SHOW_MISMATCHES]:
        print(f"  line {line_no}: {item!r}: expected {want!r}, got {got!r}")
    assert precision >= MIN_PRECISION
    assert recall >= MIN_RECALL
