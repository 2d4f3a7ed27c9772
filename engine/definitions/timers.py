"""Deploy-time judgement of timer values: a timer whose value cannot become a time or a
duration would fail every case that reaches it, so it is refused before it is stored.

A constant value is parsed exactly as SpiffWorkflow will parse it when the timer starts.
An expression (`working_time(accepted_at, "PT8H")`, `hours(setting(...))`, a data
variable) is checked when the deploy check walks the process with data; here only names
that cannot be a data variable or a helper (`两小时`, which Python reads as a name) are
refused.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

FIX = ("写 ISO 8601 的值：时长如 PT2H（2 小时）、P3D（3 天），时间如 2026-12-01T09:00:00+08:00，"
       "重复如 R3/PT1H；或写表达式如 working_time(accepted_at, \"PT8H\") / write an ISO 8601 "
       "value: a duration (PT2H, P3D), a time (2026-12-01T09:00:00+08:00), a cycle "
       "(R3/PT1H), or an expression such as working_time(accepted_at, \"PT8H\")")
_KIND = {DurationTimerEventDefinition: ("时长", "a duration"),
         TimeDateEventDefinition: ("时间", "a time"),
         CycleTimerEventDefinition: ("重复周期", "a repeating interval")}


def timer_definitions(task_spec: Any) -> Iterator[TimerEventDefinition]:
    """The timers a task spec waits for, including those an event-based gateway holds for
    the events after it."""
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        yield definition
    elif isinstance(definition, MultipleEventDefinition):
        yield from (d for d in definition.event_definitions
                    if isinstance(d, TimerEventDefinition))


def timer_problem(definition: TimerEventDefinition) -> str | None:
    """Why the timer's value can never be a time (Chinese / English), or None."""
    expression = definition.expression
    zh, en = _KIND.get(type(definition), ("时间或时长", "a time or duration"))
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return (f"定时器的值 {expression!r} 不是{zh}，也不是 Python 表达式 / the timer value "
                f"{expression!r} is not {en} nor a Python expression")
    body = tree.body
    if isinstance(body, ast.Constant):
        value = body.value
        if not isinstance(value, str) or not _parses(definition, value):
            return (f"定时器的值 {value!r} 不是{zh} / the timer value {value!r} is not {en}")
        return None
    if isinstance(body, ast.Name) and not body.id.isascii():
        return (f"定时器的值 {expression!r} 不是{zh}（Kefu 不认识中文写的时长） / the timer "
                f"value {expression!r} is not {en}")
    return None


def _parses(definition: TimerEventDefinition, value: str) -> bool:
    try:
        if isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif isinstance(definition, DurationTimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(value)
        else:
            return isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception on bad values
        return False
    return True
