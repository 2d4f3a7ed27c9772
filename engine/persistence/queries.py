"""The reads that must stay fast however many cases there are: each is one indexed query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, select, union_all
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.people.roles import Actor
from engine.persistence.models import (
    Case,
    HistoryRecord,
    ProcessVersion,
    TaskItem,
    inbox_order,
)


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
    return _inbox(session, _my_tasks_statement(limit), {"username": actor.username})


def claimable_tasks(session: Session, actor: Actor, limit: int = 200) -> list[InboxTask]:
    """Unclaimed tasks offered to one of the actor's roles, in their department if narrowed."""
    if not actor.roles:
        return []
    roles = {f"role_{n}": role for n, role in enumerate(sorted(actor.roles))}
    with_department = actor.department is not None
    statement = _claimable_statement(len(roles), with_department, limit)
    return _inbox(session, statement, {**roles, "department": actor.department})


def _inbox(session: Session, statement: Select[Any], values: dict[str, Any]) -> list[InboxTask]:
    rows = session.connection().execute(statement, values).all()  # Core rows, no ORM layer
    width = len(_TASK_COLUMNS)
    return [InboxTask(*row[:width], case=InboxCase(*row[width:])) for row in rows]


@lru_cache
def _my_tasks_statement(limit: int) -> Select[Any]:
    username = bindparam("username")
    return _first_of([TaskItem.assignee == username,
                      and_(TaskItem.assignee.is_(None), TaskItem.candidate_user == username)],
                     limit)


@lru_cache
def _claimable_statement(roles: int, with_department: bool, limit: int) -> Select[Any]:
    """One branch per role centre-wide, and per role in the actor's department."""
    unclaimed = and_(TaskItem.assignee.is_(None), TaskItem.candidate_user.is_(None))
    branches = []
    for n in range(roles):
        role = TaskItem.role == bindparam(f"role_{n}")
        branches.append(and_(unclaimed, role, TaskItem.department.is_(None)))
        if with_department:
            branches.append(and_(unclaimed, role, TaskItem.department == bindparam("department")))
    return _first_of(branches, limit)


def _first_of(branches: list[ColumnElement[bool]], limit: int) -> Select[Any]:
    """The first `limit` tasks of all branches in the inbox order, with their cases.

    Each branch is one index range already in the inbox order, so the database reads at
    most `limit` entries of each and merges them; an OR of the branches made it fetch and
    sort every matching task (4,800 rows for the duty supervisors on 100,000 cases) to
    keep 200. The cases are joined to the 200 kept, never before the cut: each case row
    carries its serialized workflow (docs/benchmarks.md). Built once per shape, since
    building it cost more than running it.
    """
    firsts = [select(*_TASK_COLUMNS).where(branch).order_by(*inbox_order(TaskItem))
              .limit(limit).subquery() for branch in branches]
    tasks = firsts[0] if len(firsts) == 1 else \
        union_all(*(select(first) for first in firsts)).subquery()
    kept = select(tasks).order_by(*inbox_order(tasks.c)).limit(limit).subquery()
    cases = Case.__table__
    return (select(kept, *_CASE_COLUMNS).join(cases, cases.c.id == kept.c.case_id)
            .order_by(*inbox_order(kept.c)))


#: Built once, with a bound value: every case started asks it.
_NEWEST_VERSION = (select(ProcessVersion.id)
                   .where(ProcessVersion.process_id == bindparam("process_id"))
                   .order_by(ProcessVersion.version.desc()).limit(1))


def newest_version_id(session: Session, process_id: str) -> int:
    """The version new cases of a process start on; the id only, so the spec stays unread."""
    version_id = session.scalar(_NEWEST_VERSION, {"process_id": process_id})
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
