"""Quality flags on log entries (质量提示): repeats, copies, trivial and overlong items.

Flags, never deletions: a supervisor sees them in /review and the grade export counts them.
Pure rules over plain values; the caller reads the entries and stores the flags.

- `repeat`: the cadre wrote (nearly) the same item on an earlier day of the repeat window.
- `copy`: (nearly) the same as an entry a colleague of the same unit stored before this one.
- `trivial`: very short, or nothing but generic work words and filler (scoring.review).
- `long`: long enough that it should have been several items (一事一记).

"Nearly the same" is the Jaccard index of the two items' content-word sets (jieba words of
two or more characters, without numbers and filler) at or above a threshold, 0.8 by default:
at most one in five distinct content words differs. Jaccard rather than containment, because
containment calls a short item a copy of any longer, more detailed item that includes it
("开展安全生产检查" inside a paragraph about one), and these flags weigh on grades. Items
that are the same once case, width, spaces and punctuation are ignored match at once, however
few words they have; below MIN_TOKENS content words only that exact match counts, so two
different short items never meet by sharing their only two words. A trivial item is never
also a repeat or a copy: saying nothing is its problem, and "开会" is everybody's every day.

Scale: a nightly check sees ~105,000 new items and, for repeats, ~3 million earlier ones, too
many to segment with jieba (~50 µs an item). So only new items are segmented. The comparison
items of one person (or one unit) are casefolded in bulk into one string, and each word of a
new item is looked up in it once with str.find (C speed), as a bitmask of the items holding
it (an inverted index built only for the words asked for). A similar item holds at least
ceil(t·n) of the new item's n words (Jaccard >= t means |A ∩ B| >= t·|A|), so bit-sliced
counting over those masks names the few candidates; only they are segmented (each distinct
text once) and compared. No pair of items is compared blindly; each distinct word asked
for costs one C-speed scan of its pool.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scoring.review import FILLER_WORDS, GENERIC, SHORT, entry_weakness
from scoring.summary import domain_tokenizer
from scoring.text import is_overlong

REPEAT = "repeat"
COPY = "copy"
TRIVIAL = "trivial"
LONG = "long"
FLAGS = (COPY, LONG, REPEAT, TRIVIAL)
# The flags the grade export counts as 重复或琐碎.
COUNTED = frozenset({REPEAT, COPY, TRIVIAL})

DEFAULT_SIMILARITY = 0.8
DEFAULT_SHORT_CHARS = 6
DEFAULT_LONG_CHARS = 200
# Fewer content words than this: only an exact (folded) match makes a repeat or a copy.
MIN_TOKENS = 3

# Separates items in a pool. Stored text never holds it (scoring.text.clean_text).
_SEP = "\x1f"
# What folding drops: everything but letters, digits and the separator.
_DROP = re.compile(rf"[^\w{_SEP}]|_")


@dataclass(frozen=True)
class Thresholds:
    """The configurable limits of the flags (services.policy.QualityRules sets them)."""

    similarity: float = DEFAULT_SIMILARITY
    short_chars: int = DEFAULT_SHORT_CHARS
    long_chars: int = DEFAULT_LONG_CHARS

    def __post_init__(self) -> None:
        if not 0 < self.similarity <= 1:
            raise ValueError(f"similarity must lie in (0, 1], got {self.similarity!r}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One live entry: a new one to flag, or a colleague's to compare with."""

    id: int  # ids grow as entries are stored: a lower id was stored earlier
    person_id: int
    unit_id: int
    text: str


def encode(flags: Iterable[str]) -> str:
    """The stored form: sorted, comma-separated; "" when checked and nothing was found."""
    return ",".join(sorted(set(flags)))


def decode(stored: str | None) -> tuple[str, ...]:
    """The flags of a stored value, sorted; () when none or not checked yet (None)."""
    return tuple(flag for flag in (stored or "").split(",") if flag)


def fold(text: str) -> str:
    """Text as an exact repeat is told: NFKC, casefolded, only letters and digits.

    Like scoring.review.normalized (one regex pass instead of a loop over characters).
    """
    return _DROP.sub("", unicodedata.normalize("NFKC", text).casefold())


_LOADED: list[Any] = []


def _tokenizer() -> Any:
    # The themes' jieba tokenizer (it knows DOMAIN_PHRASES such as 安全生产): loaded once
    # per process and only read afterwards, so sharing it costs nothing.
    if not _LOADED:
        _LOADED.append(domain_tokenizer())
    return _LOADED[0]


def tokens(text: str) -> frozenset[str]:
    """The content words of an item: jieba words of 2+ letters or digits, no numbers or filler.

    Segmented with its punctuation (a comma is a word boundary), so a word never spans one
    and is also a substring of the casefolded text; NFKC makes ＡＢＣ and abc one word.
    """
    return frozenset(
        word
        for word in _tokenizer().cut(unicodedata.normalize("NFKC", text).casefold())
        if len(word) > 1 and not word.isdigit() and not _filler(word) and _DROP.search(word) is None
    )


def _filler(word: str) -> bool:
    # jieba keeps some pairs of filler together: 今天上午, 昨天下午.
    return word in FILLER_WORDS or (
        len(word) == 4 and word[:2] in FILLER_WORDS and word[2:] in FILLER_WORDS
    )


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 0 when both are empty."""
    union = len(set(a) | set(b))
    return len(set(a) & set(b)) / union if union else 0.0


def _similar(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """Jaccard >= threshold, for items with enough words to tell."""
    if len(a) < MIN_TOKENS or len(b) < MIN_TOKENS:
        return False
    # Sizes alone rule most pairs out: |a ∩ b| <= min and |a ∪ b| >= max.
    if min(len(a), len(b)) < threshold * max(len(a), len(b)) - 1e-9:
        return False
    inter = len(a & b)
    return inter >= threshold * (len(a) + len(b) - inter) - 1e-9


class _Memo:
    """Folds and content words of texts, each distinct text worked out once."""

    def __init__(self) -> None:
        self._folds: dict[str, str] = {}
        self._words: dict[str, frozenset[str]] = {}

    def fold(self, text: str) -> str:
        folded = self._folds.get(text)
        if folded is None:
            folded = self._folds[text] = fold(text)
        return folded

    def words(self, text: str) -> frozenset[str]:
        words = self._words.get(text)
        if words is None:
            words = self._words[text] = tokens(text)
        return words


class _Pool:
    """Comparison items casefolded into one string (SEP item SEP item ... SEP).

    Building it is three C calls however many items it holds. A word is looked up with
    str.find and answered as a bitmask of the items containing it (bit i: item i), kept for
    the next item that asks: an inverted index of the words asked for.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts
        self.text = (_SEP + _SEP.join(texts) + _SEP).casefold()
        self._starts: list[int] | None = None
        self._masks: dict[str, int] = {}

    def mask(self, word: str) -> int:
        """The items that contain `word`, as a bitmask."""
        found = self._masks.get(word)
        if found is None:
            found = self._masks[word] = self._find(word)
        return found

    def _find(self, word: str) -> int:
        text = self.text
        pos = text.find(word)
        if pos < 0:
            return 0
        starts = self._index()
        found = 0
        while pos >= 0:
            index = bisect_right(starts, pos) - 1
            found |= 1 << index
            pos = text.find(word, starts[index + 1])
        return found

    def _index(self) -> list[int]:
        # Where each item starts (just after its separator); built on the first hit only.
        if self._starts is None:
            text, starts, pos = self.text, [], self.text.find(_SEP)
            while pos >= 0:
                starts.append(pos + 1)
                pos = text.find(_SEP, pos + 1)
            self._starts = starts
        return self._starts


def _at_least(masks: Iterable[int], needed: int) -> int:
    """The bits set in at least `needed` of the masks (bit-sliced counting, no loop per bit)."""
    planes: list[int] = []  # planes[j]: bit j of each position's count
    for carry in masks:
        for j, plane in enumerate(planes):
            planes[j], carry = plane ^ carry, plane & carry
            if not carry:
                break
        if carry:
            planes.append(carry)
    # Compare each position's count with `needed`, most significant bit first.
    greater, equal = 0, -1
    for j in reversed(range(max(len(planes), needed.bit_length()))):
        plane = planes[j] if j < len(planes) else 0
        if needed >> j & 1:
            equal &= plane
        else:
            greater |= equal & plane
            equal &= ~plane
    return greater | equal


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


@dataclass(slots=True)
class _New:
    """A new entry being checked, with what the comparisons need of it."""

    entry: Entry
    folded: str
    words: frozenset[str]
    needed: int = 0  # how many of its words another item must contain to match


def _prepare(item: _New, threshold: float) -> None:
    n = len(item.words)
    # Jaccard >= t means |A ∩ B| >= t·|A ∪ B| >= t·|A|. Below MIN_TOKENS words only an
    # exact repeat counts, and it has every word.
    item.needed = n if n < MIN_TOKENS else math.ceil(threshold * n - 1e-9)


def _matches(
    item: _New,
    pool: _Pool,
    memo: _Memo,
    threshold: float,
    allowed: Callable[[int], bool] | None = None,
) -> bool:
    """Whether some item of the pool (that `allowed` admits) is the same or nearly so."""
    # Only items holding enough of this item's words can match (each of their words is a
    # substring of them): found for the whole pool at once, then segmented and compared.
    candidates = _at_least((pool.mask(word) for word in item.words), item.needed)
    for index in _bits(candidates):
        if allowed is not None and not allowed(index):
            continue
        text = pool.texts[index]
        if memo.fold(text) == item.folded:
            return True
        if _similar(item.words, memo.words(text), threshold):
            return True
    return False


def flag_entries(
    new: Sequence[Entry],
    earlier_own: Mapping[int, Sequence[str]],
    peers: Sequence[Entry],
    thresholds: Thresholds = Thresholds(),
) -> dict[int, frozenset[str]]:
    """The flags of each new entry, by entry id (an empty set: nothing found).

    `earlier_own`: per person, the texts of their live entries on earlier days of the repeat
    window. `peers`: live entries of the new entries' units in the copy window; entries of the
    same person and entries stored later (a higher id) are ignored, so of two colleagues the
    one who wrote second is flagged. New entries may be among the peers. An item without a
    content word is only ever trivial or long.
    """
    t = thresholds.similarity
    flags: dict[int, set[str]] = {}
    checked: list[_New] = []
    memo = _Memo()
    for entry in new:
        mine = flags[entry.id] = set()
        if is_overlong(entry.text, thresholds.long_chars):
            mine.add(LONG)
        weak = entry_weakness(entry.text, repeated=False, short_chars=thresholds.short_chars)
        if weak & {SHORT, GENERIC}:
            mine.add(TRIVIAL)
            continue
        words = memo.words(entry.text)
        if words:
            checked.append(_New(entry, memo.fold(entry.text), words))
    for item in checked:
        _prepare(item, t)

    by_person: dict[int, list[_New]] = defaultdict(list)
    by_unit: dict[int, list[_New]] = defaultdict(list)
    for item in checked:
        by_person[item.entry.person_id].append(item)
        by_unit[item.entry.unit_id].append(item)
    for person_id, items in by_person.items():
        if texts := earlier_own.get(person_id):
            pool = _Pool(texts)
            for item in items:
                if _matches(item, pool, memo, t):
                    flags[item.entry.id].add(REPEAT)

    unit_peers: dict[int, list[Entry]] = defaultdict(list)
    for peer in peers:
        if peer.unit_id in by_unit:
            unit_peers[peer.unit_id].append(peer)
    for unit_id, items in by_unit.items():
        others = unit_peers.get(unit_id)
        if not others:
            continue
        pool = _Pool([peer.text for peer in others])
        for item in items:
            me = item.entry

            def earlier_colleague(index: int, me: Entry = me, others: list[Entry] = others) -> bool:
                other = others[index]
                return other.person_id != me.person_id and other.id < me.id

            if _matches(item, pool, memo, t, earlier_colleague):
                flags[me.id].add(COPY)
    return {entry_id: frozenset(found) for entry_id, found in flags.items()}
