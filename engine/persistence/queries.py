"""The reads that must stay fast however many cases there are: each is one indexed query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.persistence.models import Case, HistoryRecord, ProcessVersion, TaskItem
from engine.roles import Actor


@dataclass(frozen=True)
class InboxCase:
    """What the inbox shows of a task's case (its category is named from its version)."""
    id: int
    number: str
    category: str | None
    process_version_id: int


@dataclass(frozen=True)
class InboxTask:
    """One row of an inbox: a task as `task_item` holds it, and its case's number.

    Plain rows, not ORM objects: an inbox lists up to 200 tasks, and building ORM objects
    for them and their cases was most of its time."""
    id: str
    case_id: int
    process_id: str
    spec_name: str
    title: str
    form: str
    role: str
    department: str | None
    candidate_user: str | None
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    case: InboxCase


#: Selected in the order of InboxTask's fields, so that a row builds one by position.
_TASK_COLUMNS = [TaskItem.__table__.c[f.name] for f in fields(InboxTask) if f.name != "case"]
_CASE_COLUMNS = [Case.__table__.c[f.name] for f in fields(InboxCase)]


def my_tasks(session: Session, actor: Actor, limit: int = 200) -> list[InboxTask]:
    """Tasks held by the actor or offered to them by name (the case owner's, C2)."""
    return _inbox(session, or_(
        TaskItem.assignee == actor.username,
        and_(TaskItem.assignee.is_(None), TaskItem.candidate_user == actor.username),
    ), limit)


def claimable_tasks(session: Session, actor: Actor, limit: int = 200) -> list[InboxTask]:
    """Unclaimed tasks offered to one of the actor's roles, in their department if narrowed."""
    if not actor.roles:
        return []
    return _inbox(session, and_(
        TaskItem.role.in_(sorted(actor.roles)),
        TaskItem.assignee.is_(None),
        TaskItem.candidate_user.is_(None),
        or_(TaskItem.department.is_(None), TaskItem.department == actor.department),
    ), limit)


def _inbox(session: Session, which: ColumnElement[bool], limit: int) -> list[InboxTask]:
    """The first `limit` tasks, sorted on task_item alone; then their cases by primary key.

    Joining the cases before the sort made the database join (and on SQLite sort) every
    matching task with its case's serialized workflow, 20-25 kB each, to keep 200 of them:
    p95 27-41 ms on 100,000 cases, 10-11 ms this way (docs/benchmarks.md).
    """
    connection = session.connection()  # Core rows: no ORM layer between SQL and the rows
    tasks = connection.execute(
        select(*_TASK_COLUMNS).where(which)
        .order_by(TaskItem.due_at.is_(None), TaskItem.due_at, TaskItem.created_at)
        .limit(limit)).all()
    if not tasks:
        return []
    cases = {row.id: InboxCase(*row) for row in connection.execute(
        select(*_CASE_COLUMNS).where(Case.id.in_({t.case_id for t in tasks})))}
    return [InboxTask(*task, case=cases[task.case_id]) for task in tasks]


def newest_version_id(session: Session, process_id: str) -> int:
    """The version new cases of a process start on; the id only, so the spec stays unread."""
    version_id = session.scalar(
        select(ProcessVersion.id).where(ProcessVersion.process_id == process_id)
        .order_by(ProcessVersion.version.desc()).limit(1))
    if version_id is None:
        raise NotFound(f"process {process_id!r} is not deployed")
    return version_id


def case_history(session: Session, case: Case) -> Sequence[HistoryRecord]:
    return session.scalars(select(HistoryRecord).where(HistoryRecord.case_id == case.id)
                           .order_by(HistoryRecord.seq)).all()


def case_by_number(session: Session, number: str) -> Case | None:
    return session.scalar(select(Case).where(Case.number == number))


def search_cases(session: Session, *, number: str | None = None, phone: str | None = None,
                 category: str | None = None, department: str | None = None,
                 state: str | None = None, process_id: str | None = None,
                 created_from: datetime | None = None, created_to: datetime | None = None,
                 limit: int = 500) -> Sequence[Case]:
    """Auditors' search (A2): every criterion optional, all of them combined."""
    query = select(Case)
    for column, value in ((Case.number, number), (Case.complainant_phone, phone),
                          (Case.category, category), (Case.department, department),
                          (Case.state, state), (Case.process_id, process_id)):
        if value:
            query = query.where(column == value)
    if created_from:
        query = query.where(Case.created_at >= created_from)
    if created_to:
        query = query.where(Case.created_at < created_to)
    return session.scalars(query.order_by(Case.created_at.desc()).limit(limit)).all()
