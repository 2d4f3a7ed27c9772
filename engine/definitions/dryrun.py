"""A dry run of a built process before it is deployed: a workflow in memory, its user tasks
filled with data drawn from their forms' schemas, its timers fired by moving a private
clock, until it ends, waits for something from outside, or reaches a service task.

Nothing is stored and no operator runs: an operator's result is the real system's answer
(the roster, the SMS gateway), so a walk stops quietly at the first service task rather
than guess it. What the walk finds is reported as a warning beside the deploy check
(a script or condition that fails with the forms' own data, a timer that does not become
a time); the static checks in engine.definitions.specs are what refuse a deployment.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.cases.serializer import load_spec
from engine.cases.workflows import KefuWorkflow
from engine.clock import FixedClock
from engine.config import Settings
from engine.definitions.specs import FORM_PROPERTY, BuiltProcess, task_title
from engine.scripting.sandbox import KefuScriptEngine
from engine.timing.deadlines import engine_clock, script_helpers, timer_due

START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
STEPS = 60
#: Seconds a walk may take: a check answers a person waiting at the page, and a cycle
#: timer can keep a walk going without end (then it just stops, reporting nothing).
BUDGET = 1.0
#: Walks per process: the n-th walk picks each choice field's n-th option, so that the
#: branches a choice decides are walked too.
WALKS = 3


class _StopAtService(Exception):
    pass


def _stop(_task: Any, _params: dict[str, Any]) -> dict[str, Any]:
    raise _StopAtService


def sample(schema: Any, pick: int = 0) -> Any:
    """A value the schema accepts, as a person filling the form might give it."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    options = schema.get("enum") or [o.get("const") for o in schema.get("oneOf", [])
                                     if isinstance(o, dict) and "const" in o]
    if options:
        return options[pick % len(options)]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: sample(prop, pick) for name, prop in schema.get("properties", {}).items()
                if isinstance(prop, dict) and not prop.get("readOnly")}
    if kind == "array":
        return [sample(schema.get("items", {}), pick)] * max(1, schema.get("minItems", 1))
    if kind == "boolean":
        return pick % 2 == 0
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if schema.get("format") == "date":
        return START.date().isoformat()
    if schema.get("format") == "date-time":
        return START.isoformat()
    return "示例" * max(1, (schema.get("minLength", 1) + 1) // 2)


def dry_run(settings: Settings, built: BuiltProcess) -> list[str]:
    """Walk a built process with the installation's helpers under the walk's own clock."""
    helpers = {
        "now": lambda: START.isoformat(),
        "add_hours": lambda iso, hours: _shift(iso, timedelta(hours=hours)),
        "add_days": lambda iso, days: _shift(iso, timedelta(days=days)),
        "setting": settings.number,
        **script_helpers(settings),
    }
    return walk(built, helpers)


def _shift(iso: str, delta: timedelta) -> str:
    return (datetime.fromisoformat(iso) + delta).isoformat()


def walk(built: BuiltProcess, helpers: dict[str, Any]) -> list[str]:
    """Warnings, one per place a walk stopped with an error (Chinese / English)."""
    spec, subprocesses = load_spec(built.spec_json)
    forms = {n: json.loads(t) for n, t in built.sources.items() if n.endswith(".json")}
    found: list[str] = []
    for pick in range(WALKS):
        problem = _walk_once(spec, subprocesses, forms, helpers, pick)
        if problem and problem not in found:
            found.append(problem)
    return found


def _walk_once(spec: Any, subprocesses: Any, forms: dict[str, Any],
               helpers: dict[str, Any], pick: int) -> str | None:
    clock = FixedClock(START)
    operators = _AnyOperator()
    workflow = KefuWorkflow(spec, subprocesses,
                            script_engine=KefuScriptEngine(helpers, operators))
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(case_number="DRYRUN", process=spec.name, started_by="dryrun")
    where: Any = None
    try:
        with engine_clock(clock):
            until = time.monotonic() + BUDGET
            for _ in range(STEPS):
                if time.monotonic() > until:
                    return None
                workflow.do_engine_steps()
                ready = workflow.get_tasks(state=TaskState.READY, manual=True)
                if ready:
                    where = ready[0]
                    form = where.task_spec.extensions.get("properties", {}).get(FORM_PROPERTY)
                    where.data.update(sample(forms.get(form, {}), pick) or {})
                    where.data.update({f"{where.task_spec.bpmn_id}_by": "dryrun",
                                       f"{where.task_spec.bpmn_id}_at": clock.now().isoformat(),
                                       "owner": where.data.get("owner", "dryrun"),
                                       "accepted_at": where.data.get("accepted_at",
                                                                     clock.now().isoformat())})
                    where.run()
                    continue
                waiting = [t for t in workflow.get_tasks(state=TaskState.WAITING)
                           if timer_due(t) is not None]
                if workflow.is_completed() or not waiting:
                    return None
                where = waiting[0]
                clock.set(max(clock.now(), min(timer_due(t) for t in waiting))
                          + timedelta(seconds=1))
                workflow.refresh_timers()
    except _StopAtService:
        return None
    except Exception as exc:  # noqa: BLE001 - whatever stops a walk is what it reports
        if _stopped_at_service(exc):
            return None
        at = f"{where.task_spec.bpmn_id}「{task_title(where.task_spec)}」" if where else "开始"
        return (f"试运行（用表单示例数据）在 {at} 之后停下：{exc} / a dry run with the forms' "
                "sample data stopped here")
    return None


def _stopped_at_service(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _StopAtService):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _AnyOperator(dict):
    """Every operator id answers by stopping the walk (its result is the real system's)."""

    def get(self, _name: str, _default: Any = None) -> Any:
        return _stop
