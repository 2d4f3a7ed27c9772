"""What a deployment changes, as a process owner reads a diagram: tasks with their lanes and
forms, timers with their values, flows with their conditions, forms with their fields.

Compared as lines, one per element, between the newest deployed version and the files to
deploy: a line only in the new files is added, one only in the running version removed.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.specs.MultiChoice import MultiChoice

from engine.cases.serializer import load_spec
from engine.definitions.timers import timer_definitions


@dataclass(frozen=True)
class Diff:
    added: list[str]
    removed: list[str]


def describe(spec_json: str, sources: Mapping[str, str]) -> set[str]:
    """One line per task, timer, flow and form field of a stored or built version."""
    spec, subprocesses = load_spec(spec_json)
    lines: set[str] = set()
    for each in [spec, *subprocesses.values()]:
        for task_spec in each.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            if bpmn_id is None:
                continue
            if getattr(task_spec, "manual", False):
                form = task_spec.extensions.get("properties", {}).get(
                    "formJsonSchemaFilename", "")
                lines.add(f"任务 / task {bpmn_id} 「{task_spec.bpmn_name or ''}」 "
                          f"泳道 / lane {task_spec.lane} 表单 / form {form}")
            for timer in timer_definitions(task_spec):
                lines.add(f"定时器 / timer {bpmn_id} 「{task_spec.bpmn_name or ''}」 "
                          f"= {timer.expression}")
            conditions = {target: getattr(c, "args", [c])[0]
                          for c, target in getattr(task_spec, "cond_task_specs", [])} \
                if isinstance(task_spec, MultiChoice) else {}
            for output in task_spec.outputs:
                target = getattr(output, "bpmn_id", None) or output.name
                condition = conditions.get(output.name)
                lines.add(f"流向 / flow {bpmn_id} → {target}"
                          + (f" 条件 / if {condition}" if condition else ""))
    for name, text in sources.items():
        if name.endswith(".json"):
            try:
                properties = json.loads(text).get("properties", {})
            except (ValueError, AttributeError):
                continue
            for field, prop in properties.items():
                title = prop.get("title", "") if isinstance(prop, dict) else ""
                lines.add(f"表单 / form {name} 字段 / field {field} 「{title}」"
                          + _choices(prop))
    return lines


def _choices(prop: Any) -> str:
    if not isinstance(prop, dict):
        return ""
    values = prop.get("enum") or [o.get("const") for o in prop.get("oneOf", [])
                                  if isinstance(o, dict)]
    return f" 选项 / choices {values}" if values else ""


def diff(old: set[str], new: set[str]) -> Diff:
    return Diff(added=sorted(new - old), removed=sorted(old - new))


_LABEL = re.compile(r"(\d+(?:\.\d+)?)\s*(个?小时|hours?|hrs?|h\b|天|days?|d\b|分钟|minutes?|mins?)",
                    re.IGNORECASE)
_UNIT = {"小": 3600, "个": 3600, "h": 3600, "天": 86400, "d": 86400, "分": 60, "m": 60}


def label_warnings(spec_json: str) -> list[str]:
    """Timers whose name says another time than their value (a boundary labelled "2 小时"
    whose value is PT1H): the diagram people read would not be what runs."""
    spec, subprocesses = load_spec(spec_json)
    out = []
    for each in [spec, *subprocesses.values()]:
        for task_spec in each.task_specs.values():
            name = getattr(task_spec, "bpmn_name", None) or ""
            said = _LABEL.search(name)
            if not said:
                continue
            for timer in timer_definitions(task_spec):
                seconds = _constant_seconds(timer.expression)
                meant = float(said.group(1)) * _UNIT[said.group(2)[0].lower()]
                if seconds is not None and abs(seconds - meant) > 1:
                    out.append(f"定时器 {task_spec.bpmn_id}「{name}」的值是 {timer.expression}"
                               f"（{seconds / 3600:g} 小时），与名称不符 / the timer's value "
                               "contradicts its label")
    return out


def _constant_seconds(expression: str) -> float | None:
    try:
        value = ast.literal_eval(expression.strip())
        parsed = TimerEventDefinition.parse_iso_duration(value)
        return TimerEventDefinition.get_timedelta_from_start(parsed).total_seconds()
    except Exception:  # noqa: BLE001 - not a constant duration: nothing to compare
        return None
