"""Timer start events: a process that starts itself on a date, after a while, or on a cycle.

At build the timer is taken off the start event (the stored spec begins at once) and kept
as the process's schedule; deploying a version replaces the process's schedule row
(engine.persistence.start_models). The timer worker starts the cases (engine.scheduler.
starts). Only a fixed value can be scheduled: an expression would need a case's data,
and there is no case yet.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy.orm import Session

from engine.persistence.start_models import TimerStart

DATE, DURATION, CYCLE = "date", "duration", "cycle"
_EXTENSION = "kefuStartTimer"


@dataclass(frozen=True)
class StartTimer:
    spec_name: str
    kind: str
    value: str


def take_start_timer(spec: Any) -> tuple[StartTimer | None, str | None]:
    """(the process's start timer, or None; why it cannot be scheduled, or None). Takes the
    timer off the start event, so that a case the schedule starts begins at once."""
    starts = [t for t in spec.task_specs.values() if isinstance(t, StartEvent)]
    timed = [t for t in starts if isinstance(t.event_definition, TimerEventDefinition)]
    if not timed:
        return None, None
    if len(starts) > 1:
        return None, ("有定时器开始事件的流程只能有这一个开始事件 / a process with a timer start "
                      "event must have no other start event")
    event = timed[0]
    definition = event.event_definition
    try:
        value = ast.literal_eval(definition.expression.strip())
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, str):
        return None, (f"开始事件的定时器必须是固定的值，不能是表达式 {definition.expression!r} / "
                      "a start timer must be a fixed value, not an expression")
    kind = CYCLE if isinstance(definition, CycleTimerEventDefinition) else \
        DURATION if isinstance(definition, DurationTimerEventDefinition) else DATE
    event.event_definition = NoneEventDefinition()
    timer = StartTimer(event.bpmn_id, kind, value)
    event.extensions[_EXTENSION] = {"kind": kind, "value": value}  # kept with the spec
    return timer, None


def start_timer_in(spec: Any) -> StartTimer | None:
    """The start timer a built spec was given (to schedule a version deployed again)."""
    for task_spec in spec.task_specs.values():
        kept = getattr(task_spec, "extensions", {}).get(_EXTENSION) \
            if isinstance(task_spec, StartEvent) else None
        if kept:
            return StartTimer(task_spec.bpmn_id, kept["kind"], kept["value"])
    return None


def _duration(value: str, start: datetime) -> timedelta:
    return TimerEventDefinition.get_timedelta_from_start(
        TimerEventDefinition.parse_iso_duration(value), start)


def first_start(timer: StartTimer, now: datetime) -> tuple[datetime, int, int]:
    """(first start, starts in all (-1: no end), seconds between starts)."""
    if timer.kind == DATE:
        return TimerEventDefinition.get_datetime(timer.value), 1, 0
    if timer.kind == DURATION:
        return now + _duration(timer.value, now), 1, 0
    parts = timer.value.upper().split("/")
    cycles = int(parts[0][1:]) if parts[0][1:] else -1
    if len(parts) == 2:  # R3/PT1H: the first one interval after deploying
        interval = _duration(parts[1], now)
        return now + interval, cycles, int(interval.total_seconds())
    cycles, start, interval = TimerEventDefinition.parse_iso_recurring_interval(timer.value)
    return start, cycles, int(interval.total_seconds())


def schedule(session: Session, process_id: str, timer: StartTimer | None,
             now: datetime) -> None:
    """Make the process's schedule that of its newly deployed version."""
    row = session.get(TimerStart, process_id)
    if timer is None:
        if row is not None:
            session.delete(row)
        return
    next_at, remaining, interval = first_start(timer, now)
    if row is None:
        row = TimerStart(process_id=process_id, started=0)
        session.add(row)
    row.spec_name, row.expression = timer.spec_name, timer.value
    row.next_at, row.remaining, row.interval_seconds = next_at, remaining, interval


def advance(row: TimerStart) -> None:
    """After a start: the next time of a cycle, or none."""
    row.started += 1
    if row.remaining > 0:
        row.remaining -= 1
    if row.remaining == 0 or row.interval_seconds <= 0 or row.next_at is None:
        row.next_at = None
        return
    row.next_at = row.next_at + timedelta(seconds=row.interval_seconds)
