"""Firing due deadlines: exactly once, in due order, one transaction per case.

Any number of timer workers may call `fire_due` against one database at the same time.
Each claims a case by locking its row with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL;
SQLite's single writer is serialised by BEGIN IMMEDIATE), reads the case's due rows again
under that lock, fires them and commits. The lock is the same one a person completing a
task takes (engine.cases.runtime), so a deadline and a person acting at the same moment cannot
interleave: whoever comes second sees the first one's result. A worker that dies holding
the lock loses its transaction and its lock with its connection, so nothing is half-fired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from engine.cases.runtime import refresh_timers
from engine.kefu import Kefu
from engine.messages import notifications
from engine.persistence.deadline_models import Deadline
from engine.persistence.models import Case, TaskItem
from engine.persistence.start_models import TimerStart
from engine.records import history
from engine.scheduler.starts import fire_timer_starts
from engine.timing.deadlines import DUE, REMINDER, TIMER
from engine.timing.escalation import holder

log = logging.getLogger(__name__)

#: A firing that fails is retried after this, doubling up to an hour (a broken timer
#: expression must not stop every other case's deadlines).
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)


@dataclass
class Fired:
    """What one call of `fire_due` did."""

    fired: int = 0
    cases: int = 0
    failed: int = 0
    #: Due rows left because another transaction held their case (retry shortly).
    busy: bool = False


def fire_due(kefu: Kefu, now: datetime | None = None, *, max_cases: int | None = None) -> Fired:
    """Fire every deadline due at `now` (default: the clock's now), earliest first."""
    now = now or kefu.clock.now()
    result = Fired()
    result.fired += fire_timer_starts(kefu, now)
    while max_cases is None or result.cases < max_cases:
        case_id: int | None = None
        try:
            with kefu.session() as session:
                case_id = _claim(session, now)
                if case_id is None:
                    break
                result.fired += _fire_case(kefu, session, case_id, now)
                result.cases += 1
        except Exception as exc:
            if case_id is None:  # the database itself failed: let the worker report it
                raise
            # One case's failure (a broken expression, say) must not stop the others.
            log.exception("firing the deadlines of case id %s failed", case_id)
            result.failed += 1
            _postpone(kefu, case_id, now, exc)
    with kefu.session(read_only=True) as session:
        result.busy = _still_due(session, now)
    return result


def _claim(session: Session, now: datetime) -> int | None:
    """Lock the case with the earliest due deadline that no one else is working on."""
    query = (select(Case.id).join(Deadline, Deadline.case_id == Case.id)
             .where(Deadline.fired_at.is_(None), Deadline.due_at <= now)
             .order_by(Deadline.due_at).limit(1)
             .with_for_update(of=Case, skip_locked=True))
    return session.scalar(query)


def _still_due(session: Session, now: datetime) -> bool:
    """Due rows left after firing: another transaction holds them. A timer start another
    worker is starting counts too, or this worker re-armed for its due time, now past,
    and fired again at once, over and over, until the other committed."""
    if session.scalar(select(Deadline.id).where(Deadline.fired_at.is_(None),
                                                Deadline.due_at <= now).limit(1)) is not None:
        return True
    return session.scalar(select(TimerStart.process_id).where(TimerStart.next_at <= now)
                          .limit(1)) is not None


def _fire_case(kefu: Kefu, session: Session, case_id: int, now: datetime) -> int:
    case = session.scalar(select(Case).where(Case.id == case_id)
                          .options(defer(Case.workflow_state))  # read only if not live
                          .execution_options(populate_existing=True))
    assert case is not None
    pending = (Deadline.case_id == case_id, Deadline.fired_at.is_(None))
    first = session.scalar(select(func.min(Deadline.due_at)).where(*pending))
    if first is None or first > now:  # another worker fired them meanwhile
        return 0
    # Fire only up to the next other case's due time, so that across cases too every
    # deadline fires in due order (it matters after a worker was down).
    other = session.scalar(select(func.min(Deadline.due_at)).where(
        Deadline.fired_at.is_(None), Deadline.case_id != case_id))
    horizon = max(first, min(now, other)) if other is not None else now
    rows = session.scalars(select(Deadline).where(*pending, Deadline.due_at <= horizon)
                           .order_by(Deadline.due_at, Deadline.id)).all()
    if case.state != "running":
        for row in rows:  # cannot happen through the engine; never fire into a closed case
            session.delete(row)
        log.warning("case %s is %s: dropped %d pending deadline(s)", case.number, case.state,
                    len(rows))
        return 0
    timers_due: datetime | None = None
    for row in rows:
        row.fired_at = now
        if row.kind == TIMER:
            timers_due = row.due_at
            history.append(session, case, at=now, actor="system", action="timer",
                           task_spec=row.spec_name, task_title=row.title,
                           data={"due_at": row.due_at.isoformat()})
        elif row.kind in (REMINDER, DUE):
            _notify(kefu, session, case, row, now)
    if timers_due is not None:
        refresh_timers(kefu, session, case, timers_due)
    else:
        session.flush()
    return len(rows)


def _notify(kefu: Kefu, session: Session, case: Case, row: Deadline, now: datetime) -> None:
    """A reminder before the due time, or the notice that it has passed, to the holder."""
    item = session.get(TaskItem, row.task_id)
    to = holder(item) if item is not None else {}
    row.notified = to
    due = row.task_due_at if row.kind == REMINDER else row.due_at
    history.append(session, case, at=now, actor="system",
                   action="reminded" if row.kind == REMINDER else "overdue",
                   task_spec=row.spec_name, task_title=row.title,
                   data={"to": to, "due_at": due.isoformat() if due else None})
    kind = notifications.REMINDER if row.kind == REMINDER else notifications.OVERDUE
    notifications.notify(kefu, session, case, kind, to, row.title, task_id=row.task_id, due=due)


def _postpone(kefu: Kefu, case_id: int, now: datetime, exc: Exception) -> None:
    with kefu.session() as session:
        rows = session.scalars(select(Deadline).where(
            Deadline.case_id == case_id, Deadline.fired_at.is_(None), Deadline.due_at <= now)
            .with_for_update()).all()
        for row in rows:
            row.attempts += 1
            delay = min(RETRY_FIRST * 2 ** (row.attempts - 1), RETRY_MAX)
            row.due_at = now + delay
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
