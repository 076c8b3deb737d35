"""The project ledger's repository: projects, members, progress updates, pending choices.

Never commits. A city's ledger holds hundreds to a few thousand projects, so whole-ledger
reads (the import, the export, the quarter's score, the staleness sweep) load it at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    PendingChoice,
    Person,
    Project,
    ProjectMember,
    ProjectUpdate,
    Unit,
)
from storage.repositories import CHUNK, _dialect, like_pattern

ALIAS_SEPARATOR = ";"


def split_aliases(stored: str) -> tuple[str, ...]:
    return tuple(a for a in stored.split(ALIAS_SEPARATOR) if a)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """A project with the names its 五个一 point to, as lists and the export show it."""

    project: Project
    unit_name: str | None
    leader: tuple[str, str] | None  # (roster id, name)
    secretary: tuple[str, str] | None
    members: tuple[tuple[str, str], ...]
    last_update_text: str | None


@dataclass(frozen=True, slots=True)
class UpdateFact:
    """One progress update as the quarter's score reads it."""

    project_id: int
    work_date: date
    completed_yuan: int | None
    stage_before: str | None
    stage_after: str | None
    by_person: bool  # reported by a cadre (not written by a ledger import)


class ProjectRepository:
    """Reads and writes of the ledger; flushes when ids are needed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- one project ---------------------------------------------------------------------------

    async def lock(self, project_id: int) -> Project | None:
        """The project, locked until commit on PostgreSQL: two updates of one project (the
        investment may only grow) are decided one after the other. SQLite's units of work
        already take turns in-process."""
        query = select(Project).where(Project.id == project_id)
        if _dialect(self.session) == "postgresql":
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def involved(self, project: Project, person_id: int) -> bool:
        """Whether the person is the project's leader, secretary or one of its members."""
        if person_id in (project.leader_id, project.secretary_id):
            return True
        member = await self.session.scalar(
            select(ProjectMember.id).where(
                ProjectMember.project_id == project.id, ProjectMember.person_id == person_id
            )
        )
        return member is not None

    async def is_progress_entry(self, entry_id: int) -> bool:
        """Whether a log entry is a progress update's (its project was named, not found)."""
        found = await self.session.scalar(
            select(ProjectUpdate.id).where(ProjectUpdate.entry_id == entry_id).limit(1)
        )
        return found is not None

    async def add_update(self, update_row: ProjectUpdate) -> None:
        self.session.add(update_row)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()

    # -- finding projects by name --------------------------------------------------------------

    def _involving(self, person_id: int) -> Any:
        members = select(ProjectMember.project_id).where(ProjectMember.person_id == person_id)
        return or_(
            Project.leader_id == person_id,
            Project.secretary_id == person_id,
            Project.id.in_(members),
        )

    async def involving(self, person_id: int) -> list[Project]:
        """The projects a person leads, is secretary of or works on, by name."""
        rows = await self.session.scalars(
            select(Project).where(self._involving(person_id)).order_by(Project.name)
        )
        return list(rows)

    async def involving_ids(self, person_id: int, project_ids: Collection[int]) -> set[int]:
        if not project_ids:
            return set()
        rows = await self.session.scalars(
            select(Project.id).where(Project.id.in_(project_ids), self._involving(person_id))
        )
        return set(rows)

    async def named_like(self, text: str) -> list[Project]:
        """Projects whose name or one of whose aliases starts with `text` (case-insensitive
        where it matters: ASCII names)."""
        pattern = like_pattern(text)
        rows = await self.session.scalars(
            select(Project)
            .where(
                or_(
                    func.lower(Project.name).like(pattern.lower() + "%", escape="\\"),
                    func.lower(Project.aliases).like("%" + pattern.lower() + "%", escape="\\"),
                )
            )
            .order_by(Project.name)
        )
        return list(rows)

    async def terms(self) -> list[tuple[str, str]]:
        """Every project's name and stored aliases: the words the log's text is matched on."""
        rows = await self.session.execute(select(Project.name, Project.aliases))
        return [(name, aliases) for name, aliases in rows]

    async def by_terms(self, terms: Collection[str]) -> dict[str, list[int]]:
        """The projects each term names exactly (as its name or one of its aliases)."""
        found: dict[str, list[int]] = defaultdict(list)
        if not terms:
            return found
        wanted = set(terms)
        conditions = [Project.name.in_(wanted)]
        conditions.extend(Project.aliases.like(f"%{term}%") for term in wanted)
        rows = await self.session.execute(
            select(Project.id, Project.name, Project.aliases).where(or_(*conditions))
        )
        for project_id, name, aliases in rows:
            for term in {name, *split_aliases(aliases)} & wanted:
                found[term].append(project_id)
        return found

    async def names(self, project_ids: Collection[int]) -> dict[int, str]:
        if not project_ids:
            return {}
        rows = await self.session.execute(
            select(Project.id, Project.name).where(Project.id.in_(project_ids))
        )
        return dict(rows.tuples().all())

    # -- ledger views --------------------------------------------------------------------------

    async def ledger(self) -> list[LedgerRow]:
        """Every project, by name, with its 五个一 names, members and last update's text, in
        a few set-based queries."""
        projects = list(await self.session.scalars(select(Project).order_by(Project.name)))
        ids = [p.id for p in projects]
        people_ids = {pid for p in projects for pid in (p.leader_id, p.secretary_id) if pid}
        members: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for start in range(0, len(ids), CHUNK):
            rows = await self.session.execute(
                select(ProjectMember.project_id, Person.roster_id, Person.name)
                .join(Person, Person.id == ProjectMember.person_id)
                .where(ProjectMember.project_id.in_(ids[start : start + CHUNK]))
                .order_by(ProjectMember.project_id, Person.roster_id)
            )
            for project_id, roster_id, name in rows:
                members[project_id].append((roster_id, name))
        people = await self._people(people_ids)
        unit_ids = {p.unit_id for p in projects if p.unit_id}
        units = await self._units(unit_ids)
        last = await self.last_texts(ids)
        return [
            LedgerRow(
                project,
                units.get(project.unit_id) if project.unit_id else None,
                people.get(project.leader_id) if project.leader_id else None,
                people.get(project.secretary_id) if project.secretary_id else None,
                tuple(members.get(project.id, ())),
                last.get(project.id),
            )
            for project in projects
        ]

    async def _people(self, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        found: dict[int, tuple[str, str]] = {}
        ids = list(ids)
        for start in range(0, len(ids), CHUNK):
            rows = await self.session.execute(
                select(Person.id, Person.roster_id, Person.name).where(
                    Person.id.in_(ids[start : start + CHUNK])
                )
            )
            found.update({pid: (roster_id, name) for pid, roster_id, name in rows})
        return found

    async def _units(self, ids: Iterable[int]) -> dict[int, str]:
        ids = list(ids)
        if not ids:
            return {}
        rows = await self.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
        return dict(rows.tuples().all())

    async def last_texts(self, project_ids: Sequence[int]) -> dict[int, str]:
        """The text of each project's latest progress update."""
        found: dict[int, str] = {}
        latest = (
            select(ProjectUpdate.project_id, func.max(ProjectUpdate.id).label("last_id"))
            .group_by(ProjectUpdate.project_id)
            .subquery()
        )
        for start in range(0, len(project_ids), CHUNK):
            rows = await self.session.execute(
                select(ProjectUpdate.project_id, ProjectUpdate.text)
                .join(latest, latest.c.last_id == ProjectUpdate.id)
                .where(ProjectUpdate.project_id.in_(project_ids[start : start + CHUNK]))
            )
            found.update(dict(rows.tuples().all()))
        return found

    async def all_projects(self) -> list[Project]:
        return list(await self.session.scalars(select(Project).order_by(Project.id)))

    async def updates(self) -> list[UpdateFact]:
        """Every progress update, oldest first (a ledger's history is small: a few per
        project and week)."""
        rows = await self.session.execute(
            select(
                ProjectUpdate.project_id,
                ProjectUpdate.work_date,
                ProjectUpdate.completed_yuan,
                ProjectUpdate.stage_before,
                ProjectUpdate.stage_after,
                ProjectUpdate.person_id.is_not(None),
            ).order_by(ProjectUpdate.work_date, ProjectUpdate.id)
        )
        return [UpdateFact(*row) for row in rows]

    async def stale(self, before: datetime, open_stages: Collection[str]) -> list[Project]:
        """Projects still under way whose last update (or entry into the ledger) is older
        than `before`."""
        last = func.coalesce(Project.last_update_at, Project.created_at)
        rows = await self.session.scalars(
            select(Project)
            .where(Project.stage.in_(open_stages), last < before)
            .order_by(Project.id)
        )
        return list(rows)

    async def units_by_name(self) -> dict[str, int]:
        rows = await self.session.execute(select(Unit.name, Unit.id))
        return dict(rows.tuples().all())

    async def people_by_roster_id(self) -> dict[str, tuple[int, bool]]:
        """Every roster id with its person id and whether the person is still active."""
        rows = await self.session.execute(select(Person.roster_id, Person.id, Person.active))
        return {roster_id: (pid, active) for roster_id, pid, active in rows}

    async def by_name(self) -> dict[str, Project]:
        return {p.name: p for p in await self.session.scalars(select(Project))}

    async def members_of(self, project_ids: Collection[int]) -> dict[int, set[int]]:
        found: dict[int, set[int]] = defaultdict(set)
        ids = list(project_ids)
        for start in range(0, len(ids), CHUNK):
            rows = await self.session.execute(
                select(ProjectMember.project_id, ProjectMember.person_id).where(
                    ProjectMember.project_id.in_(ids[start : start + CHUNK])
                )
            )
            for project_id, person_id in rows:
                found[project_id].add(person_id)
        return found

    async def add_projects(self, projects: Sequence[Project]) -> None:
        self.session.add_all(projects)
        await self.session.flush()

    async def set_members(self, changes: Mapping[int, tuple[set[int], set[int]]]) -> None:
        """Per project: (person ids to add, person ids to remove)."""
        added = [
            {"project_id": project_id, "person_id": person_id}
            for project_id, (adds, _) in changes.items()
            for person_id in sorted(adds)
        ]
        for start in range(0, len(added), CHUNK):
            await self.session.execute(insert(ProjectMember), added[start : start + CHUNK])
        removed = [
            (project_id, person_id)
            for project_id, (_, removes) in changes.items()
            for person_id in sorted(removes)
        ]
        for start in range(0, len(removed), CHUNK):
            await self.session.execute(
                delete(ProjectMember).where(
                    tuple_(ProjectMember.project_id, ProjectMember.person_id).in_(
                        removed[start : start + CHUNK]
                    )
                )
            )

    async def add_updates(self, rows: Sequence[ProjectUpdate]) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    # -- pending choices -----------------------------------------------------------------------

    async def add_choice(self, choice: PendingChoice) -> int:
        self.session.add(choice)
        await self.session.flush()
        return choice.id

    async def choice(self, choice_id: int) -> PendingChoice | None:
        return await self.session.get(PendingChoice, choice_id)

    async def drop_choice(self, choice_id: int) -> None:
        await self.session.execute(delete(PendingChoice).where(PendingChoice.id == choice_id))

    async def drop_choices_before(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(PendingChoice).where(PendingChoice.created_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
