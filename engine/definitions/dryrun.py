"""The deploy check's dry run (issue 14): every path of a built process is walked in memory
before anything is kept, so that what would crash or get stuck in a live case is refused at
deploy rather than met by a customer's case.

A run is a workflow in memory under its own clock. At each user task it submits data drawn
from the task's form schema (`field_values`: each enum option and boolean value, numbers
at their bounds, strings at their lengths, an optional field left empty); a DMN task gets
inputs that hit each of its rules; a service task is answered by a stub that writes what
its operator documents (engine.definitions.operators.RESULTS) and touches nothing; timers
fire by moving the clock; a message or signal wait is something from outside and ends the
run. Runs differ in which value each choice (a field, a rule, an outcome) takes: first
every value in turn, each choice at its own pace, then random (seeded) combinations, until
every outgoing flow of every gateway reached has been taken, nothing new was found for a
while, or the cap (`MAX_RUNS` runs, `MAX_STEPS` steps a run, `BUDGET` seconds a process)
is reached. At the cap the walk simply stops and says so (a warning).

What surely breaks a live case is refused: a script, condition or expression that fails on
a path reached with the forms' data, a timer that does not evaluate to a time, a gateway
none of the drawn data can leave. What might be fine is a warning with its reason: a flow
no drawn data took, an error after an operator that documents no result, a run that never
stops by itself, the cap.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.cases.serializer import load_spec
from engine.cases.steps import apply_submission
from engine.cases.workflows import KefuWorkflow
from engine.clock import FixedClock
from engine.config import Settings
from engine.definitions import modeler, timers
from engine.definitions.operators import documented_results
from engine.definitions.specs import FORM_PROPERTY, BuiltProcess, task_title
from engine.errors import Problem
from engine.people.roles import LANE_OWNERS
from engine.scripting.sandbox import KefuScriptEngine
from engine.timing.deadlines import engine_clock, script_helpers, timer_due

START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
#: Runs per process at most; steps (tasks run, clock moves) per run at most.
MAX_RUNS = 200
MAX_STEPS = 400
#: Seconds the walks of one process may take: a check answers a person at the deploy page.
BUDGET = 2.0
#: Random runs in a row that take no new flow before the walk stops early.
PATIENCE = 60

_FIX_DATA = ("只用表单字段或前面的步骤写下的变量；可选字段没填时值为 None，先判断再用 / use only "
             "variables a form or an earlier step sets; an optional field left empty is None, "
             "so test it before using it")


def sample(schema: Any, pick: int = 0) -> Any:
    """A value the schema accepts, as a person filling the form might give it."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    options = _options(schema)
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


def _options(schema: Mapping[str, Any]) -> list[Any]:
    return list(schema.get("enum") or [o.get("const") for o in schema.get("oneOf", [])
                                       if isinstance(o, dict) and "const" in o])


def _field_values(schema: Mapping[str, Any]) -> list[Any]:
    """The values of one field worth trying: those a condition on it may tell apart."""
    options = _options(schema)
    if options:
        return options
    kind = schema.get("type")
    if kind == "boolean":
        return [True, False]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 1_000_001) - 1)
        values = [low, high, 1]
        return [v for i, v in enumerate(values) if v not in values[:i] and low <= v <= high]
    if kind == "string" and not schema.get("format"):
        return ["示" * max(1, schema.get("minLength", 1)),
                "示" * min(schema.get("maxLength", 200), 200)]
    return []


def field_values(schema: Any) -> dict[str, list[Any]]:
    """The values worth trying of each field a person fills in: each option, both truth
    values, numbers at their bounds, strings at their lengths, and None (left empty) for an
    optional field; a field with nothing to tell apart gets its one sample value."""
    if not isinstance(schema, dict):
        return {}
    required = set(schema.get("required") or [])
    found = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or prop.get("readOnly"):
            continue
        values = _field_values(prop) or [sample(prop)]
        found[name] = values if name in required else [*values, None]
    return found


def _dmn_variants(task_spec: Any) -> list[dict[str, Any]]:
    """Inputs that hit each rule of a business rule task's table (for its plain-name input
    expressions; entries such as `> 5` or `"complex"` give the value)."""
    engine = getattr(task_spec, "dmnEngine", None)
    if engine is None:
        return []
    found: list[dict[str, Any]] = []
    for rule in engine.decision_table.rules:
        data: dict[str, Any] = {}
        for entry in rule.inputEntries:
            name = (entry.input.expression or "").strip()
            if not name.isidentifier():
                continue
            for lhs in entry.lhs:
                value = _entry_value(lhs)
                if value is not _NO_VALUE:
                    data[name] = value
        if data and data not in found:
            found.append(data)
    return found


_NO_VALUE = object()
_COMPARISONS = {">=": 0, "<=": 0, ">": 1, "<": -1, "==": 0}


def _entry_value(text: str | None) -> Any:
    text = (text or "").strip()
    if not text or text == "-":
        return _NO_VALUE
    for operator, shift in _COMPARISONS.items():
        if text.startswith(operator):
            value = _literal(text[len(operator):])
            return value + shift if isinstance(value, int | float) and \
                not isinstance(value, bool) else value
    return _literal(text)


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return _NO_VALUE


@dataclass
class Report:
    """What the walks of one process found."""

    refusals: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    runs: int = 0
    #: True when a cap (runs, time) stopped the walks before every flow was taken.
    capped: bool = False


class _Capped(Exception):
    """A run reached MAX_STEPS."""


@dataclass
class _Finding:
    kind: str
    task: Any
    error: str
    certain: bool
    data: dict[str, Any]


def dry_run(settings: Settings, built: BuiltProcess) -> list[str]:
    """The warnings of the deploy check's walk (its refusals stop `build` already)."""
    return [str(w) for w in explore(settings, built).warnings]


def explore(settings: Settings, built: BuiltProcess) -> Report:
    """Walk every path of a built process; the report's refusals stop the deployment."""
    # The settings change what helpers answer; only their digest is kept (they hold secrets).
    key = (built.content_hash, hashlib.sha256(repr(settings).encode()).hexdigest())
    if key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = _Explorer(built, _helpers(settings)).explore()
    return _CACHE[key]


_CACHE: dict[tuple[str, str], Report] = {}


def _helpers(settings: Settings) -> dict[str, Any]:
    return {
        "now": lambda: START.isoformat(),
        "add_hours": lambda iso, hours: _shift(iso, timedelta(hours=hours)),
        "add_days": lambda iso, days: _shift(iso, timedelta(days=days)),
        "setting": settings.number,
        **script_helpers(settings),
    }


def _shift(iso: str, delta: timedelta) -> str:
    return (datetime.fromisoformat(iso) + delta).isoformat()


class _Explorer:
    def __init__(self, built: BuiltProcess, helpers: dict[str, Any]) -> None:
        self.built = built
        self.helpers = helpers
        self.spec, self.subprocesses = load_spec(built.spec_json)
        self.forms = {n: json.loads(t) for n, t in built.sources.items()
                      if n.endswith(".json")}
        self.targets = self._gateway_flows()
        self.taken: set[tuple[str, str]] = set()
        self.left: set[str] = set()
        self.findings: dict[tuple[str, str], _Finding] = {}
        self.endless = False
        #: Errors no task can be named for (warned about, as nothing locates them).
        self.unplaced: list[str] = []
        self.rng = random.Random(0)
        # Per run: how a choice is made, and what this run chose and met.
        self.run_number = 0
        self.widest = 1
        self.visits: dict[str, int] = {}
        self.certain = True
        self.submitted: dict[str, Any] = {}
        self.steps = 0
        self.current: Any = None

    # -- the walks -------------------------------------------------------------------
    def explore(self) -> Report:
        until = time.monotonic() + BUDGET
        quiet = 0
        report = Report()
        while self.run_number < MAX_RUNS:
            if time.monotonic() > until:
                report.capped = True
                break
            before = len(self.taken), len(self.findings)
            self._run_once()
            self.run_number += 1
            if self.targets <= self.taken and self.run_number >= self.widest:
                break  # every flow taken, and every value of every choice tried
            if self.run_number > self.widest:
                quiet = quiet + 1 if (len(self.taken), len(self.findings)) == before else 0
                if quiet >= PATIENCE:
                    break
        else:
            report.capped = not self.targets <= self.taken
        report.runs = self.run_number
        self._report(report)
        return report

    def choose(self, key: str, count: int) -> int:
        """The variant a choice takes: every one in turn over the first runs (a task
        met again in a loop moves on to the next), then at random."""
        if count <= 1:
            return 0
        self.widest = max(self.widest, count)
        seen = self.visits.get(key, 0)
        self.visits[key] = seen + 1
        if self.run_number < self.widest:  # each its own order, not all in step
            return (self.run_number * _stride(key, count) + seen) % count
        return self.rng.randrange(count)

    def _run_once(self) -> None:
        self.visits, self.certain, self.submitted, self.steps = {}, True, {}, 0
        self.current = None
        clock = FixedClock(START)
        workflow = KefuWorkflow(self.spec, self.subprocesses,
                                script_engine=KefuScriptEngine(self.helpers, _Stubs(self)))
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(case_number="DRYRUN", process=self.spec.name,
                             started_by="dryrun")
        try:
            with engine_clock(clock):
                self._steps(workflow, clock)
        except _Capped:
            self.endless = True
        except Exception as exc:  # noqa: BLE001 - whatever stops a run is what it reports
            self._found(exc)
        self._record_flows(workflow)

    def _steps(self, workflow: Any, clock: FixedClock) -> None:
        while True:
            workflow.do_engine_steps(will_complete_task=self._before)
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if ready:
                for task in ready:
                    self._before(task)
                    self._submit(task, clock)
                    task.run()
                continue
            waiting = [t for t in workflow.get_tasks(state=TaskState.WAITING)
                       if timer_due(t) is not None]
            if workflow.is_completed() or not waiting:
                return  # the end, or a wait for something from outside
            self._before(waiting[0])
            clock.set(max(clock.now(), min(timer_due(t) for t in waiting))
                      + timedelta(seconds=1))
            workflow.refresh_timers()

    def _before(self, task: Any) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Capped
        self.current = task
        rules = _dmn_variants(task.task_spec)
        if rules:
            chosen = self.choose(f"dmn:{task.task_spec.name}", len(rules) + 1)
            if chosen < len(rules):
                task.data.update(rules[chosen])

    def _submit(self, task: Any, clock: FixedClock) -> None:
        spec = task.task_spec
        form = spec.extensions.get("properties", {}).get(FORM_PROPERTY)
        schema = self.forms.get(form, {})
        submitted = {}
        for name, values in field_values(schema).items():
            value = values[self.choose(f"form:{spec.name}:{name}", len(values))]
            if value is not None:
                submitted[name] = value
        apply_submission(task.data, schema, submitted)
        now = clock.now().isoformat()
        task.data.update({f"{spec.bpmn_id}_by": _actor(task), f"{spec.bpmn_id}_at": now,
                          "owner": task.data.get("owner", "dryrun"),
                          "accepted_at": task.data.get("accepted_at", now)})
        self.submitted = {"task": spec.bpmn_id, **submitted}

    def service(self, task: Any, name: str, params: dict[str, Any]) -> dict[str, Any]:
        outcomes = documented_results(name, params)
        if not outcomes:
            self.certain = False
            return {}
        chosen = outcomes[self.choose(f"service:{task.task_spec.name}", len(outcomes))]
        task.data.update(chosen)
        return chosen

    # -- what a run met -----------------------------------------------------------
    def _found(self, exc: BaseException) -> None:
        task = _task_of(exc) or self.current
        if task is None:  # before any task ran: said as the process's own
            if _message(exc) not in self.unplaced:
                self.unplaced.append(_message(exc))
            return
        spec = task.task_spec
        if isinstance(spec, ExclusiveGateway | InclusiveGateway) and \
                "No conditions satisfied" in str(exc):
            kind = "stuck"
        elif isinstance(spec, CatchingEvent) and any(True for _ in timers.timer_definitions(spec)):
            kind = "timer"
        elif isinstance(spec, ExclusiveGateway | InclusiveGateway):
            kind = "condition"
        else:
            kind = "script"
        key = (spec.name, kind)
        if key not in self.findings or (self.certain and not self.findings[key].certain):
            self.findings[key] = _Finding(kind, task, _message(exc), self.certain,
                                          dict(self.submitted))

    def _gateway_flows(self) -> set[tuple[str, str]]:
        flows = set()
        for spec in [self.spec, *self.subprocesses.values()]:
            for task_spec in spec.task_specs.values():
                if isinstance(task_spec, ExclusiveGateway | InclusiveGateway) \
                        and len(task_spec.outputs) > 1:
                    flows |= {(task_spec.name, out.name) for out in task_spec.outputs}
        return flows

    def _record_flows(self, workflow: Any) -> None:
        for task in _all_tasks(workflow):
            parent = task.parent
            if parent is None or not isinstance(parent.task_spec,
                                                ExclusiveGateway | InclusiveGateway):
                continue
            if task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED,
                              TaskState.COMPLETED, TaskState.ERROR):
                self.taken.add((parent.task_spec.name, task.task_spec.name))
                self.left.add(parent.task_spec.name)

    # -- the report ---------------------------------------------------------------
    def _report(self, report: Report) -> None:
        for finding in self.findings.values():
            problem = self._problem(finding)
            sure = finding.certain and (finding.kind != "stuck"
                                        or finding.task.task_spec.name not in self.left)
            if sure:
                report.refusals.append(problem)
            else:
                zh, en = problem.reason.split(" / ", 1)
                problem = replace(problem, reason=(
                    f"{zh}（这条路径经过一个没有说明结果的服务任务，不一定会发生） / {en} (the "
                    "path passes a service task whose operator documents no result: it may "
                    "not happen)" if not finding.certain else
                    f"{zh}（其他数据能走出去） / {en} (other data does leave it)"))
                report.warnings.append(problem)
        reached = {gateway for gateway, _ in self.taken}
        for gateway, target in sorted(self.targets - self.taken):
            if gateway in reached:
                report.warnings.append(self._untaken(gateway, target))
        file, line = self._locate(self.spec.name)
        for error in self.unplaced:
            report.warnings.append(Problem(
                file=file, line=line, element=self.spec.name, reason=(
                    f"试运行出错：{_one_line(error)} / a dry run failed: {_one_line(error)}"),
                guide=f"{modeler.GUIDE}#testing"))
        if self.endless:
            report.warnings.append(Problem(
                file=file, line=line, element=self.spec.name, reason=(
                    f"试运行有一次走了 {MAX_STEPS} 步还没停下（没有人办、也没有定时器的循环？） / "
                    f"a dry run did not stop within {MAX_STEPS} steps (a loop with no person "
                    "and no timer in it?)"), guide=f"{modeler.GUIDE}#testing"))
        if report.capped:
            report.warnings.append(Problem(
                file=file, line=line, element=self.spec.name, reason=(
                    f"试运行在 {report.runs} 次后停止（上限），还有流向没有试到 / the dry run "
                    f"stopped at its cap after {report.runs} runs, with flows still untried"),
                guide=f"{modeler.GUIDE}#testing"))

    def _problem(self, finding: _Finding) -> Problem:
        spec = finding.task.task_spec
        zh_name, en_name = _halves(task_title(spec))
        error = _one_line(finding.error)
        data = _one_line(json.dumps(finding.data, ensure_ascii=False, default=str))[:200]
        with_data = f"（试运行数据 {data}）" if finding.data else ""
        with_data_en = f" (dry-run data {data})" if finding.data else ""
        kind = finding.kind
        if kind == "stuck":
            reason = (f"网关「{zh_name}」：试运行的所有数据都走不出去，没有条件成立，"
                      f"也没有默认流向 / gateway “{en_name}”: none of the drawn data can "
                      "leave it: no condition holds and there is no default flow")
            fix, guide = ("在建模器里选中一条流出的流向，设为默认流向 / mark one outgoing flow as "
                          "the default flow in the modeler"), "conditions"
        elif kind == "timer":
            reason = (f"定时器「{zh_name}」的值算不出时间{with_data}：{error} / the timer "
                      f"“{en_name}” does not evaluate to a time{with_data_en}: {error}")
            fix, guide = timers.FIX, "deadlines"
        elif kind == "condition":
            reason = (f"网关「{zh_name}」的条件出错{with_data}：{error} / a condition of gateway "
                      f"“{en_name}” fails{with_data_en}: {error}")
            fix, guide = _FIX_DATA, "conditions"
        else:
            reason = (f"「{zh_name}」的脚本或表达式出错{with_data}：{error} / the script or "
                      f"expression of “{en_name}” fails{with_data_en}: {error}")
            fix, guide = _FIX_DATA, "testing"
        file, line = self._locate(spec.bpmn_id)
        return Problem(file=file, reason=reason, line=line, element=spec.bpmn_id, fix=fix,
                       guide=f"{modeler.GUIDE}#{guide}")

    def _untaken(self, gateway: str, target: str) -> Problem:
        spec = next(s.task_specs[gateway] for s in [self.spec, *self.subprocesses.values()]
                    if gateway in s.task_specs)
        zh_name, en_name = _halves(task_title(spec))
        file, _line = self._locate(spec.bpmn_id)
        flow_id, line, condition = self._flow(file, spec.bpmn_id, target)
        said = f"（条件 {_one_line(condition)}）" if condition else "（默认流向）"
        said_en = f" (condition {_one_line(condition)})" if condition else " (the default flow)"
        return Problem(file=file, line=line, element=flow_id, reason=(
            f"网关「{zh_name}」的流向 {flow_id}{said}在 {self.run_number} 次试运行里从未走到，"
            f"没有哪组表单数据让它成立 / flow {flow_id} of gateway “{en_name}”{said_en} was "
            f"never taken in {self.run_number} dry runs: no drawn form data leads there"),
            fix=("若这条路只由服务任务或外部数据决定，可以不管；否则检查条件里的字段名和取值 / "
                 "if only a service task or outside data decides it, this may be fine; else "
                 "check the field names and values in the condition"),
            guide=f"{modeler.GUIDE}#conditions")

    def _flow(self, file: str, source: str, target: str) -> tuple[str, int | None, str | None]:
        """The id, line and condition of the sequence flow from `source` to `target`."""
        tree = self._tree(file)
        if tree is not None:
            for flow in tree.xpath("//*[local-name()='sequenceFlow'][@sourceRef=$s]"
                                   "[@targetRef=$t]", s=source, t=target):
                condition = flow.xpath("string(*[local-name()='conditionExpression'])").strip()
                return flow.get("id"), flow.sourceline, condition or None
        return target, None, None

    def _tree(self, file: str) -> Any:
        text = self.built.sources.get(file)
        if text is None:
            return None
        return etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False))

    def _locate(self, bpmn_id: str) -> tuple[str, int | None]:
        for name, text in self.built.sources.items():
            if name.endswith((".bpmn", ".dmn")) and f'id="{bpmn_id}"' in text:
                found = self._tree(name).xpath("//*[@id=$id]", id=bpmn_id)
                return name, found[0].sourceline if found else None
        return self.built.process_id, None


class _Stubs(dict):
    """Every operator id answers with what it documents; nothing outside is touched."""

    def __init__(self, explorer: _Explorer) -> None:
        super().__init__()
        self.explorer = explorer

    def get(self, name: str, _default: Any = None) -> Any:
        return lambda task, params: self.explorer.service(task, name, params)


def _stride(key: str, count: int) -> int:
    """A step through `count` variants, coprime with it so that every one comes up."""
    step = 1 + sum(key.encode()) % count
    while math.gcd(step, count) != 1:
        step += 1
    return step


def _all_tasks(workflow: Any) -> list[Any]:
    found = list(workflow.get_tasks())
    for sub in getattr(workflow, "subprocesses", {}).values():
        found.extend(sub.get_tasks())
    return found


def _task_of(exc: BaseException) -> Any:
    """The task an error happened at: the one SpiffWorkflow names, else the innermost task
    in the traceback (a bad timer value fails, unnamed, in the task before it)."""
    seen: BaseException | None = exc
    while seen is not None:
        task = getattr(seen, "task", None)
        if isinstance(task, Task):
            return task
        seen = seen.__cause__ or seen.__context__
    found, trace = None, exc.__traceback__
    while trace is not None:
        for value in trace.tb_frame.f_locals.values():
            if isinstance(value, Task):
                found = value
        trace = trace.tb_next
    return found


def _message(exc: BaseException) -> str:
    parts, seen = [], exc
    while seen is not None and len(parts) < 3:
        text = str(seen).strip()
        if text and not any(text in p for p in parts):
            parts.append(text)
        seen = seen.__cause__ or seen.__context__
    return "; ".join(parts) or type(exc).__name__


def _one_line(text: str) -> str:
    """One line, with no ` / ` (the separator of a message's two languages)."""
    return " ".join(str(text).split()).replace(" / ", "/")


def _halves(text: str) -> tuple[str, str]:
    """The Chinese and English of a `中文 / English` name (the name twice if it has one)."""
    if " / " in text:
        left, right = (p.strip() for p in text.split(" / ", 1))
        return left, right
    return text, text


def _actor(task: Any) -> str:
    """Who does the step in the walk: for a lane SpiffArena's `lane_owners` lists, one of
    its people, so that a script using the name (`….remove(first_approval_by)`) sees one of
    them as a live case would; otherwise a stand-in."""
    owners = task.data.get(LANE_OWNERS)
    listed = owners.get(task.task_spec.lane) if isinstance(owners, dict) else None
    if isinstance(listed, list) and listed and isinstance(listed[0], str):
        return listed[0]
    return "dryrun"
