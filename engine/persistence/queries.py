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
from engine.people.roles import ANYONE, Actor
from engine.persistence.models import (
    SEVERAL_NAMED,
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
    """Tasks held by the actor or offered to them by name (the case owner's, C2), alone
    or among others (a SpiffArena lane's owners)."""
    return _inbox(session, _my_tasks_statement(limit),
                  {"username": actor.username, "listed": listed_pattern(actor.username)})


def listed_pattern(username: str) -> str:
    """The LIKE pattern of an offer to several people that names `username`."""
    escaped = username.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%,{escaped},%"


def claimable_tasks(session: Session, actor: Actor, limit: int = 200) -> list[InboxTask]:
    """Unclaimed tasks offered to one of the actor's roles, in their department if narrowed,
    or to anyone in their department."""
    if not actor.roles and actor.department is None:
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
    listed = TaskItem.candidate_user.like(bindparam("listed"), escape="\\")
    return _first_of([TaskItem.assignee == username,
                      and_(TaskItem.assignee.is_(None), TaskItem.candidate_user == username),
                      and_(TaskItem.assignee.is_(None), SEVERAL_NAMED, listed)],
                     limit)


@lru_cache
def _claimable_statement(roles: int, with_department: bool, limit: int) -> Select[Any]:
    """One branch per role centre-wide, and per role in the actor's department; and the
    tasks offered to anyone in the actor's department."""
    unclaimed = and_(TaskItem.assignee.is_(None), TaskItem.candidate_user.is_(None))
    branches = []
    in_department = TaskItem.department == bindparam("department")
    for n in range(roles):
        role = TaskItem.role == bindparam(f"role_{n}")
        branches.append(and_(unclaimed, role, TaskItem.department.is_(None)))
        if with_department:
            branches.append(and_(unclaimed, role, in_department))
    if with_department:
        anyone = TaskItem.role == bindparam("anyone_role", value=ANYONE)
        branches.append(and_(unclaimed, anyone, in_department))
    return _first_of(branches, limit)


def team_tasks(session: Session, members: Sequence[tuple[str, str | None, frozenset[str]]],
               limit: int = 200) -> list[InboxTask]:
    """Open tasks a leader can hand on, in the inbox order: held by a member (and not
    offered by the process to one named person), or unclaimed and offered to a role a
    member holds, centre-wide or in that member's department. `members`: (username,
    department, roles) of each. One index range per member and per offer, as the inbox's
    own lists (`_first_of`): an OR of them fetched and sorted every matching task."""
    usernames = sorted({username for username, _, _ in members})
    centre = sorted({role for _, _, roles in members for role in roles})
    in_department = sorted({(role, department) for _, department, roles in members
                            if department is not None for role in roles})
    if not usernames:
        return []
    values: dict[str, Any] = {f"user_{n}": u for n, u in enumerate(usernames)}
    values.update({f"role_{n}": role for n, role in enumerate(centre)})
    for n, (role, department) in enumerate(in_department):
        values[f"dept_role_{n}"], values[f"dept_{n}"] = role, department
    statement = _team_statement(len(usernames), len(centre), len(in_department), limit)
    return _inbox(session, statement, values)


@lru_cache(maxsize=256)
def _team_statement(users: int, roles: int, department_roles: int, limit: int) -> Select[Any]:
    unclaimed = and_(TaskItem.assignee.is_(None), TaskItem.candidate_user.is_(None))
    branches = [and_(TaskItem.assignee == bindparam(f"user_{n}"),
                     TaskItem.candidate_user.is_(None)) for n in range(users)]
    branches += [and_(unclaimed, TaskItem.role == bindparam(f"role_{n}"),
                      TaskItem.department.is_(None)) for n in range(roles)]
    branches += [and_(unclaimed, TaskItem.role == bindparam(f"dept_role_{n}"),
                      TaskItem.department == bindparam(f"dept_{n}"))
                 for n in range(department_roles)]
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
