"""The tables of Kefu's core: organisation, process versions, cases, the inbox projection,
history, replies and purges. Later features add their tables in modules of their own on
the same `Base`."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    ColumnElement,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class WorkflowState(TypeDecorator[str]):
    """A case's stored workflow (engine.cases.serializer). SQLite keeps it zlib-compressed
    (a BLOB in the TEXT column, which SQLite allows): every save rewrites the state, and
    writing a long case's 45 kB of text cost 1.5 ms of a step where its 7 kB compressed
    cost 0.2 ms (level 1: 0.14 ms to compress, 0.07 ms to expand). PostgreSQL compresses
    it itself (lz4, `STATE_LZ4`). A row still holding text (written before migration
    0012_scale) reads as it is."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | bytes | None:
        if value is None or dialect.name != "sqlite":
            return value
        return zlib.compress(value.encode(), 1)

    def process_result_value(self, value: str | bytes | None, dialect: Any) -> str | None:
        if isinstance(value, bytes):
            return zlib.decompress(value).decode()
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Department(Base):
    __tablename__ = "department"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    #: 工号: replies are signed with it, never with a name (C7).
    staff_no: Mapped[str] = mapped_column(String(20), unique=True)
    department: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    job_type: Mapped[str | None] = mapped_column(String(40))
    skill_level: Mapped[int | None] = mapped_column(Integer)
    shift_leader_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: Where e-mail notifications go (engine.messages.notifications); none: no e-mail.
    email: Mapped[str | None] = mapped_column(String(254))
    #: A mobile number: a group robot's message @-mentions the person by it (企业微信
    #: mentioned_mobile_list, 钉钉 at.atMobiles); none: named, not mentioned.
    mobile: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)

    roles: Mapped[list[PersonRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}


class PersonRole(Base):
    __tablename__ = "person_role"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)


class ProcessVersion(Base):
    """One deployed version of a process: its spec is stored here once, not in each case."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("process_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text)
    #: file name -> text of every BPMN/DMN/form file this version was built from.
    sources: Mapped[dict[str, Any]]
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(60))


class Case(Base):
    __tablename__ = "case_record"
    __table_args__ = (
        Index("ix_case_state_created", "state", "created_at"),
        Index("ix_case_phone", "complainant_phone"),
        Index("ix_case_category", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    process_id: Mapped[str] = mapped_column(String(80), index=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    state: Mapped[str] = mapped_column(String(20))  # running | closed
    title: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(40))
    complainant_phone: Mapped[str | None] = mapped_column(String(20))
    department: Mapped[str | None] = mapped_column(String(40))
    #: Who and what the case is about, in the words people search by (engine.cases.runtime
    #: SEARCH_TEXT_FIELDS): searching never reads the stored workflow.
    search_text: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(60))
    closed_at: Mapped[datetime | None]
    retain_until: Mapped[datetime | None]
    workflow_state: Mapped[str] = mapped_column(WorkflowState)
    history_seq: Mapped[int] = mapped_column(default=0)
    history_head: Mapped[str] = mapped_column(String(64), default="")
    row_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": row_version}


#: Every save rewrites the case's workflow state, which PostgreSQL compresses when large;
#: lz4 (PostgreSQL 14 and later, when built with it) takes about half pglz's time.
STATE_LZ4 = "ALTER TABLE case_record ALTER COLUMN workflow_state SET COMPRESSION lz4"


def server_has_lz4(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.exec_driver_sql(
        "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
        "AND 'lz4' = ANY(enumvals)").first())


event.listen(Case.__table__, "after_create", DDL(STATE_LZ4).execute_if(
    callable_=lambda _ddl, _target, bind, **_: server_has_lz4(bind)))


class TaskItem(Base):
    """A ready user task, projected out of the workflow so the inbox is one indexed query."""

    __tablename__ = "task_item"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(80))
    spec_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    form: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    department: Mapped[str | None] = mapped_column(String(40))
    #: One username, or several as `,a,b,` (engine.people.roles.encode_candidates).
    candidate_user: Mapped[str | None] = mapped_column(String(1000))
    assignee: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(lazy="joined", innerjoin=True)


def inbox_order(tasks: Any) -> tuple[ColumnElement[Any], ...]:
    """The order people see tasks in: soonest due first, tasks without a due time last,
    the oldest first among equals. `tasks`: TaskItem, or the columns of a subquery of it."""
    return tasks.due_at.is_(None), tasks.due_at, tasks.created_at


def _inbox_index(name: str, *leading: Any, where: Any = None) -> Index:
    """An index whose entries are in the inbox order after `leading`: a person's or a
    role's first tasks are then its first entries, with no sort (queries.my_tasks)."""
    return Index(name, *leading, *inbox_order(TaskItem), sqlite_where=where,
                 postgresql_where=where)


_unclaimed = TaskItem.assignee.is_(None)
_offered = _unclaimed & TaskItem.candidate_user.is_(None)
_inbox_index("ix_task_assignee_order", TaskItem.assignee)
_inbox_index("ix_task_candidate_order", TaskItem.candidate_user, where=_unclaimed)
#: Offers to several named people (SpiffArena's lane owners, Camunda's candidateUsers): few,
#: so a person's are found by reading these in the inbox order. The pattern is inline SQL,
#: not a bound value, for PostgreSQL to see that a query's condition is the index's.
SEVERAL_NAMED = TaskItem.candidate_user.like(literal_column("',%'"))
_inbox_index("ix_task_candidates_order", where=_unclaimed & SEVERAL_NAMED)
# Offers to a role in one department, and to a role centre-wide: two indexes, because
# PostgreSQL keeps an index's order after `department = x` but not after `IS NULL`.
_inbox_index("ix_task_role_order", TaskItem.role, TaskItem.department,
             where=_offered & TaskItem.department.is_not(None))
_inbox_index("ix_task_role_centre_order", TaskItem.role,
             where=_offered & TaskItem.department.is_(None))


class HistoryRecord(Base):
    """Append-only, hash-chained (A1): each record's hash covers the previous one."""

    __tablename__ = "history_record"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"))
    seq: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    task_spec: Mapped[str | None] = mapped_column(String(120))
    task_title: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: Which history key signed `hash` (engine.records.history.key_id); NULL: an unkeyed record
    #: from before keyed history, sealed by `kefu init`.
    key_id: Mapped[str | None] = mapped_column(String(16))


class SmsMessage(Base):
    """The outbox: every SMS a case sent, with the segments it costs (C7)."""

    __tablename__ = "sms_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))  # queued | sent | delivered | failed
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Letter(Base):
    __tablename__ = "letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class PurgeRecord(Base):
    """What remains of a case removed after its retention period (A3)."""

    __tablename__ = "purge_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(40))
    retain_until: Mapped[datetime]
    purged_at: Mapped[datetime]
    purged_by: Mapped[str] = mapped_column(String(60))
    history_count: Mapped[int]
    history_head: Mapped[str] = mapped_column(String(64))
    #: HMAC with the history key (engine.records.history.purge_signature): a purge record cannot be
    #: made up to excuse a deleted case by someone without the key.
    signature: Mapped[str | None] = mapped_column(String(64))
