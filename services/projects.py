"""Projects (项目) from the chat: a cadre's projects, progress updates, and stale reminders.

A progress update (/progress, the web page) names a project by its name, an alias (简称) or
a unique prefix; only its members, its secretary (项目秘书) and its leader (牵头领导) may
report on it. The update is also the day's log entry, linked to the project, so reporting
progress is one message (日报计划、周报小结、月报总结 in the chat, `002_…txt`). It may carry
the investment completed to date ("累计完成投资 3.2亿") and a stage change ("已投产"); the
investment never goes down, and a stage moves backwards only with a reason ("原因：…").
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from scoring.projects import (
    OPEN_STAGES,
    ProjectRules,
    Silence,
    Stage,
    find_investment,
    find_reason,
    find_stage,
    format_amount,
    silence,
    stage_backwards,
)
from scoring.text import clean_text, has_content
from services import zh
from services.clock import Clock
from services.entries import COMMAND_TEXT_LIMIT, EntryService, EntrySource, LogPolicy
from services.errors import NotAllowed, NotFound, UsageError
from services.outbox import Confirm, commit
from services.reminders import JobOutcome
from storage.models import Channel, PendingChoice, Project, ProjectUpdate
from storage.projects import split_aliases
from storage.uow import UnitOfWork, UowFactory

# An ambiguous name offers at most this many projects as buttons.
CHOICES_SHOWN = 8
# A choice not tapped within this time is gone; the cadre sends the update again.
CHOICE_TTL = timedelta(hours=24)
# An unmistakable cue for the investment to date followed by something number-like: when
# that cannot be read ("三点二亿", "3000多万"), the update is refused rather than stored
# without its figure. Softer cues ("完成投资" after 计划) are left to find_investment.
_INVESTMENT_ATTEMPT = re.compile(
    r"(?<![计预拟争力目未应需])(?:累计完成投资|累计投资|已完成投资)[\s:：]*(?:到|达|为|约)?\s*"
    r"[0-9０-９.．一二两三四五六七八九十百千万亿零〇]"
)
CHOICE_KIND = "progress"


@dataclass(frozen=True)
class ProjectCard:
    """One of a cadre's projects as /projects lists it."""

    id: int
    name: str
    stage: Stage
    planned_yuan: int | None
    completed_yuan: int | None
    role: str  # leader / secretary / member
    last_update_on: date | None
    last_text: str | None
    silent_days: int  # days since the last update (or since it entered the ledger)
    stale: bool

    @property
    def progress_percent(self) -> int | None:
        if not self.planned_yuan or self.completed_yuan is None:
            return None
        return round(self.completed_yuan * 100 / self.planned_yuan)


@dataclass(frozen=True)
class ProjectList:
    projects: tuple[ProjectCard, ...]
    stale_days: int


@dataclass(frozen=True)
class ProgressView:
    """A stored progress update: the project, the log entry it also is, what changed."""

    project: str
    work_date: date
    item_no: int
    stage_before: Stage
    stage_after: Stage | None
    completed_yuan: int | None
    previous_yuan: int | None
    planned_yuan: int | None
    replayed: bool = False


@dataclass(frozen=True)
class ProjectChoice:
    """The name fitted several projects: the cadre taps one (the buttons carry `choice_id`)."""

    choice_id: int
    typed: str
    candidates: tuple[tuple[int, str], ...]


ProgressOutcome = ProgressView | ProjectChoice


@dataclass(frozen=True)
class _Report:
    """A progress update read from the cadre's text, before the project is known."""

    text: str
    completed_yuan: int | None
    stage: Stage | None
    reason: str | None


def matching(projects: Sequence[Project], typed: str) -> list[Project]:
    """The projects a typed name means: an exact name or alias first, else a prefix of one."""
    wanted = typed.casefold()

    def names(project: Project) -> list[str]:
        return [project.name.casefold(), *(a.casefold() for a in split_aliases(project.aliases))]

    exact = [p for p in projects if wanted in names(p)]
    if exact:
        return exact
    return [p for p in projects if any(n.startswith(wanted) for n in names(p))]


def read_report(text: str) -> _Report:
    """The update's text with the investment to date, a stage change and a reason in it."""
    text = " ".join(clean_text(text).split())
    if not has_content(text):
        raise UsageError(zh.PROGRESS_USAGE)
    if len(text) > COMMAND_TEXT_LIMIT:
        raise UsageError(zh.TOO_LONG_COMMAND.format(limit=COMMAND_TEXT_LIMIT))
    completed = find_investment(text)
    if completed is None and _INVESTMENT_ATTEMPT.search(text):
        raise UsageError(zh.PROGRESS_BAD_INVESTMENT)
    return _Report(text, completed, find_stage(text), find_reason(text))


class ProjectService:
    """What cadres do with their projects from the chat or the web page."""

    def __init__(
        self,
        uow: UowFactory,
        clock: Clock,
        policy: LogPolicy,
        entries: EntryService,
        rules: ProjectRules,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.entries = entries
        self.rules = rules

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    def _silence(self, project: Project, today: date) -> Silence:
        tz = self.policy.rules.tz
        last = project.last_update_at
        return silence(
            Stage(project.stage),
            last.astimezone(tz).date() if last else None,
            project.created_at.astimezone(tz).date(),
            today,
            self.rules.stale_days,
        )

    # -- /projects -----------------------------------------------------------------------------

    async def choices(self, person_id: int) -> list[tuple[int, str]]:
        """(id, name) of the projects a cadre may link an entry to (the web form's picker)."""
        async with self.uow() as uow:
            return [
                (project.id, project.name) for project in await uow.projects.involving(person_id)
            ]

    async def mine(self, person_id: int) -> ProjectList:
        """The projects the cadre leads, is secretary of or works on, stale ones marked."""
        today = self.today()
        async with self.uow() as uow:
            projects = await uow.projects.involving(person_id)
            texts = await uow.projects.last_texts([p.id for p in projects])
        cards = []
        for project in projects:
            quiet = self._silence(project, today)
            role = (
                "leader"
                if project.leader_id == person_id
                else "secretary"
                if project.secretary_id == person_id
                else "member"
            )
            cards.append(
                ProjectCard(
                    project.id,
                    project.name,
                    Stage(project.stage),
                    project.planned_yuan,
                    project.completed_yuan,
                    role,
                    quiet.last_update_on,
                    texts.get(project.id),
                    quiet.days,
                    quiet.stale,
                )
            )
        # The stale ones first: they are what the cadre should report on.
        cards.sort(key=lambda c: (not c.stale, c.name))
        return ProjectList(tuple(cards), self.rules.stale_days)

    # -- /progress -----------------------------------------------------------------------------

    async def progress(
        self,
        person_id: int,
        typed: str,
        text: str,
        source: EntrySource,
        confirm: Confirm[ProgressOutcome] | None = None,
    ) -> ProgressOutcome:
        """Record a progress update on the project `typed` names; several fit: a choice."""
        typed = " ".join(clean_text(typed).split())
        if not has_content(typed):
            raise UsageError(zh.PROGRESS_USAGE)
        report = read_report(text)
        async with self.uow() as uow:
            found = matching(await uow.projects.named_like(typed[:200]), typed)
            if not found:
                raise NotFound(zh.PROGRESS_UNKNOWN.format(name=typed[:30]))
            if len(found) > 1:
                own = await uow.projects.involving_ids(person_id, [p.id for p in found])
                mine = [p for p in found if p.id in own]
                found = mine if len(mine) == 1 else found
            if len(found) > 1:
                shown = found[:CHOICES_SHOWN]
                payload = {
                    "text": report.text,
                    "channel": source.channel.value,
                    "key": source.key,
                    "sent_at": source.sent_at.isoformat(),
                }
                choice_id = await uow.projects.add_choice(
                    PendingChoice(
                        person_id=person_id,
                        kind=CHOICE_KIND,
                        payload=json.dumps(payload, ensure_ascii=False),
                        options=json.dumps([p.id for p in shown]),
                        created_at=self.clock.now(),
                    )
                )
                choice = ProjectChoice(choice_id, typed, tuple((p.id, p.name) for p in shown))
                return await commit(uow, confirm, choice, self.clock.now())
            return await self._record(uow, person_id, found[0].id, report, source, confirm)

    async def choose(
        self,
        person_id: int,
        choice_id: int,
        project_id: int,
        confirm: Confirm[ProgressOutcome] | None = None,
    ) -> ProgressOutcome:
        """Finish a progress update whose project the cadre tapped among the candidates."""
        async with self.uow() as uow:
            choice = await uow.projects.choice(choice_id)
            if (
                choice is None
                or choice.person_id != person_id
                or choice.kind != CHOICE_KIND
                or project_id not in json.loads(choice.options)
                or self.clock.now() - choice.created_at > CHOICE_TTL
            ):
                raise NotFound(zh.PROGRESS_CHOICE_GONE)
            payload = json.loads(choice.payload)
            await uow.projects.drop_choice(choice_id)
            source = EntrySource(
                Channel(payload["channel"]),
                payload["key"],
                datetime.fromisoformat(payload["sent_at"]),
            )
            report = read_report(payload["text"])
            return await self._record(uow, person_id, project_id, report, source, confirm)

    async def _record(
        self,
        uow: UnitOfWork,
        person_id: int,
        project_id: int,
        report: _Report,
        source: EntrySource,
        confirm: Confirm[ProgressOutcome] | None,
    ) -> ProgressView:
        project = await uow.projects.lock(project_id)
        if project is None:  # removed from the ledger since the choice was offered
            raise NotFound(zh.PROGRESS_CHOICE_GONE)
        if not await uow.projects.involved(project, person_id):
            raise NotAllowed(zh.PROGRESS_NOT_MEMBER.format(name=project.name))
        stage = Stage(project.stage)
        previous = project.completed_yuan
        if (
            report.completed_yuan is not None
            and previous is not None
            and report.completed_yuan < previous
        ):
            raise UsageError(
                zh.PROGRESS_INVESTMENT_DOWN.format(
                    amount=format_amount(report.completed_yuan), previous=format_amount(previous)
                )
            )
        new_stage = report.stage if report.stage is not stage else None
        if new_stage is not None and stage_backwards(stage, new_stage) and not report.reason:
            raise UsageError(
                zh.PROGRESS_STAGE_BACK.format(
                    before=stage.word, after=new_stage.word, name=project.name
                )
            )
        now = self.clock.now()
        work_date = self.policy.work_date(source.sent_at)
        [entry] = self.entries.new_entries(person_id, work_date, [report.text], source)
        entry.project_id = project.id
        if not await uow.entries.insert_numbered([entry]):
            # The same message reached us twice: show what was stored the first time.
            assert source.key is not None
            stored = (await uow.entries.from_source(source.channel, source.key))[0]
            view = ProgressView(
                project.name,
                stored.work_date,
                stored.item_no,
                stage,
                None,
                project.completed_yuan,
                None,
                project.planned_yuan,
                replayed=True,
            )
            return await commit(uow, confirm, view, now)
        await uow.projects.add_update(
            ProjectUpdate(
                project_id=project.id,
                person_id=person_id,
                at=now,
                work_date=work_date,
                text=report.text,
                completed_yuan=report.completed_yuan,
                stage_before=stage.value if new_stage else None,
                stage_after=new_stage.value if new_stage else None,
                reason=report.reason if new_stage else None,
                entry_id=entry.id,
                source=source.channel.value,
            )
        )
        if report.completed_yuan is not None:
            project.completed_yuan = report.completed_yuan
        if new_stage is not None:
            project.stage = new_stage.value
            if new_stage is Stage.BUILDING and project.started_on is None:
                project.started_on = work_date
            if new_stage is Stage.ABOVE_SCALE and project.above_scale_on is None:
                project.above_scale_on = work_date
        project.last_update_at = now
        project.updated_at = now
        await uow.projects.flush()
        view = ProgressView(
            project.name,
            work_date,
            entry.item_no,
            stage,
            new_stage,
            report.completed_yuan,
            previous,
            project.planned_yuan,
        )
        return await commit(uow, confirm, view, now)

    # -- the stale-project reminder ------------------------------------------------------------

    async def remind_stale(self) -> JobOutcome:
        """Remind the secretary (or, without one, the leader) of every project that has not
        reported for more than `stale_days`; once per such stretch of days."""
        now = self.clock.now()
        today = self.today()
        if not self.policy.calendar.is_working_day(today):
            return JobOutcome("project-stale", today.isoformat(), 0, zh.JOB_NOTE_NOT_WORKING_DAY)
        days = self.rules.stale_days
        # Anything last heard of before this day is stale today.
        cutoff_day = today - timedelta(days=days)
        cutoff = datetime.combine(cutoff_day, datetime.min.time(), self.policy.rules.tz)
        async with self.uow() as uow:
            stale = await uow.projects.stale(cutoff, [s.value for s in OPEN_STAGES])
            messages = []
            for project in stale:
                to = project.secretary_id or project.leader_id
                if to is None:
                    continue
                quiet = self._silence(project, today)
                # One reminder per `days` of silence: the key names the stretch.
                stretch = quiet.days // days
                key = f"project-stale:{project.id}:{quiet.since.isoformat()}:{stretch}"
                text = zh.PROJECT_STALE_REMINDER.format(name=project.name, days=quiet.days)
                messages.append((key, to, text))
            await uow.outbox.add_to_people(messages, "project-stale", now)
            await uow.projects.drop_choices_before(now - CHOICE_TTL)
            await uow.commit()
        note = zh.JOB_NOTE_STALE.format(count=len(stale), sent=len(messages))
        return JobOutcome("project-stale", today.isoformat(), len(messages), note)
