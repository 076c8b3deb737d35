"""Supervisors' use cases (下管一级): team completeness, spot checks, reviews, comments.

Who may read whose log is decided against the database at the moment of each read, never
from the actor cache: a supervisor removed from a report by a roster re-import loses access
at once. Every read of somebody else's log, and every refused attempt, is written to the audit
log in the transaction of the read; a refusal never tells whether the name exists elsewhere.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from scoring.completeness import Completeness
from scoring.dates import Period, parse_period
from scoring.quality import decode
from scoring.review import (
    SampleWeights,
    check_weight,
    entry_weakness,
    normalized,
    repeated_texts,
    weighted_sample_capped,
)
from scoring.text import clean_text, has_content
from services import zh
from services.clock import Clock
from services.entries import (
    AbsenceView,
    Activity,
    EntryView,
    LogPolicy,
    activity_in,
)
from services.errors import NotAllowed, NotFound, UsageError
from services.outbox import Confirm, commit
from services.policy import ReviewRules
from storage.models import (
    Comment,
    EntryKind,
    Evaluation,
    LogEntry,
    Person,
    Role,
    SpotCheck,
    SpotCheckItem,
)
from storage.repositories import EntryCounts, PeopleScope, PersonCard, Reach, ReviewedEntry
from storage.uow import UnitOfWork, UowFactory

# Entries a spot check draws its sample from, at most (a team of 50 logs about 3,000 a month).
CHECK_CANDIDATES = 5000
# A completeness below this makes the sampled entry's reason list say so.
LOW_COMPLETENESS = 0.8
# How many people an ambiguous name lists.
CANDIDATES_SHOWN = 8


class Verdict(StrEnum):
    """What the checker thought of a sampled entry (👍 / 👎)."""

    GOOD = "good"
    POOR = "poor"


class Ground(StrEnum):
    """Why a command may reach a person: as direct supervisor, as the unit's rater, as admin."""

    REPORTS = "reports"
    UNITS = "units"
    EVERYONE = "everyone"


# Which grounds each command accepts.
READ = frozenset(Ground)  # /review, /comments
COMMENT = frozenset({Ground.REPORTS, Ground.UNITS})  # /comment
REPORTS_ONLY = frozenset({Ground.REPORTS})  # /team, /check, /evaluate


@dataclass(frozen=True)
class Powers:
    """What a person may do beyond their own log, as /help lists it."""

    reports: int
    rater: bool
    admin: bool


@dataclass(frozen=True, slots=True)
class TeamRow:
    person: PersonCard
    completeness: Completeness
    counts: EntryCounts
    logged_today: bool


@dataclass(frozen=True)
class TeamView:
    """One page of /team: direct reports, laggards first."""

    period: Period
    rows: tuple[TeamRow, ...]
    page: int  # from 0
    pages: int
    offset: int  # how many reports earlier pages list
    total: int
    logged_today: int  # of all reports, not only this page
    to_date: bool  # the period is still running: figures are up to today


@dataclass(frozen=True, slots=True)
class ReviewEntry:
    entry: EntryView
    changed: bool  # 已修改: edited after it was first recorded
    flags: tuple[str, ...] = ()  # 质量提示 (scoring.quality); none until checked


@dataclass(frozen=True)
class ReviewView:
    """A report's log over a period (调阅): one page, or every entry when sent as a file."""

    person: PersonCard
    period: Period
    entries: tuple[ReviewEntry, ...]
    page: int
    pages: int
    total: int
    completeness: Completeness
    absences: tuple[AbsenceView, ...]
    as_file: bool


@dataclass(frozen=True, slots=True)
class CheckItemView:
    item_id: int
    position: int
    person_name: str
    entry: EntryView
    reasons: tuple[str, ...]
    verdict: Verdict | None
    remark: str | None


@dataclass(frozen=True)
class CheckView:
    """A spot check and its sampled entries; `asked` is the item a remark is wanted for."""

    check_id: int
    period: Period
    subject: str | None  # the one report checked, or None for the whole team
    items: tuple[CheckItemView, ...]
    candidates: int
    asked: CheckItemView | None = None


@dataclass(frozen=True)
class CommentView:
    id: int
    author: str
    subject: str
    positive: bool
    text: str
    at: datetime


@dataclass(frozen=True)
class CommentsView:
    """正面清单 / 负面清单 of one person over a period."""

    person: PersonCard
    period: Period
    own: bool
    positive: tuple[CommentView, ...]
    negative: tuple[CommentView, ...]


@dataclass(frozen=True)
class EvaluationView:
    person: PersonCard
    quarter: str
    text: str
    replaced: bool


def _card(person: Person) -> PersonCard:
    return PersonCard(
        person.id,
        person.roster_id,
        person.name,
        person.position,
        person.unit.name,
        person.supervisor_id,
        person.unit_id,
    )


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


class ReviewService:
    """What supervisors, raters and admins do with the logs of the people they oversee."""

    def __init__(
        self,
        uow: UowFactory,
        clock: Clock,
        policy: LogPolicy,
        rules: ReviewRules,
        rng: random.Random | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.rules = rules
        self.rng = rng or random.Random()
        self.weights = SampleWeights(
            rules.check_weight_low_completeness, rules.check_weight_weak_entry
        )

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    # -- who may see whom (also asked by the rating use cases) ----------------------------------

    async def viewer(self, uow: UnitOfWork, viewer_id: int) -> Person:
        """The person asking, still on the roster, inside `uow`."""
        viewer = await uow.people.get(viewer_id)
        if viewer is None or not viewer.active:
            raise NotAllowed(zh.NOT_REGISTERED)
        return viewer

    async def _reach(self, uow: UnitOfWork, viewer: Person, grounds: frozenset[Ground]) -> Reach:
        """Whom `viewer` may reach for a command, as the roster stands right now."""
        roles = viewer.role_set
        units: tuple[int, ...] = ()
        if Ground.UNITS in grounds and Role.RATER in roles:
            units = tuple(await uow.people.unit_subtree(viewer.unit_id))
        return Reach(
            viewer.id,
            reports=Ground.REPORTS in grounds,
            unit_ids=units,
            everyone=Ground.EVERYONE in grounds and Role.ADMIN in roles,
        )

    async def _refuse(
        self,
        uow: UnitOfWork,
        viewer_id: int,
        command: str,
        query: str,
        reply: str,
        subject_id: int | None = None,
    ) -> NotAllowed:
        """Record a refused read (with whom it would have been, for admins) and say why."""
        if subject_id is None and query:
            matches = await uow.people.matching_anyone(query)
            subject_id = matches[0] if len(matches) == 1 else None
        await uow.audit.record(
            self.clock.now(),
            "read_refused",
            actor_person_id=viewer_id,
            subject_person_id=subject_id,
            command=command,
            detail={"query": query[:100]},
        )
        await uow.commit()
        return NotAllowed(reply)

    async def resolve(
        self,
        uow: UnitOfWork,
        viewer: Person,
        grounds: frozenset[Ground],
        command: str,
        who: str,
    ) -> PersonCard:
        """The one person `who` (a name or a 工号) names among those the viewer may reach."""
        who = " ".join(clean_text(who).split())
        reach = await self._reach(uow, viewer, grounds)
        found = await uow.people.find_within(reach, who, limit=CANDIDATES_SHOWN + 1)
        exact = [card for card in found if card.roster_id == who]
        if exact:
            return exact[0]
        if not found:
            reaches_nobody = not (
                reach.unit_ids or reach.everyone or await uow.people.has_reports(viewer.id)
            )
            reply = zh.NO_REACH[command] if reaches_nobody else zh.NOT_IN_REACH
            raise await self._refuse(uow, viewer.id, command, who, reply.format(name=who[:30]))
        if len(found) > 1:
            lines = [
                zh.CANDIDATE.format(
                    id=c.roster_id, name=c.name, unit=c.unit_name, position=c.position or "—"
                )
                for c in found[:CANDIDATES_SHOWN]
            ]
            raise UsageError(
                zh.AMBIGUOUS_NAME.format(name=who, command=command) + "\n" + "\n".join(lines)
            )
        return found[0]

    async def _still_within(
        self, uow: UnitOfWork, viewer: Person, grounds: frozenset[Ground], command: str, pid: int
    ) -> PersonCard:
        """A button's person, checked again: access may have ended since the button was sent."""
        card = await uow.people.card_within(await self._reach(uow, viewer, grounds), pid)
        if card is None:
            # A forged button may name nobody: the trail names only a real person.
            subject = pid if await uow.people.get(pid) is not None else None
            raise await self._refuse(uow, viewer.id, command, "", zh.LOST_REACH, subject)
        return card

    def _period(self, text: str | None, default: str = "month") -> Period:
        today = self.today()
        if not text:
            return Period.containing(default, today)  # type: ignore[arg-type]
        period = parse_period(text, today)
        if period is None:
            raise UsageError(zh.BAD_PERIOD.format(text=text[:30]))
        if period.start > today:
            raise UsageError(zh.FUTURE_PERIOD.format(label=period.label))
        return period

    def is_period(self, text: str) -> bool:
        """Whether a word reads as a period (so /comments can tell it from a name)."""
        return parse_period(text, self.today()) is not None

    async def powers(self, person_id: int) -> Powers:
        """What the person may do now, from the database (roles may have changed)."""
        async with self.uow() as uow:
            person = await self.viewer(uow, person_id)
            reports = await uow.people.has_reports(person_id)
            roles = person.role_set
        return Powers(reports, Role.RATER in roles, Role.ADMIN in roles)

    # -- /team ----------------------------------------------------------------------------------

    async def team(
        self,
        viewer_id: int,
        period_text: str | None = None,
        page: int = 0,
        confirm: Confirm[TeamView] | None = None,
    ) -> TeamView:
        """Completeness of each direct report over a period, laggards first, one page."""
        period = self._period(period_text)
        today = self.today()
        async with self.uow() as uow:
            await self.viewer(uow, viewer_id)
            scope = PeopleScope(reports_of=viewer_id, active_only=True)
            cards = {card.id: card for card in await uow.people.cards_in(scope)}
            if not cards:
                raise await self._refuse(uow, viewer_id, "team", "", zh.NO_REPORTS)
            activity = await activity_in(uow, self.policy, scope, period, today, list(cards))
            logged_today = await uow.entries.logged_on(scope, today) if today in period else set()
            rows = sorted(
                (self._team_row(cards[pid], activity[pid], pid in logged_today) for pid in cards),
                key=_laggards_first,
            )
            size = self.rules.team_page_size
            pages = _pages(len(rows), size)
            page = min(max(page, 0), pages - 1)
            shown = tuple(rows[page * size : (page + 1) * size])
            await uow.audit.record_reads(
                self.clock.now(),
                viewer_id,
                [row.person.id for row in shown],
                "team",
                {"period": period.label, "page": page + 1},
            )
            view = TeamView(
                period,
                shown,
                page,
                pages,
                page * size,
                len(rows),
                len(logged_today),
                period.end >= today,
            )
            return await commit(uow, confirm, view, self.clock.now())

    @staticmethod
    def _team_row(card: PersonCard, activity: Activity, logged_today: bool) -> TeamRow:
        return TeamRow(card, activity.completeness, activity.counts, logged_today)

    # -- /review (调阅) -------------------------------------------------------------------------

    async def review(
        self,
        viewer_id: int,
        who: str,
        period_text: str | None = None,
        confirm: Confirm[ReviewView] | None = None,
    ) -> ReviewView:
        """A report's log over a period (default this month), first page or a file."""
        if not has_content(who):
            raise UsageError(zh.REVIEW_USAGE)
        period = self._period(period_text)
        async with self.uow() as uow:
            viewer = await self.viewer(uow, viewer_id)
            person = await self.resolve(uow, viewer, READ, "review", who)
            return await self._review(uow, viewer_id, person, period, 0, confirm)

    async def review_page(
        self,
        viewer_id: int,
        person_id: int,
        period_label: str | None,
        page: int,
        *,
        as_file: bool = True,
    ) -> ReviewView:
        """Another page of a review (◀ ▶, or the web page's drill-down); access is checked
        again. `as_file=False` pages even a long period (a web page has no file to send)."""
        period = self._period(period_label)
        async with self.uow() as uow:
            viewer = await self.viewer(uow, viewer_id)
            person = await self._still_within(uow, viewer, READ, "review", person_id)
            return await self._review(uow, viewer_id, person, period, page, None, as_file)

    async def _review(
        self,
        uow: UnitOfWork,
        viewer_id: int,
        person: PersonCard,
        period: Period,
        page: int,
        confirm: Confirm[ReviewView] | None,
        file_allowed: bool = True,
    ) -> ReviewView:
        today = self.today()
        entries = await uow.entries.for_review(person.id, period.start, period.end)
        absences = await uow.entries.absences(person.id, period.start, period.end)
        logged = {e.work_date for e in entries if not e.withdrawn}
        completeness = self.policy.completeness(period, logged, absences, today)
        as_file = file_allowed and len(entries) > self.rules.review_file_over
        size = self.rules.review_page_size
        pages = _pages(len(entries), size)
        page = min(max(page, 0), pages - 1)
        shown = list(entries) if as_file else list(entries[page * size : (page + 1) * size])
        await uow.audit.record_reads(
            self.clock.now(),
            viewer_id,
            [person.id],
            "review",
            {"period": period.label, "page": "file" if as_file else page + 1},
        )
        view = ReviewView(
            person,
            period,
            tuple(ReviewEntry(_entry_view(e), e.edited, decode(e.quality)) for e in shown),
            page,
            pages,
            len(entries),
            completeness,
            tuple(AbsenceView.of(a) for a in absences),
            as_file,
        )
        return await commit(uow, confirm, view, self.clock.now())

    # -- /check (抽查) --------------------------------------------------------------------------

    async def check(
        self, viewer_id: int, who: str | None = None, confirm: Confirm[CheckView] | None = None
    ) -> CheckView:
        """Draw and store a spot check of this month's entries of direct reports (or one)."""
        period = Period.containing("month", self.today())
        today = self.today()
        now = self.clock.now()
        async with self.uow() as uow:
            viewer = await self.viewer(uow, viewer_id)
            subject: PersonCard | None = None
            if who:
                subject = await self.resolve(uow, viewer, REPORTS_ONLY, "check", who)
                scope = PeopleScope(person_ids=(subject.id,))
            else:
                scope = PeopleScope(reports_of=viewer_id, active_only=True)
                if not await uow.people.has_reports(viewer_id):
                    raise await self._refuse(uow, viewer_id, "check", "", zh.NO_REPORTS)
            candidates = list(
                await uow.entries.live_in_scope(scope, period.start, today, CHECK_CANDIDATES)
            )
            if not candidates:
                raise NotFound(zh.CHECK_NOTHING.format(label=_month_label(period)))
            names = {c.id: c.name for c in await uow.people.cards_in(scope)}
            activity = await activity_in(uow, self.policy, scope, period, today, list(names))
            picked = self._sample(candidates, activity)
            check = SpotCheck(
                checker_id=viewer_id,
                subject_id=subject.id if subject else None,
                period=period.label,
                created_at=now,
            )
            await uow.review.add(check)
            items = [
                SpotCheckItem(
                    check_id=check.id,
                    entry_id=entry.id,
                    person_id=entry.person_id,
                    position=position,
                    reasons=",".join(reasons),
                )
                for position, (entry, reasons) in enumerate(picked, start=1)
            ]
            await uow.review.add_check_items(items)
            await uow.audit.record_reads(
                now,
                viewer_id,
                sorted({entry.person_id for entry, _ in picked}),
                "check",
                {"check_id": check.id, "period": period.label},
            )
            view = CheckView(
                check.id,
                period,
                subject.name if subject else None,
                tuple(
                    _item_view(item, names[entry.person_id], entry)
                    for item, (entry, _) in zip(items, picked, strict=True)
                ),
                len(candidates),
            )
            return await commit(uow, confirm, view, self.clock.now())

    def _sample(
        self, candidates: Sequence[LogEntry], activity: dict[int, Activity]
    ) -> list[tuple[LogEntry, tuple[str, ...]]]:
        """Weighted towards low completeness and weak entries; at most a few per person."""
        by_person: dict[int, list[str]] = {}
        for entry in candidates:
            by_person.setdefault(entry.person_id, []).append(entry.text)
        repeated = {pid: repeated_texts(texts) for pid, texts in by_person.items()}
        weights: list[float] = []
        reasons: list[tuple[str, ...]] = []
        for entry in candidates:
            weak = entry_weakness(
                entry.text,
                repeated=normalized(entry.text) in repeated[entry.person_id],
                short_chars=self.rules.check_short_chars,
            )
            rate = activity[entry.person_id].completeness.rate
            weights.append(check_weight(rate, weak, self.weights))
            why = sorted(weak)
            if rate is not None and rate < LOW_COMPLETENESS:
                why.append("low_completeness")
            reasons.append(tuple(why))
        positions = weighted_sample_capped(
            list(range(len(candidates))),
            weights,
            [entry.person_id for entry in candidates],
            self.rules.check_sample_size,
            self.rng,
            self.rules.check_max_per_person,
        )
        # Shown in the order of the log: by person, then day.
        positions.sort(
            key=lambda i: (candidates[i].person_id, candidates[i].work_date, candidates[i].item_no)
        )
        return [(candidates[i], reasons[i]) for i in positions]

    async def _own_item(
        self, uow: UnitOfWork, viewer: Person, item_id: int
    ) -> tuple[SpotCheckItem, SpotCheck, LogEntry]:
        found = await uow.review.check_item(item_id)
        if found is None or found[1].checker_id != viewer.id:
            raise NotFound(zh.STALE_BUTTON)
        await self._still_within(uow, viewer, REPORTS_ONLY, "check", found[0].person_id)
        return found

    async def verdict(self, viewer_id: int, item_id: int, verdict: Verdict) -> CheckView:
        """👍 / 👎 on a sampled entry; the check comes back for redrawing its message."""
        now = self.clock.now()
        async with self.uow() as uow:
            viewer = await self.viewer(uow, viewer_id)
            item, check, _ = await self._own_item(uow, viewer, item_id)
            if item.verdict != verdict.value:
                item.verdict = verdict.value
                item.verdict_at = now
            view = await self._check_view(uow, check)
            asked = next(i for i in view.items if i.item_id == item_id)
            await uow.commit()
        wanted = verdict is Verdict.POOR and asked.remark is None
        return CheckView(
            view.check_id,
            view.period,
            view.subject,
            view.items,
            view.candidates,
            asked if wanted else None,
        )

    async def _check_view(self, uow: UnitOfWork, check: SpotCheck) -> CheckView:
        items = await uow.review.check_items(check.id)
        scope = PeopleScope(person_ids=tuple({i.person_id for i in items}))
        names = {c.id: c.name for c in await uow.people.cards_in(scope)}
        views = []
        for item in items:
            entry = await uow.entries.get(item.entry_id)
            assert entry is not None
            views.append(_item_view(item, names[item.person_id], entry))
        subject = names.get(check.subject_id) if check.subject_id else None
        return CheckView(check.id, _parse_label(check.period), subject, tuple(views), 0)

    async def remark(
        self,
        viewer_id: int,
        item_id: int,
        text: str,
        confirm: Confirm[CheckItemView] | None = None,
    ) -> CheckItemView:
        """The problem the checker points out (指出问题) on a sampled entry; the cadre is told."""
        text = self._text(text, zh.REMARK_USAGE)
        now = self.clock.now()
        async with self.uow() as uow:
            viewer = await self.viewer(uow, viewer_id)
            item, _, entry = await self._own_item(uow, viewer, item_id)
            item.verdict = Verdict.POOR.value
            item.verdict_at = item.verdict_at or now
            item.remark = text
            item.remarked_at = now
            notice = zh.REMARK_TO_CADRE.format(
                checker=viewer.name,
                date=zh.md(entry.work_date),
                n=entry.item_no,
                entry=_short(entry.text),
                remark=text,
            )
            await uow.outbox.add(
                f"remark:{item.id}:{now.timestamp()}",
                "remark",
                notice,
                now,
                person_id=entry.person_id,
            )
            scope = PeopleScope(person_ids=(entry.person_id,))
            name = (await uow.people.cards_in(scope))[0].name
            return await commit(uow, confirm, _item_view(item, name, entry), self.clock.now())

    # -- /comment, /comments, /evaluate -------------------------------------------------------

    def _text(self, text: str, usage: str) -> str:
        text = " ".join(clean_text(text).split())
        if not has_content(text):
            raise UsageError(usage)
        if len(text) > self.rules.text_limit:
            raise UsageError(zh.REVIEW_TEXT_TOO_LONG.format(limit=self.rules.text_limit))
        return text

    async def comment(
        self,
        viewer_id: int,
        who: str,
        positive: bool,
        text: str,
        confirm: Confirm[CommentView] | None = None,
    ) -> CommentView:
        """A positive or negative comment (点评), kept on the lists and sent to the cadre."""
        text = self._text(text, zh.COMMENT_USAGE)
        now = self.clock.now()
        async with self.uow() as uow:
            viewer = await self.viewer(uow, viewer_id)
            person = await self.resolve(uow, viewer, COMMENT, "comment", who)
            row = Comment(
                author_id=viewer_id,
                subject_id=person.id,
                positive=positive,
                text=text,
                created_at=now,
            )
            await uow.review.add(row)
            template = zh.COMMENT_TO_CADRE_POSITIVE if positive else zh.COMMENT_TO_CADRE_NEGATIVE
            await uow.outbox.add(
                f"comment:{row.id}",
                "comment",
                template.format(author=viewer.name, text=text),
                now,
                person_id=person.id,
            )
            view = CommentView(row.id, viewer.name, person.name, positive, text, now)
            return await commit(uow, confirm, view, self.clock.now())

    async def comments(
        self,
        viewer_id: int,
        who: str | None,
        period_text: str | None = None,
        confirm: Confirm[CommentsView] | None = None,
    ) -> CommentsView:
        """正面清单 / 负面清单 over a period (default this year); one's own without a name."""
        period = self._period(period_text, default="year")
        tz = self.policy.rules.tz
        start = datetime.combine(period.start, time(), tz)
        end = datetime.combine(period.end + timedelta(days=1), time(), tz)
        async with self.uow() as uow:
            viewer = await self.viewer(uow, viewer_id)
            if who and who not in (viewer.name, viewer.roster_id):
                person = await self.resolve(uow, viewer, READ, "comments", who)
            else:  # no name, or one's own: one's own lists
                person = _card(viewer)
            rows = await uow.review.comments(person.id, start, end)
            authors = {
                c.id: c.name
                for c in await uow.people.cards_in(
                    PeopleScope(person_ids=tuple({r.author_id for r in rows}))
                )
            }
            views = [
                CommentView(
                    r.id, authors[r.author_id], person.name, r.positive, r.text, r.created_at
                )
                for r in rows
            ]
            view = CommentsView(
                person,
                period,
                own=person.id == viewer_id,
                positive=tuple(v for v in views if v.positive),
                negative=tuple(v for v in views if not v.positive),
            )
            if view.own:
                return view
            await uow.audit.record_reads(
                self.clock.now(), viewer_id, [person.id], "comments", {"period": period.label}
            )
            return await commit(uow, confirm, view, self.clock.now())

    async def evaluate(
        self,
        viewer_id: int,
        who: str,
        text: str,
        confirm: Confirm[EvaluationView] | None = None,
    ) -> EvaluationView:
        """领导评鉴 on a direct report's 5+2 form this quarter; a new text replaces the old."""
        text = self._text(text, zh.EVALUATE_USAGE)
        quarter = Period.containing("quarter", self.today()).label
        now = self.clock.now()
        async with self.uow() as uow:
            viewer = await self.viewer(uow, viewer_id)
            person = await self.resolve(uow, viewer, REPORTS_ONLY, "evaluate", who)
            current = await uow.review.evaluation(person.id, quarter)
            replaced = False
            if current is None:
                await uow.review.add(
                    Evaluation(
                        subject_id=person.id,
                        quarter=quarter,
                        author_id=viewer_id,
                        text=text,
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif current.text != text or current.author_id != viewer_id:
                await uow.audit.record(
                    now,
                    "evaluation_replaced",
                    actor_person_id=viewer_id,
                    subject_person_id=person.id,
                    command="evaluate",
                    detail={"quarter": quarter, "before": current.text, "after": text},
                )
                current.text, current.author_id, current.updated_at = text, viewer_id, now
                replaced = True
            view = EvaluationView(person, quarter, text, replaced)
            return await commit(uow, confirm, view, self.clock.now())


def _laggards_first(row: TeamRow) -> tuple[float, int, str]:
    rate = row.completeness.rate
    return (2.0 if rate is None else rate, -len(row.completeness.missing), row.person.roster_id)


def _item_view(item: SpotCheckItem, name: str, entry: LogEntry) -> CheckItemView:
    return CheckItemView(
        item.id,
        item.position,
        name,
        EntryView.of(entry),
        tuple(r for r in item.reasons.split(",") if r),
        Verdict(item.verdict) if item.verdict else None,
        item.remark,
    )


def _entry_view(row: ReviewedEntry) -> EntryView:
    return EntryView(
        row.id,
        row.work_date,
        row.item_no,
        row.text,
        EntryKind(row.kind),
        row.collaborator,
        row.is_late,
        row.is_overlong,
        row.withdrawn,
    )


def _parse_label(label: str) -> Period:
    period = parse_period(label, date.max)
    assert period is not None, label
    return period


def _month_label(period: Period) -> str:
    return f"{period.start.year}年{period.start.month}月"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
