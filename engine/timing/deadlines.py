"""Deadlines: when each case next needs the engine, and what people see of it (C3, C5, C8, C9).

SpiffWorkflow has no clock of its own: a timer event only fires when the application asks
the workflow to refresh its timers, and it compares against the wall clock. Kefu therefore
(1) runs SpiffWorkflow under the installation's injected clock (`engine_clock`), so tests
and a timer worker decide what "now" is; (2) after every save of a case writes the case's
pending moments into the `deadline` table, in the same transaction: each waiting BPMN
timer (`timer`), each open task's due time if a process property sets it (`due`), and a
reminder at `Settings.reminder_fraction` of each task's time (`reminder`). The timer worker
(engine.scheduler) sleeps until the earliest row is due and fires it once.

A user task's due time comes from the timer boundary events attached to it (the earliest),
else from its `dueAt` property (a data variable holding an ISO time) or `dueIn` property
(an ISO-8601 duration from the moment the task became ready). The durations themselves live
in the process files, never here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Select, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.definitions.specs import task_title
from engine.errors import ScriptError
from engine.people.roles import ANYONE, Actor
from engine.persistence import batch
from engine.persistence.db import CommitSignal
from engine.persistence.deadline_models import CaseEscalation, Deadline
from engine.persistence.models import SEVERAL_NAMED, Case, TaskItem
from engine.persistence.queries import listed_pattern
from engine.persistence.start_models import TimerStart
from engine.timing.calendar import WorkingCalendar, calendar_from_settings, parse_duration

if TYPE_CHECKING:
    from SpiffWorkflow.task import Task

    from engine.cases.frontier import Frontier
    from engine.config import Settings
    from engine.kefu import Kefu
    from engine.persistence.db import Database

TIMER, REMINDER, DUE = "timer", "reminder", "due"
DUE_IN, DUE_AT = "dueIn", "dueAt"
NOTIFY_CHANNEL = "kefu_deadlines"
_NOTIFY = text(f"NOTIFY {NOTIFY_CHANNEL}")

# --- SpiffWorkflow under Kefu's clock -------------------------------------------------------

_engine_clock: ContextVar[Clock | None] = ContextVar("kefu_engine_clock", default=None)


class _EngineDatetime(datetime):
    """SpiffWorkflow's timer module asks `datetime.now(timezone.utc)`; this answers with the
    clock of the case being run, and with the wall clock outside Kefu's runs."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # noqa: ANN401 - datetime's own signature
        clock = _engine_clock.get()
        if clock is None:
            return datetime.now(tz)
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment


spiff_timer.datetime = _EngineDatetime  # type: ignore[misc]


@contextmanager
def engine_clock(clock: Clock) -> Iterator[None]:
    """Run SpiffWorkflow's timers against `clock` for the duration of the block."""
    token = _engine_clock.set(clock)
    try:
        yield
    finally:
        _engine_clock.reset(token)


# --- helpers for process scripts and timer expressions ---------------------------------------

def working_calendar(settings: Settings) -> WorkingCalendar:
    return calendar_from_settings(settings.working_calendar)


def script_helpers(settings: Settings, session: Session | None = None,
                   case: Case | None = None,
                   clock: Clock | None = None) -> dict[str, Callable[..., Any]]:
    """`working_time(start_iso, "PT8H")`: the ISO time after that much working time (China's
    holidays and 调休 days, plus the centre's own days); `hours(n)`: "PTnH", to turn a
    configured number of hours into a timer duration. Given the case's session, the
    centre's imported schedule counts too, and a deadline that runs over days the official
    schedule does not cover is flagged on the case (engine.timing.calendar_store)."""

    def working_time(start: str, duration: str) -> str:
        from engine.timing import calendar_store

        begin = datetime.fromisoformat(start)
        if session is None or case is None:
            return working_calendar(settings).add_working_time(
                begin, parse_duration(duration)).isoformat()
        calendar = calendar_store.calendar_for(session, settings)
        due = calendar.add_working_time(begin, parse_duration(duration))
        calendar_store.flag_uncovered(
            session, case, calendar, clock.now() if clock else begin,
            calendar.uncovered_between(begin, due),
            (f"工作时间期限 working_time({start}, {duration})",
             f"the working-time deadline working_time({start}, {duration})"))
        return due.isoformat()

    def hours(count: float) -> str:
        if not isinstance(count, int | float) or count <= 0:
            raise ValueError(f"hours: a positive number is required, got {count!r}")
        return f"PT{count:g}H"

    return {"working_time": working_time, "hours": hours}


# --- what a workflow is waiting for ----------------------------------------------------------

@dataclass(frozen=True)
class _Want:
    kind: str
    task_id: str
    spec_name: str
    title: str
    start_at: datetime
    due_at: datetime
    task_due_at: datetime | None = None


def timer_due(task: Task) -> datetime | None:
    """The moment a timer event task fires (None for a finished cycle or an unparsed value)."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        # An event-based gateway waits for its events' timers itself, keeping the moment
        # where a timer event would (SpiffWorkflow moves the definitions to the gateway).
        if not any(isinstance(d, spiff_timer.TimerEventDefinition)
                   for d in definition.event_definitions):
            return None
        value = task._get_internal_data("event_value")
    elif isinstance(definition, spiff_timer.TimerEventDefinition):
        value = definition.details(task).value
    else:
        return None
    if not isinstance(value, str):
        return None
    try:
        moment = spiff_timer.TimerEventDefinition.parse_time_or_duration(value)
    except (ValueError, TypeError, AttributeError):
        return None
    return moment if isinstance(moment, datetime) else None


def _waiting_timers(where: Frontier) -> list[Task]:
    return [t for t in where.waiting
            if isinstance(t.task_spec, CatchingEvent) and timer_due(t) is not None]


def _boundary_timers(task: Task) -> list[Task]:
    """The timer boundary events attached to a user task (waiting or already fired)."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return []
    return [t for t in parent.children if t is not task and timer_due(t) is not None
            and t.state in (TaskState.WAITING, TaskState.READY, TaskState.COMPLETED)]


def task_due(task: Task, ready_at: datetime) -> tuple[datetime | None, str | None]:
    """(due time, source) of a ready user task: "timer" or "property" or (None, None)."""
    timers = [timer_due(t) for t in _boundary_timers(task)]
    if timers:
        return min(d for d in timers if d is not None), TIMER
    properties = task.task_spec.extensions.get("properties", {})
    name = task.task_spec.bpmn_id
    if properties.get(DUE_AT):
        value = task.data.get(properties[DUE_AT])
        if value in (None, ""):
            return None, None
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise ScriptError(f"task {name}: {DUE_AT} variable {properties[DUE_AT]!r} "
                              f"holds {value!r}, not an ISO time") from exc
        if moment.tzinfo is None:
            raise ScriptError(f"task {name}: {DUE_AT} variable {properties[DUE_AT]!r} "
                              f"holds {value!r}, a time without a timezone")
        return moment, DUE
    if properties.get(DUE_IN):
        try:
            return ready_at + parse_duration(properties[DUE_IN]), DUE
        except ValueError as exc:
            raise ScriptError(f"task {name}: {DUE_IN}: {exc}") from exc
    return None, None


def project(kefu: Kefu, session: Session, case: Case, where: Frontier,
            opened: Mapping[str, datetime], now: datetime,
            rows: Sequence[Any] | None = None) -> dict[str, datetime | None]:
    """Rewrite the case's pending deadline rows from where the workflow stands; called by
    every save of a case, inside its transaction, with when each ready user task opened
    (`opened`, by task id). Returns each of those tasks' due time, for the inbox. `rows`:
    the case's deadline rows (`CASE_ROWS`) if the caller read them under the case's lock,
    and nothing in its unit of work has changed them since (else they are read here)."""
    wants: dict[tuple[str, str], _Want] = {}
    for task in _waiting_timers(where):
        due = timer_due(task)
        assert due is not None
        wants[(TIMER, str(task.id))] = _Want(TIMER, str(task.id), task.task_spec.bpmn_id,
                                             task_title(task.task_spec), now, due)
    fraction = kefu.settings.reminder_fraction
    dues: dict[str, datetime | None] = {}
    for task in where.ready_manual:
        task_id = str(task.id)
        start = opened.get(task_id)
        if start is None:
            continue
        due, source = task_due(task, start)
        dues[task_id] = due
        if due is None:
            continue
        spec_name, title = task.task_spec.bpmn_id, task_title(task.task_spec)
        if source == DUE:
            wants[(DUE, task_id)] = _Want(DUE, task_id, spec_name, title, start, due)
        if due > start:
            remind_at = start + (due - start) * fraction
            wants[(REMINDER, task_id)] = _Want(REMINDER, task_id, spec_name, title, start,
                                               remind_at, due)
    if _sync(session, case, wants, rows):
        _announce(kefu, session)
    return dues


_TABLE = Deadline.__table__


def case_rows(case_id: Any) -> Select[Any]:
    """The deadline rows `_sync` compares with what the workflow wants, of `case_id` (a
    bound value or a subquery)."""
    return select(_TABLE.c.id, _TABLE.c.kind, _TABLE.c.task_id, _TABLE.c.due_at,
                  _TABLE.c.task_due_at, _TABLE.c.fired_at).where(_TABLE.c.case_id == case_id)


#: Built once: building a statement cost more than running it (docs/benchmarks.md).
CASE_ROWS = case_rows(bindparam("case_id"))
_DELETE = delete(_TABLE).where(_TABLE.c.id == bindparam("row_id"))
_MOVE = update(_TABLE).where(_TABLE.c.id == bindparam("row_id")) \
    .values(due_at=bindparam("new_due_at"), task_due_at=bindparam("new_task_due_at"))
_INSERT = insert(_TABLE)
_NEXT_DUE = select(func.min(_TABLE.c.due_at)).where(_TABLE.c.fired_at.is_(None))
_NEXT_START = select(func.min(TimerStart.__table__.c.next_at))


def _sync(session: Session, case: Case, wants: dict[tuple[str, str], _Want],
          rows: Sequence[Any] | None) -> bool:
    """Core statements, not ORM objects (engine.persistence.batch): a save touches a
    handful of rows every step. The caller has flushed the session (a firing marks its
    deadline fired through the ORM)."""
    if rows is None:
        rows = batch.read(session, (CASE_ROWS, {"case_id": case.id}))[0]
    pending = {(r.kind, r.task_id): r for r in rows if r.fired_at is None}
    # A reminder or due time that has fired stays fired while its task stays open.
    fired = {(r.kind, r.task_id, r.due_at) for r in rows if r.fired_at is not None}
    gone = [row.id for key, row in pending.items() if key not in wants]
    moved: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for key, want in wants.items():
        row = pending.get(key)
        if row is not None:
            if row.due_at != want.due_at or row.task_due_at != want.task_due_at:
                moved.append({"row_id": row.id, "new_due_at": want.due_at,
                              "new_task_due_at": want.task_due_at})
        elif (want.kind, want.task_id, want.due_at) not in fired:
            added.append({"case_id": case.id, "kind": want.kind, "task_id": want.task_id,
                          "spec_name": want.spec_name, "title": want.title[:200],
                          "start_at": want.start_at, "due_at": want.due_at,
                          "task_due_at": want.task_due_at, "attempts": 0})
    batch.write(session, _DELETE, [{"row_id": row_id} for row_id in gone])
    batch.write(session, _MOVE, moved)
    batch.write(session, _INSERT, added)
    return bool(gone or moved or added)


# --- waking the timer worker -----------------------------------------------------------------

#: Raised by every unit of work that changed deadlines (the timer worker listens).
CHANGED = CommitSignal("deadlines")


def on_change(database: Database, callback: Callable[[], None]) -> None:
    """Call `callback` after any unit of work of this process that changed deadlines has
    committed, outside its transaction (the in-process timer worker of `kefu serve` is woken
    this way); the callback must not block: it runs in the thread that committed."""
    CHANGED.connect(database, callback)


def remove_listener(database: Database, callback: Callable[[], None]) -> None:
    CHANGED.disconnect(database, callback)


def _announce(kefu: Kefu, session: Session) -> None:
    if kefu.db.is_postgres:
        # Delivered to every LISTENing worker when (and only if) this commits; PostgreSQL
        # folds repeats within one transaction into one notification.
        batch.write(session, _NOTIFY, {})
    CHANGED.raise_after_commit(session, kefu.db)


# --- what people see -------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    due_at: datetime | None
    time_left: timedelta | None
    overdue: bool


def task_timing(item: TaskItem, now: datetime) -> Timing:
    """Due time, time left (negative when late) and whether the task is overdue."""
    if item.due_at is None:
        return Timing(None, None, False)
    left = item.due_at - now
    return Timing(item.due_at, left, left <= timedelta(0))


def next_due(session: Session) -> datetime | None:
    """The earliest pending deadline of all cases, or timer start of a process (issue 14):
    an index lookup each, however many are pending."""
    connection = session.connection()
    moments = [connection.execute(_NEXT_DUE).scalar(), connection.execute(_NEXT_START).scalar()]
    return min((m for m in moments if m is not None), default=None)


def case_deadlines(session: Session, case: Case) -> Sequence[Deadline]:
    return session.scalars(select(Deadline).where(Deadline.case_id == case.id)
                           .order_by(Deadline.due_at, Deadline.id)).all()


def escalation_level(session: Session, case: Case) -> int:
    """C9: 0 not escalated, 1 the shift leader has it, 2 the department manager has it."""
    row = session.get(CaseEscalation, case.id)
    return row.level if row is not None else 0


def reminders_for(session: Session, actor: Actor, limit: int = 100) -> Sequence[Deadline]:
    """Reminders, overdue notices and 催单 sent about tasks the actor holds or may take."""
    return session.scalars(_reminders_statement(), {
        "username": actor.username, "listed": listed_pattern(actor.username),
        "roles": sorted(actor.roles) or [""], "department": actor.department,
        "limit": limit}).all()


@lru_cache(maxsize=1)
def _reminders_statement() -> Select[Any]:
    """Built once: every inbox page and poll asks, and building it was half the asking."""
    username, department = bindparam("username"), bindparam("department")
    unclaimed = TaskItem.assignee.is_(None)
    offered = or_(
        TaskItem.assignee == username,
        unclaimed & (TaskItem.candidate_user == username),
        unclaimed & SEVERAL_NAMED
        & TaskItem.candidate_user.like(bindparam("listed"), escape="\\"),
        unclaimed & TaskItem.candidate_user.is_(None)
        & TaskItem.role.in_(bindparam("roles", expanding=True))
        & or_(TaskItem.department.is_(None), TaskItem.department == department),
        unclaimed & TaskItem.candidate_user.is_(None)
        & (TaskItem.role == ANYONE) & (TaskItem.department == department),
    )
    return (select(Deadline).join(TaskItem, TaskItem.id == Deadline.task_id)
            .where(Deadline.fired_at.is_not(None), Deadline.kind != TIMER, offered)
            .order_by(Deadline.fired_at.desc(), Deadline.id.desc())
            .limit(bindparam("limit")))
