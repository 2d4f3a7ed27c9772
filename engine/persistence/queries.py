"""The reads that must stay fast however many cases there are: each is one indexed query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, selectinload

from engine.errors import NotFound
from engine.persistence.models import Case, HistoryRecord, ProcessVersion, TaskItem
from engine.roles import Actor


def my_tasks(session: Session, actor: Actor, limit: int = 200) -> Sequence[TaskItem]:
    """Tasks held by the actor or offered to them by name (the case owner's, C2)."""
    query = select(TaskItem).where(or_(
        TaskItem.assignee == actor.username,
        and_(TaskItem.assignee.is_(None), TaskItem.candidate_user == actor.username),
    ))
    return session.scalars(_ordered(query, limit)).all()


def claimable_tasks(session: Session, actor: Actor, limit: int = 200) -> Sequence[TaskItem]:
    """Unclaimed tasks offered to one of the actor's roles, in their department if narrowed."""
    if not actor.roles:
        return []
    query = select(TaskItem).where(
        TaskItem.role.in_(sorted(actor.roles)),
        TaskItem.assignee.is_(None),
        TaskItem.candidate_user.is_(None),
        or_(TaskItem.department.is_(None), TaskItem.department == actor.department),
    )
    return session.scalars(_ordered(query, limit)).all()


def _ordered(query: Select, limit: int) -> Select:
    """The first `limit` tasks, sorted on task_item alone; then their cases by primary key.

    Joining the cases before the sort made the database join (and on SQLite sort) every
    matching task with its case's serialized workflow, 20-25 kB each, to keep 200 of them:
    p95 27-41 ms on 100,000 cases, 10-11 ms this way (docs/benchmarks.md). Of each case the
    inbox shows its number and category (and names the category from its version's
    forms), so only those are loaded; touching another column loads it, in the session.
    """
    return (query.order_by(TaskItem.due_at.is_(None), TaskItem.due_at, TaskItem.created_at)
            .limit(limit)
            .options(selectinload(TaskItem.case).load_only(
                Case.number, Case.category, Case.process_version_id)))


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
