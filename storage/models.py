"""SQLAlchemy models: the roster, log entries and their history, the audit log, inbox and outbox."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Role(enum.StrEnum):
    """What a roster person may do; a person can hold several roles."""

    CADRE = "cadre"
    SUPERVISOR = "supervisor"
    RATER = "rater"  # 党委/党组: rates the unit's cadres
    ADMIN = "admin"  # 组织部 / 考核办


class EntryKind(enum.StrEnum):
    """日常工作 / 其他工作 / 八小时外."""

    REGULAR = "regular"
    OTHER = "other"
    AFTER_HOURS = "after_hours"


class Channel(enum.StrEnum):
    """Where an entry was written; its source key is unique within the channel."""

    TELEGRAM = "telegram"
    WEB = "web"
    CLI = "cli"


class AbsenceKind(enum.StrEnum):
    """请假 / 出差 / 培训 / 会议 / 其他: why days are excused."""

    LEAVE = "leave"
    TRIP = "trip"
    TRAINING = "training"
    MEETING = "meeting"
    OTHER = "other"


class InboxStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Unit(Base):
    """A unit (单位) of the city; units form a tree."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # The unit category (单位类别, e.g. 经济发展类 / 执法服务类): grades rank within it.
    category: Mapped[str | None] = mapped_column(String(100))


class Person(Base):
    """A roster person (干部); `supervisor_id` is the direct superior (下管一级)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    roster_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    position: Mapped[str] = mapped_column(String(200), default="")
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    roles: Mapped[str] = mapped_column(String(100), default=Role.CADRE.value)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Set when Telegram refused a message because this person blocked the bot.
    bot_blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The cadre's own daily reminder time (local), None = the configured default.
    remind_at: Mapped[time | None] = mapped_column(Time())
    # The cadre turned the second (later) daily nudge off.
    second_nudge_muted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The first day on the roster (到岗日期): earlier working days are not due. None = always.
    joined_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship(lazy="joined")

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r) for r in self.roles.split(",") if r)


class Invite(Base):
    """A single-use, expiring deep-link token that binds a Telegram account to a person."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)


class LogEntry(Base):
    """One log item (一事一记). Never deleted: withdrawal and edits keep history."""

    __tablename__ = "log_entries"
    __table_args__ = (
        UniqueConstraint("person_id", "work_date", "item_no"),
        # A replayed message finds its entries by this key instead of storing them again.
        UniqueConstraint("channel", "source_key", "source_part"),
        # Period reads over many people (a team, a unit, the city) scan by date.
        Index("ix_log_entries_work_date_person", "work_date", "person_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    work_date: Mapped[date] = mapped_column(Date)
    # Stable number within the day, shown to the cadre; withdrawn entries keep theirs.
    item_no: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default=EntryKind.REGULAR.value)
    collaborator: Mapped[str | None] = mapped_column(String(200))  # 合作者或服务对象
    # The project (项目) the item is about: named by /progress or found in the text.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    is_late: Mapped[bool] = mapped_column(Boolean, default=False)  # 补记
    is_overlong: Mapped[bool] = mapped_column(Boolean, default=False)
    attachment_file_id: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(10))
    # The message within the channel ("chat:message" on Telegram); part = item of that message.
    source_key: Mapped[str | None] = mapped_column(String(100))
    source_part: Mapped[int | None] = mapped_column(Integer)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    # Quality flags set by the nightly check, comma-separated (scoring.quality): "" = checked,
    # nothing found; None = not checked yet. Flags never delete or change the entry.
    quality: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EntryHistory(Base):
    """Who changed an entry, when, and what it was before and after (可核查)."""

    __tablename__ = "entry_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("log_entries.id"), index=True)
    changed_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(20))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)


class Reflection(Base):
    """心得体会 for one work day; a new text replaces the old, which stays in the audit log."""

    __tablename__ = "reflections"
    __table_args__ = (UniqueConstraint("person_id", "work_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    work_date: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Absence(Base):
    """Excused days (leave, business trip, training, meeting): not counted as missing."""

    __tablename__ = "absences"
    __table_args__ = (Index("ix_absences_person_start", "person_id", "start_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(
        String(10), default=AbsenceKind.OTHER.value, server_default=AbsenceKind.OTHER.value
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditLog(Base):
    """Append-only record of bindings, refusals and reads of other people's logs.

    A read of someone else's log is action "read" (a refused attempt "read_refused") with
    the command it came through; `worklog audit` prints the trail by person and date.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    action: Mapped[str] = mapped_column(String(50), index=True)
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    subject_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    # The command or page the action came through ("review", "team", "web:review", ...).
    command: Mapped[str | None] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")


class SpotCheck(Base):
    """A recorded spot check (抽查): who checked, when, over which period and (optionally) whom."""

    __tablename__ = "spot_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checker_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    # The one report checked, or None when the sample was drawn from the whole team.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    period: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SpotCheckItem(Base):
    """One sampled entry of a spot check and what the checker said about it (指出问题)."""

    __tablename__ = "spot_check_items"
    __table_args__ = (UniqueConstraint("check_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("spot_checks.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("log_entries.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # the number shown in the check, from 1
    # Why the sample leaned towards it ("short,generic,repeated,low_completeness"), may be "".
    reasons: Mapped[str] = mapped_column(String(100), default="")
    verdict: Mapped[str | None] = mapped_column(String(10))  # "good" / "poor"
    verdict_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remark: Mapped[str | None] = mapped_column(Text)
    remarked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Comment(Base):
    """A supervisor's positive or negative comment (点评), kept on 正面清单 / 负面清单."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_subject_created", "subject_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    positive: Mapped[bool] = mapped_column(Boolean)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Evaluation(Base):
    """领导评鉴: the supervisor's evaluation on a cadre's quarterly 5+2 form, one per quarter."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("subject_id", "quarter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    quarter: Mapped[str] = mapped_column(String(8))  # "2026Q4"
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Rating(Base):
    """The party committee's rating (实绩评价 好/较好/一般/差) of a cadre for one quarter.

    `unit_id` is the unit whose 好 quota the rating counts against (the cadre's unit when rated).
    """

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("person_id", "quarter"),
        Index("ix_ratings_unit_quarter", "unit_id", "quarter"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    quarter: Mapped[str] = mapped_column(String(8))  # "2026Q4"
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    grade: Mapped[str] = mapped_column(String(10))  # scoring.grades.Rating value
    rater_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RatingCap(Base):
    """A unit's own 好 cap for one quarter (e.g. 60–80 % for a top-ranked unit), in percent."""

    __tablename__ = "rating_caps"
    __table_args__ = (UniqueConstraint("unit_id", "quarter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    quarter: Mapped[str] = mapped_column(String(8))
    percent: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Project(Base):
    """A project (项目) of the ledger (台账): stage, investment, the 五个一 and scoring flags.

    Amounts are whole yuan (the ledger shows 万元 / 亿元). Stage is scoring.projects.Stage:
    储备 → 在建 → 投产 → 入规. The 五个一: one leader (牵头领导), one responsible unit (责任单位),
    one task force (工作专班) and one project secretary (项目秘书).
    """

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Short names cadres type (简称), ";"-separated.
    aliases: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(50), default="")  # 工业 / 技改 / 服务业 / 文旅 …
    stage: Mapped[str] = mapped_column(String(12))
    planned_yuan: Mapped[int | None] = mapped_column(BigInteger)  # 计划投资
    completed_yuan: Mapped[int | None] = mapped_column(BigInteger)  # 累计完成投资, latest
    signed_on: Mapped[date | None] = mapped_column(Date)  # 签约日期
    started_on: Mapped[date | None] = mapped_column(Date)  # 开工(入库)日期
    expected_on: Mapped[date | None] = mapped_column(Date)  # 预计竣工(投产)日期
    above_scale_on: Mapped[date | None] = mapped_column(Date)  # the day it reached 入规
    # scoring.projects.KeyLevel (province 省重点 / city 市重点) and Investor (world500 世界500强 /
    # china500 中国500强 / listed 上市公司) values.
    key_level: Mapped[str | None] = mapped_column(String(10))
    investor: Mapped[str | None] = mapped_column(String(10))
    headquarters: Mapped[bool] = mapped_column(Boolean, default=False)  # 总部经济
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)  # 省领导督办
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    task_force: Mapped[str | None] = mapped_column(String(200))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # The last progress update (None: none since it entered the ledger at created_at).
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProjectMember(Base):
    """A cadre working on a project (成员): members, the secretary and the leader may report."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)


class ProjectUpdate(Base):
    """A progress update (进展): the text, and the investment to date and stage it reported.

    Written by /progress (and the web page) with the log entry it also is, or by an import
    that changed the stage or the investment (person None).
    """

    __tablename__ = "project_updates"
    __table_args__ = (Index("ix_project_updates_project_at", "project_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    work_date: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    completed_yuan: Mapped[int | None] = mapped_column(BigInteger)  # 累计完成投资, if reported
    stage_before: Mapped[str | None] = mapped_column(String(12))
    stage_after: Mapped[str | None] = mapped_column(String(12))  # None: no stage change
    reason: Mapped[str | None] = mapped_column(Text)  # why a stage moved backwards
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("log_entries.id"))
    source: Mapped[str] = mapped_column(String(10))  # telegram / web / import


class PendingChoice(Base):
    """A request waiting for the user to tap one of several buttons (e.g. which project).

    The buttons carry this row's id and the choice; the payload (JSON) holds what the
    request needs to finish. Used once, then deleted; stale ones expire.
    """

    __tablename__ = "pending_choices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text)
    # The choices offered (JSON list of ids): a tap on anything else is refused.
    options: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebLogin(Base):
    """A personal login link for the web page: single use, short-lived; only its hash is kept."""

    __tablename__ = "web_logins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    issued_by: Mapped[str] = mapped_column(String(10))  # bot / cli / demo
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A signed-in browser: the cookie holds the token, the row its hash and the CSRF secret."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(10))  # link / telegram (the Mini App)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InboxUpdate(Base):
    """A Telegram update persisted before its offset is confirmed (the durable intake)."""

    __tablename__ = "inbox_updates"
    __table_args__ = (
        Index("ix_inbox_updates_status_id", "status", "id"),
        Index("ix_inbox_updates_status_lane", "status", "lane"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Not unique: Telegram restarts the update_id sequence after a week without updates.
    update_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # (chat id, message id[, edit date]) or the callback id: the same thing fed twice is kept once.
    dedup_key: Mapped[str] = mapped_column(String(100), unique=True)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=InboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Updates of one lane (a chat, or one user's buttons) are processed in order, by one
    # process at a time: a lane with an update claimed by another process is left alone.
    lane: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # The process working on the update and until when; an expired claim (its process died
    # or hung) is taken over by another process.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    BLOCKED = "blocked"  # the recipient blocked the bot
    FAILED = "failed"  # refused for good (chat not found, no account bound)
    SKIPPED = "skipped"  # a reminder no longer needed when it came due (the day was logged)


class OutboxMessage(Base):
    """A message the product starts on its own, written in the transaction that causes it.

    A sender delivers it afterwards, so a crash after the commit delays it but never loses it.
    Addressed to a person (their current account is looked up when sending) or to a chat.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_due", "status", "priority", "not_before"),
        # The grade export asks which missed days had a reminder (a year holds millions).
        Index("ix_outbox_messages_reminds_of", "reminds_of", "person_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What the message is about (e.g. "rebound:<invite id>"): the same key is never sent twice.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    # 0 = a reply to someone waiting for it, sent before everything else; 1 = notices and
    # scheduled messages, paced, behind the replies.
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # A reminder to log this work date: skipped when it comes due if the person has logged
    # that day or is excused by then (a fan-out takes minutes; people log meanwhile).
    reminds_of: Mapped[date | None] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    # Inline buttons as JSON rows of [label, callback data], or None.
    buttons: Mapped[str | None] = mapped_column(Text)
    # A file sent with the text as its caption (a half-year XLSX), or None.
    document: Mapped[bytes | None] = mapped_column(LargeBinary)
    document_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set while a send is under way: still set when the row comes due again, the process
    # died mid-send and Telegram may have delivered it already.
    in_flight_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Sends whose fate is unknown (in flight at a crash, or timed out): possible duplicates.
    unsure: Mapped[int] = mapped_column(Integer, default=0)


class Conversation(Base):
    """A multi-step dialogue in progress (/summary, /fivetwo), kept so it survives a restart."""

    __tablename__ = "conversations"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MonthlySummary(Base):
    """月小结: the draft built from a month's entries and the text the cadre confirmed."""

    __tablename__ = "monthly_summaries"
    __table_args__ = (UniqueConstraint("person_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    month: Mapped[str] = mapped_column(String(7))  # "2026-11"
    draft: Mapped[str] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FiveTwoForm(Base):
    """The quarterly 5+2 实绩登记表: five best and two weaker pieces of work and the 自评."""

    __tablename__ = "fivetwo_forms"
    __table_args__ = (UniqueConstraint("person_id", "quarter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    quarter: Mapped[str] = mapped_column(String(8))  # "2026Q4"
    best: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of texts, up to 5
    weaker: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of texts, up to 2
    self_assessment: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
