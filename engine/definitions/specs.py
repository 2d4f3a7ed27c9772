"""Parse and validate process files, and deploy them as content-hashed versions.

Deploying is all-or-nothing: every problem in every file is collected and reported with
its file, line and element, and nothing is stored unless the whole set is sound.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.serializer import dump_spec
from engine.cases.steps import declaration_problems
from engine.config import Settings
from engine.definitions import modeler, timers, timerstarts
from engine.definitions.forms import condition_problems
from engine.definitions.operators import REGISTRY
from engine.errors import DeploymentError, Problem, ScriptError
from engine.messages.attachments import declaration_problems as attachment_problems
from engine.people.organisation import Directory, directory
from engine.people.pickers import declaration_problems as picker_problems
from engine.people.roles import (
    ANYONE,
    CANDIDATE_USER,
    KNOWN_ROLES,
    LANE_OWNERS,
    OFFER_DEPARTMENT,
    OFFER_USERS,
)
from engine.persistence.models import ProcessVersion
from engine.scripting.sandbox import check_source
from engine.timing.calendar import parse_duration

FORM_PROPERTY = "formJsonSchemaFilename"
#: The form of a task whose process names none (a plain or manual task, or a user task
#: drawn without one): a person confirms it is done. Stored with the version like any form.
DONE_FORM = "kefu_done.json"
#: Who does the tasks of a process drawn without lanes: the case's starter (data variable),
#: shown under the role every member of staff holds first.
STARTER, STARTER_ROLE = "started_by", "agent"
DONE_FORM_TEXT = json.dumps({
    "title": "完成 / Done", "type": "object", "properties": {},
    "description": "确认这一步已完成 / Confirm this step is done",
}, ensure_ascii=False, indent=2)
BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def task_title(task_spec: Any) -> str:
    """What people see of a task: its BPMN name, else its id."""
    return task_spec.bpmn_name or task_spec.bpmn_id


@dataclass
class BuiltProcess:
    """A process ready to store: its spec, the files it came from and their hash."""

    process_id: str
    name: str
    spec_json: str
    sources: dict[str, str]
    content_hash: str
    #: A timer start event's schedule (engine.definitions.timerstarts), or None.
    start_timer: Any = None
    #: What the deploy check's dry run found that might go wrong (engine.definitions.dryrun).
    warnings: tuple[Problem, ...] = ()


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)
    trees: dict[str, Any] = field(default_factory=dict)
    #: Forms Kefu made (the "done" form, a form with its UI schema folded in), by name.
    made: dict[str, str] = field(default_factory=lambda: {DONE_FORM: DONE_FORM_TEXT})
    #: The departments and people a file may name (empty: the files name roles only).
    organisation: Directory = field(default_factory=Directory)

    def add(self, file: str, reason: str, element: str | None = None,
            line: int | None = None, fix: str | None = None, guide: str | None = None) -> None:
        if line is None and element and file in self.trees:
            found = self.trees[file].xpath("//*[@id=$id]", id=element)
            line = found[0].sourceline if found else None
        problem = Problem(file=file, reason=reason, line=line, element=element, fix=fix,
                          guide=f"{modeler.GUIDE}#{guide}" if guide else None)
        if problem not in self.problems:  # a called process is checked with each caller
            self.problems.append(problem)


def read_files(processes_dir: Path, forms_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The process and form files of a deployment, by file name."""
    def read(folder: Path, patterns: Iterable[str]) -> dict[str, str]:
        return {
            p.name: p.read_text(encoding="utf-8")
            for pattern in patterns for p in sorted(folder.glob(pattern))
        }
    return read(processes_dir, ("*.bpmn", "*.dmn")), read(forms_dir, ("*.json",))


def read_paths(paths: Iterable[Path]) -> tuple[dict[str, str], dict[str, str]]:
    """The process and form files named on `kefu deploy PATH...`: files, or every .bpmn,
    .dmn and .json under a folder. Files are known by their plain name (a task names its
    form so), so two files of one name are refused rather than one silently winning."""
    found: dict[str, Path] = {}
    problems = []
    for path in paths:
        if path.is_dir():
            members = sorted(m for pattern in ("*.bpmn", "*.dmn", "*.json")
                             for m in path.rglob(pattern) if m.is_file())
        elif path.is_file() and path.suffix in (".bpmn", ".dmn", ".json"):
            members = [path]
        else:
            problems.append(Problem(file=str(path), reason="不是 .bpmn、.dmn、.json 文件或文件夹"
                                    " / not a .bpmn, .dmn or .json file nor a folder"))
            continue
        for member in members:
            if member.name in found and found[member.name].resolve() != member.resolve():
                problems.append(Problem(
                    file=str(member), reason=f"与 {found[member.name]} 同名 / has the same "
                    f"name as {found[member.name]}",
                    fix="改名，或只部署其中一个 / rename one, or deploy only one of them"))
            found.setdefault(member.name, member)
    if problems:
        raise DeploymentError(problems)
    process_files = {n: p.read_text(encoding="utf-8") for n, p in found.items()
                     if not n.endswith(".json")}
    form_files = {n: p.read_text(encoding="utf-8") for n, p in found.items()
                  if n.endswith(".json")}
    return process_files, form_files


def build(process_files: Mapping[str, str], form_files: Mapping[str, str],
          operators: Collection[str] | None = None, settings: Settings | None = None,
          walk: bool = True, organisation: Directory | None = None) -> list[BuiltProcess]:
    """Validate a whole deployment and build every executable process in it; `operators`:
    the service operator ids a service task may name (default: every registered one);
    `organisation`: the departments and people a file may name (`directory(session)`;
    default none, and a file naming one is refused).

    With `walk` (a deployment always), each sound process is then walked along its paths
    in memory (engine.definitions.dryrun, with `settings`' helpers): what would fail a
    live case is refused too, and what might is kept as the process's warnings. Tests of
    what the running engine does with a bad process build it with walk=False."""
    out = _Collector(organisation=organisation or Directory())
    forms = _check_forms(form_files, out)
    forms.setdefault(DONE_FORM, json.loads(DONE_FORM_TEXT))
    parser = SpiffBpmnParser(validator=VALIDATOR)
    for name, text in process_files.items():
        _add_file(parser, name, text, out)
    if out.problems:
        raise DeploymentError(out.problems)
    _check_call_cycles(out)
    for dmn in parser.dmn_parsers.values():
        _check_decision(dmn, out)
    known_operators = set(REGISTRY if operators is None else operators)

    built = []
    for process_id in _processes_to_deploy(parser, out):
        process_parser = parser.get_process_parser(process_id)
        filename = process_parser.filename
        try:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            out.add(exc.file_name or filename, str(exc), exc.id or None, exc.line_number or None)
            continue
        except (SpiffWorkflowException, KeyError, ValueError) as exc:
            out.add(filename, f"cannot build process {process_id!r}: {exc}")
            continue
        used = {filename}
        for each in [spec, *subprocess_specs.values()]:
            # A called process's problems belong to its own file (and its lines).
            used |= _check_tasks(each, each.file or filename, parser, forms,
                                  known_operators, out)
        start_timer, why = timerstarts.take_start_timer(spec)
        if why:
            out.add(filename, why, process_id, fix=timers.FIX, guide="deadlines")
        sources = {n: (process_files.get(n) or form_files.get(n) or out.made[n])
                   for n in sorted(used)}
        built.append(BuiltProcess(
            process_id=process_id,
            name=process_parser.get_name() or process_id,
            spec_json=dump_spec(spec, subprocess_specs),
            sources=sources,
            content_hash=files_hash(sources),
            start_timer=start_timer,
        ))
    if out.problems:
        raise DeploymentError(out.problems)
    if walk:
        _walk(built, settings or Settings(), out)
    return built


def _walk(built: list[BuiltProcess], settings: Settings, out: _Collector) -> None:
    from engine.definitions import dryrun  # it builds on this module's BuiltProcess

    for process in built:
        report = dryrun.explore(settings, process)
        process.warnings = tuple(report.warnings)
        for problem in report.refusals:
            if problem not in out.problems:
                out.problems.append(problem)
    if out.problems:
        raise DeploymentError(out.problems)


def files_hash(sources: Mapping[str, str]) -> str:
    """A version's identity: the SHA-256 of its files, names and contents."""
    digest = hashlib.sha256()
    for n, text in sorted(sources.items()):
        digest.update(n.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _add_file(parser: SpiffBpmnParser, name: str, text: str, out: _Collector) -> None:
    try:
        tree = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        out.add(name, f"malformed XML: {exc.msg}", line=exc.lineno)
        return
    out.trees[name] = tree
    if name.endswith(".bpmn"):
        modeler.normalise(tree, lambda reason, element, line, fix, guide:
                          out.add(name, reason, element, line, fix, guide), out.organisation)
        _check_lanes_and_flows(name, tree, out)
        _check_compensation(name, tree, out)
    elif not tree.xpath("//*[local-name()='decision']"):
        out.add(name, "决策表文件里没有决策（decision）/ the DMN file holds no decision",
                line=tree.sourceline,
                fix="在 DMN 编辑器里加一个决策表，或删掉这个文件 / add a decision table in "
                    "the DMN editor, or remove the file", guide="decisions")
        return
    try:
        if name.endswith(".dmn"):
            parser.add_dmn_xml(tree, filename=name)
        else:
            parser.add_bpmn_xml(tree, filename=name)
    except ValidationException as exc:
        out.add(name, f"{exc}", exc.id or None, exc.line_number or None)
    except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError) as exc:
        out.add(name, f"cannot parse: {exc}")


def _check_lanes_and_flows(name: str, tree: Any, out: _Collector) -> None:
    """Checks SpiffWorkflow reports obscurely or not at all, located at the element."""
    # SpiffArena names lanes freely and says who does their tasks in `lane_owners`.
    owners_set = any(LANE_OWNERS in (e.text or "") for e in tree.iter()
                     if isinstance(e.tag, str) and e.tag.endswith(("script", "Script")))
    for lane in tree.iterfind(".//bpmn:lane", BPMN_NS):
        lane_name = lane.get("name") or ""
        if lane_name in KNOWN_ROLES or out.organisation.department(lane_name) or owners_set:
            continue
        out.add(name, f"泳道 {lane_name!r} 既不是角色也不是部门 / lane {lane_name!r} names no "
                      f"known role (known: {', '.join(sorted(KNOWN_ROLES))}) nor department",
                lane.get("id"), lane.sourceline,
                fix="用角色 id 或部门（编号或名称）给泳道命名，或在任务之前的脚本里设置 "
                    f"{LANE_OWNERS} / name the lane with a role id or a department, or set "
                    f"{LANE_OWNERS} in a script before its tasks", guide="roles")
    for gateway in tree.iterfind(".//bpmn:inclusiveGateway", BPMN_NS):
        outgoing = tree.xpath("//*[local-name()='sequenceFlow'][@sourceRef=$id]",
                              id=gateway.get("id"))
        if len(outgoing) > 1 and not gateway.get("default"):
            _no_default(out, name, gateway.get("id"), ("包容", "inclusive"), gateway.sourceline)
    for process in tree.iterfind(".//bpmn:process", BPMN_NS):
        ids = {e.get("id") for e in process.iter() if e.get("id")}
        for flow in process.iterfind(".//bpmn:sequenceFlow", BPMN_NS):
            for end in ("sourceRef", "targetRef"):
                if flow.get(end) not in ids:
                    out.add(name, f"sequence flow {end} points to missing element "
                                  f"{flow.get(end)!r}", flow.get("id"), flow.sourceline)


def _check_compensation(name: str, tree: Any, out: _Collector) -> None:
    """SpiffWorkflow 3.2 implements no compensation: a compensation boundary event is not
    parsed, and a compensation throw or end event would pass as a plain event, so nothing
    would be undone while the diagram says it is. Refused, naming the element."""
    marked = tree.xpath("//*[*[local-name()='compensateEventDefinition']]"
                        " | //*[@isForCompensation='true']")
    for element in marked:
        kind = etree.QName(element).localname
        zh, en = (element.get("name") or element.get("id"), ) * 2
        if " / " in zh:
            zh, en = zh.split(" / ", 1)
        what = (f"{kind}「{zh}」是补偿处理任务，永远不会运行", f"{kind} “{en}” is a compensation "
                "handler, which never runs") if element.get("isForCompensation") == "true" \
            else (f"{kind}「{zh}」不会撤销任何步骤", f"{kind} “{en}” would undo nothing")
        out.add(name, f"Kefu 不支持补偿（compensation）：{what[0]} / compensation is not "
                      f"supported: {what[1]} (SpiffWorkflow 3.2 does not implement it)",
                element.get("id"),
                element.sourceline,
                fix="把撤销画成普通的步骤：用网关或边界错误/升级事件走到一个“撤销”任务 / draw "
                    "the undoing as ordinary steps: a gateway, or an error or escalation "
                    "boundary event, leading to an undo task", guide="events")


def _no_default(out: _Collector, filename: str, bpmn_id: str, kind: tuple[str, str],
                line: int | None = None) -> None:
    out.add(filename, f"{kind[0]}网关没有默认流向：没有条件成立时案件会卡住 / "
                      f"{kind[1]} gateway has no default flow", bpmn_id, line,
            fix="在建模器里选中一条流出的流向，设为默认流向 / mark one outgoing flow as the "
                "default flow in the modeler", guide="conditions")


def _check_forms(form_files: Mapping[str, str], out: _Collector) -> dict[str, dict]:
    forms = {}
    for name, text in form_files.items():
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            out.add(name, f"not valid JSON: {exc.msg}", line=exc.lineno)
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            path = "/".join(str(p) for p in exc.path) or "(root)"
            out.add(name, f"not a valid JSON Schema at {path}: {exc.message}")
            continue
        problems = [*declaration_problems(schema), *condition_problems(schema),
                    *picker_problems(schema),
                    *(f"attachment {p}" for p in attachment_problems(schema))]
        for problem in problems:
            out.add(name, problem)
        if not problems:
            forms[name] = schema
    return forms


def _check_tasks(spec: Any, filename: str, parser: SpiffBpmnParser, forms: Mapping[str, dict],
                 operators: Collection[str], out: _Collector) -> set[str]:
    """Kefu's own rules on top of the XSD; returns the DMN and form files the spec uses."""
    used: set[str] = set()
    lanes = any(getattr(t, "lane", None) for t in spec.task_specs.values())
    for task_spec in spec.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            continue
        if getattr(task_spec, "manual", False):  # user, manual and plain tasks
            used |= _check_user_task(task_spec, filename, forms, out, lanes)
        for attribute in ("script", "prescript", "postscript"):
            script = getattr(task_spec, attribute, None)
            if script:
                _check_code(script, "exec", filename, bpmn_id, attribute, out)
        if isinstance(task_spec, MultiChoice):
            for condition, _target in task_spec.cond_task_specs:
                text = getattr(condition, "args", [condition])[0]
                if isinstance(text, str):
                    _check_code(text, "eval", filename, bpmn_id, "condition", out)
        if isinstance(task_spec, ExclusiveGateway) and task_spec.default_task_spec is None:
            _no_default(out, filename, bpmn_id, ("排他", "exclusive"))
        definition = getattr(task_spec, "event_definition", None)
        if isinstance(definition, MessageEventDefinition) \
                and isinstance(getattr(definition, "expression", None), str):
            _check_code(definition.expression, "eval", filename, bpmn_id, "message payload", out)
        if isinstance(task_spec, CatchingEvent):
            for timer in timers.timer_definitions(task_spec):
                problem = timers.timer_problem(timer)
                if problem:
                    out.add(filename, problem, _timer_owner(task_spec, timer), fix=timers.FIX,
                            guide="deadlines")
                else:
                    _check_code(timer.expression, "eval", filename, bpmn_id,
                                "timer expression", out)
        for param in (getattr(task_spec, "operation_params", None) or {}).values():
            _check_code(param["value"], "eval", filename, bpmn_id, "service parameter", out)
        operation = getattr(task_spec, "operation_name", None)
        if operation is not None and operation not in operators:
            out.add(filename, f"服务任务的操作 {operation!r} 不存在 / service task names operator "
                              f"{operation!r}, which does not exist (known: "
                              f"{', '.join(sorted(operators))})", bpmn_id,
                    fix="在建模器里选一个已有的操作 id（列在括号里），或请开发人员先登记这个操作 / "
                        "pick an operator id listed in the brackets, or have a developer "
                        "register this one first", guide="replies")
        engine = getattr(task_spec, "dmnEngine", None)
        if engine is not None:
            used |= {p.filename for p in parser.dmn_parsers.values() if p.decision is not None
                     and engine.decision_table.id in {t.id for t in p.decision.decisionTables}}
    return used


def _timer_owner(task_spec: Any, timer: Any) -> str:
    """The element a timer is drawn on: an event-based gateway holds its events'
    definitions in the order of its outgoing flows (SpiffWorkflow moves them there)."""
    held = getattr(task_spec.event_definition, "event_definitions", None)
    if held is not None:
        index = next(i for i, d in enumerate(held) if d is timer)
        if index < len(task_spec.outputs):
            return task_spec.outputs[index].bpmn_id
    return task_spec.bpmn_id


def _check_user_task(task_spec: Any, filename: str, forms: dict[str, dict],
                     out: _Collector, lanes: bool) -> set[str]:
    """A task a person does: a lane (or candidateGroups) gives its role, a form what they
    fill in; a task drawn without a form gets the "done" form. In a process drawn with no
    lanes at all (bpmn.io's and SpiffArena's default), every task is offered to the person
    who started the case, as SpiffArena does."""
    bpmn_id = task_spec.bpmn_id
    properties = task_spec.extensions.setdefault("properties", {})
    if task_spec.lane is None and properties.get(OFFER_USERS):
        task_spec.lane = ANYONE  # offered to the people it names, whatever their role
    if not lanes and task_spec.lane is None and not properties.get("candidateGroups"):
        properties.setdefault(CANDIDATE_USER, STARTER)
        task_spec.lane = STARTER_ROLE
    groups = properties.get("candidateGroups")
    if groups:
        _offer_to_groups(task_spec, groups, filename, out)
    elif task_spec.lane not in KNOWN_ROLES and task_spec.lane is not None:
        code = out.organisation.department(task_spec.lane)
        if code:  # a lane named after a department: anyone in it
            properties[OFFER_DEPARTMENT] = code
    if task_spec.lane is None and not groups:
        out.add(filename, "任务不在任何泳道里，没有角色能做 / the task is in no lane, so no "
                          "role may do it", bpmn_id,
                fix="把它放进以角色 id 命名的泳道（如 agent），或写 camunda:candidateGroups / "
                    "put it in a lane named with a role id (e.g. agent), or set "
                    "camunda:candidateGroups", guide="roles")
    if properties.get("dueIn"):
        try:
            parse_duration(properties["dueIn"])
        except ValueError as exc:
            out.add(filename, f"property dueIn: {exc}", bpmn_id)
    due_at = properties.get("dueAt")
    if due_at and not due_at.isidentifier():
        out.add(filename, f"property dueAt: {due_at!r} is not a data variable name", bpmn_id)
    form = properties.get(FORM_PROPERTY)
    if not form:
        properties[FORM_PROPERTY] = form = DONE_FORM
    if form not in forms:
        out.add(filename, f"表单文件 {form!r} 不存在或无效 / form file {form!r} is missing "
                          "or invalid", bpmn_id,
                fix="把表单 .json 文件和流程一起部署，或改正文件名 / deploy the form's .json "
                    "file with the process, or correct its name", guide="forms")
        return set()
    ui = properties.get(modeler.UI_PROPERTY)
    if not ui:
        return {form}
    if ui not in forms:
        out.add(filename, f"UI schema 文件 {ui!r} 不存在或无效 / UI schema file {ui!r} is "
                          "missing or invalid", bpmn_id,
                fix="把它和表单一起部署，或删掉 formUiSchemaFilename / deploy it with the "
                    "form, or remove formUiSchemaFilename", guide="forms")
        return {form}
    merged, problems = modeler.apply_ui_schema(forms[form], forms[ui])
    for problem in problems:
        out.add(filename, f"UI schema {ui}: {problem}", bpmn_id,
                fix="删掉这一项，或在表单 JSON Schema 里用 readOnly/description/format 表达 / "
                    "remove it, or say it in the form's JSON Schema", guide="forms")
    name = f"{form.removesuffix('.json')}+{ui}"
    forms[name] = merged
    out.made[name] = json.dumps(merged, ensure_ascii=False, indent=2)
    properties[FORM_PROPERTY] = name
    return {form, ui, name}


def _offer_to_groups(task_spec: Any, groups: str, filename: str, out: _Collector) -> None:
    """Camunda's candidateGroups: a role id gives the task's role, a department (its code
    or name) narrows it to that department, or offers it to anyone in the department
    when no role is named. A group naming neither is refused, naming it."""
    properties = task_spec.extensions["properties"]
    roles, departments = [], []
    for group in (g.strip() for g in groups.split(",") if g.strip()):
        code = out.organisation.department(group)
        if group in KNOWN_ROLES:
            roles.append(group)
        elif code:
            departments.append(code)
        else:
            out.add(filename, f"candidateGroups 里的 {group!r} 既不是角色也不是部门 / "
                              f"candidateGroups: {group!r} names no known role nor "
                              "department", task_spec.bpmn_id,
                    fix=f"写角色 id（{', '.join(sorted(KNOWN_ROLES))}）或组织文件里的部门编号"
                        f"或名称（{'、'.join(out.organisation.departments) or '—'}）/ write a "
                        "role id or a department's code or name", guide="roles")
    if roles:
        task_spec.lane = roles[0]
    if departments:
        properties[OFFER_DEPARTMENT] = departments[0]
        if not roles:
            task_spec.lane = ANYONE


def _processes_to_deploy(parser: SpiffBpmnParser, out: _Collector) -> list[str]:
    """The executable processes, and a file's non-executable one when it is all the file
    holds (bpmn.io marks every new diagram isExecutable="false"); any other
    non-executable process that no call activity calls is refused, never skipped."""
    called = {c for tree in out.trees.values()
              for c in tree.xpath("//*[local-name()='callActivity']/@calledElement")}
    ids = list(parser.process_parsers)  # get_process_ids() drops non-executable ones
    executable_files = {parser.get_process_parser(i).filename for i in ids
                        if parser.get_process_parser(i).process_executable}
    chosen = []
    for process_id in ids:
        process_parser = parser.get_process_parser(process_id)
        if process_parser.process_executable or process_parser.filename not in executable_files:
            process_parser.process_executable = True  # SpiffWorkflow builds only these
            chosen.append(process_id)
            continue
        if process_id in called:  # deployed inside the process that calls it
            process_parser.process_executable = True
            continue
        out.add(process_parser.filename,
                f"流程 {process_id!r} 标记为不可执行（isExecutable=\"false\"），同一文件里还有"
                f"可执行的流程 / process {process_id!r} is marked non-executable next to an "
                "executable one", process_id,
                fix="在建模器里勾选“可执行 / Executable”，或删掉这个池 / tick Executable in "
                    "the modeler, or remove the pool", guide="deploy")
    return chosen


def _check_call_cycles(out: _Collector) -> None:
    """A call activity that leads back to its own process would nest cases without end."""
    calls: dict[str, list[tuple[str, str, str]]] = {}
    for name, tree in out.trees.items():
        for process in tree.iterfind(".//bpmn:process", BPMN_NS):
            calls.setdefault(process.get("id"), []).extend(
                (call.get("calledElement"), name, call.get("id"))
                for call in process.iterfind(".//bpmn:callActivity", BPMN_NS))
    for start, outgoing in calls.items():
        for callee, name, element in outgoing:
            path = _path_back(callee, start, calls)
            if path is not None:
                loop = " → ".join([start, *path])
                out.add(name, f"调用活动调用 {callee!r}，又绕回 {start!r}（{loop}）：流程不能调用"
                              f"自己 / call activity calls {callee!r}, which leads back to "
                              f"{start!r} ({loop}): a process may not call itself", element,
                        fix="去掉这个调用，或把要重复的步骤画成流程内的循环 / remove the call, or "
                            "draw the repetition as a loop inside the process", guide="testing")


def _path_back(node: str, target: str, calls: Mapping[str, list[tuple[str, str, str]]],
               seen: set[str] | None = None) -> list[str] | None:
    """The processes from `node` to `target` along call activities, or None."""
    if node == target:
        return [node]
    seen = seen if seen is not None else set()
    if node in seen:
        return None
    seen.add(node)
    for callee, _name, _element in calls.get(node, []):
        rest = _path_back(callee, target, calls, seen)
        if rest is not None:
            return [node, *rest]
    return None


def _check_decision(dmn: Any, out: _Collector) -> None:
    """Every DMN cell is an expression run in the sandbox: checked as SpiffWorkflow's DMN
    engine will evaluate it (an input entry against its input expression)."""
    name = dmn.filename
    try:
        dmn.parse()  # SpiffWorkflow parses a decision only when a task asks for it
    except (SpiffWorkflowException, KeyError, ValueError) as exc:
        out.add(name, f"cannot parse decision: {exc}")
        return
    for table in dmn.decision.decisionTables:
        sound = {column.id for column in table.inputs
                 if _check_code(column.expression, "eval", name, column.id, "input expression",
                                out)}
        for rule in table.rules:
            for entry in rule.inputEntries:
                for lhs in entry.lhs:
                    if lhs and entry.input.id in sound:  # else its column is reported
                        _check_code(_dmn_match(entry.input.expression, lhs), "eval", name,
                                    entry.id, "input entry", out)
            for entry in rule.outputEntries:
                if entry.text:
                    _check_code(entry.text, "eval", name, entry.id, "output entry", out)


def _dmn_match(input_expression: str, entry: str) -> str:
    """The expression SpiffWorkflow's DMNEngine.evaluate makes of an input entry."""
    entry = _DMN_QUESTION_MARK.sub("dmninputexpr", entry)
    if "dmninputexpr" in entry:
        return entry
    try:
        ast.parse(entry, mode="eval")
    except SyntaxError:
        return input_expression + entry
    return f"({input_expression}) == ({entry})"


#: DMNEngine's own pattern: a `?` outside quotes stands for the input's value.
_DMN_QUESTION_MARK = re.compile(r'(\?)(?=(?:[^\'"]|[\'"][^\'"]*[\'"])*$)')


def _check_code(source: str, mode: str, filename: str, bpmn_id: str, what: str,
                out: _Collector) -> bool:
    try:
        check_source(source, mode)
    except ScriptError as exc:
        out.add(filename, f"{what} does not compile or leaves the sandbox: {exc}", bpmn_id)
        return False
    return True


def deploy(session: Session, built: list[BuiltProcess], actor: str,
           now: Any) -> list[tuple[ProcessVersion, bool]]:
    """Store each process whose files differ from its newest version as a new version; an
    unchanged one is a no-op. Files equal to an earlier version become the newest again
    (a roll back): their version's hash is then the files' hash salted with the version
    number, as each stored version's hash is unique.

    Returns (version, created) pairs. The caller commits, so a failure stores nothing.
    """
    results = []
    for process in built:
        newest = _newest(session, process.process_id)
        if newest is not None and files_hash(newest.sources) == process.content_hash:
            results.append((newest, False))
            continue
        number = (newest.version if newest is not None else 0) + 1
        content_hash = process.content_hash
        if session.scalar(select(ProcessVersion.id).where(
                ProcessVersion.process_id == process.process_id,
                ProcessVersion.content_hash == content_hash)) is not None:
            content_hash = hashlib.sha256(f"{content_hash}:v{number}".encode()).hexdigest()
        version = ProcessVersion(
            process_id=process.process_id, version=number, name=process.name,
            content_hash=content_hash, spec_json=process.spec_json,
            sources=process.sources, deployed_at=now, deployed_by=actor,
        )
        session.add(version)
        timerstarts.schedule(session, process.process_id, process.start_timer, now)
        results.append((version, True))
    session.flush()
    return results


def check(session: Session, built: list[BuiltProcess]) -> list[tuple[BuiltProcess, int | None]]:
    """What deploying would do, storing nothing: each process with the version it would
    become (None: unchanged, an equal version is deployed)."""
    out = []
    for process in built:
        newest = _newest(session, process.process_id)
        if newest is not None and files_hash(newest.sources) == process.content_hash:
            out.append((process, None))
        else:
            out.append((process, (newest.version if newest is not None else 0) + 1))
    return out


def _newest(session: Session, process_id: str) -> ProcessVersion | None:
    return session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                          .order_by(ProcessVersion.version.desc()).limit(1))


def deploy_directories(session: Session, processes_dir: Path, forms_dir: Path, actor: str,
                       now: Any) -> list[tuple[ProcessVersion, bool]]:
    """Validate and deploy everything in the two folders, as `kefu deploy` does."""
    process_files, form_files = read_files(processes_dir, forms_dir)
    return deploy(session, build(process_files, form_files,
                                 organisation=directory(session)), actor, now)
