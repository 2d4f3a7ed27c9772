"""Parse and validate process files, and deploy them as content-hashed versions.

Deploying is all-or-nothing: every problem in every file is collected and reported with
its file, line and element, and nothing is stored unless the whole set is sound.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.attachments import declaration_problems as attachment_problems
from engine.calendar import parse_duration
from engine.errors import DeploymentError, Problem, ScriptError
from engine.persistence.models import ProcessVersion
from engine.roles import KNOWN_ROLES
from engine.sandbox import check_source
from engine.serializer import dump_spec
from engine.steps import declaration_problems

FORM_PROPERTY = "formJsonSchemaFilename"
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


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)
    trees: dict[str, Any] = field(default_factory=dict)

    def add(self, file: str, reason: str, element: str | None = None,
            line: int | None = None) -> None:
        if line is None and element and file in self.trees:
            found = self.trees[file].xpath("//*[@id=$id]", id=element)
            line = found[0].sourceline if found else None
        self.problems.append(Problem(file=file, reason=reason, line=line, element=element))


def read_files(processes_dir: Path, forms_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The process and form files of a deployment, by file name."""
    def read(folder: Path, patterns: Iterable[str]) -> dict[str, str]:
        return {
            p.name: p.read_text(encoding="utf-8")
            for pattern in patterns for p in sorted(folder.glob(pattern))
        }
    return read(processes_dir, ("*.bpmn", "*.dmn")), read(forms_dir, ("*.json",))


def build(process_files: Mapping[str, str], form_files: Mapping[str, str]) -> list[BuiltProcess]:
    """Validate a whole deployment and build every executable process in it."""
    out = _Collector()
    forms = _check_forms(form_files, out)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    for name, text in process_files.items():
        _add_file(parser, name, text, out)
    if out.problems:
        raise DeploymentError(out.problems)

    built = []
    for process_id in parser.get_process_ids():
        process_parser = parser.get_process_parser(process_id)
        if not process_parser.process_executable:
            continue
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
            used |= _check_tasks(each, filename, parser, forms, out)
        sources = {n: (process_files.get(n) or form_files[n]) for n in sorted(used)}
        digest = hashlib.sha256()
        for n, text in sources.items():
            digest.update(n.encode() + b"\0" + text.encode() + b"\0")
        built.append(BuiltProcess(
            process_id=process_id,
            name=process_parser.get_name() or process_id,
            spec_json=dump_spec(spec, subprocess_specs),
            sources=sources,
            content_hash=digest.hexdigest(),
        ))
    if out.problems:
        raise DeploymentError(out.problems)
    return built


def _add_file(parser: SpiffBpmnParser, name: str, text: str, out: _Collector) -> None:
    try:
        tree = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        out.add(name, f"malformed XML: {exc.msg}", line=exc.lineno)
        return
    out.trees[name] = tree
    if name.endswith(".bpmn"):
        _check_lanes_and_flows(name, tree, out)
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
    for lane in tree.iterfind(".//bpmn:lane", BPMN_NS):
        if lane.get("name") not in KNOWN_ROLES:
            out.add(name, f"lane {lane.get('name')!r} names no known role "
                          f"(known: {', '.join(sorted(KNOWN_ROLES))})",
                    lane.get("id"), lane.sourceline)
    for process in tree.iterfind(".//bpmn:process", BPMN_NS):
        ids = {e.get("id") for e in process.iter() if e.get("id")}
        for flow in process.iterfind(".//bpmn:sequenceFlow", BPMN_NS):
            for end in ("sourceRef", "targetRef"):
                if flow.get(end) not in ids:
                    out.add(name, f"sequence flow {end} points to missing element "
                                  f"{flow.get(end)!r}", flow.get("id"), flow.sourceline)


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
        problems = [*declaration_problems(schema),
                    *(f"attachment {p}" for p in attachment_problems(schema))]
        for problem in problems:
            out.add(name, problem)
        if not problems:
            forms[name] = schema
    return forms


def _check_tasks(spec: Any, filename: str, parser: SpiffBpmnParser,
                 forms: Mapping[str, dict], out: _Collector) -> set[str]:
    """Kefu's own rules on top of the XSD; returns the DMN and form files the spec uses."""
    used: set[str] = set()
    for task_spec in spec.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            continue
        if isinstance(task_spec, UserTask):
            used |= _check_user_task(task_spec, filename, forms, out)
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
            out.add(filename, "exclusive gateway has no default flow", bpmn_id)
        if isinstance(task_spec, CatchingEvent):
            expression = getattr(task_spec.event_definition, "expression", None)
            if isinstance(expression, str):
                _check_code(expression, "eval", filename, bpmn_id, "timer expression", out)
        for param in (getattr(task_spec, "operation_params", None) or {}).values():
            _check_code(param["value"], "eval", filename, bpmn_id, "service parameter", out)
        engine = getattr(task_spec, "dmnEngine", None)
        if engine is not None:
            used |= {p.filename for p in parser.dmn_parsers.values() if p.decision is not None
                     and engine.decision_table.id in {t.id for t in p.decision.decisionTables}}
    return used


def _check_user_task(task_spec: Any, filename: str, forms: Mapping[str, dict],
                     out: _Collector) -> set[str]:
    bpmn_id = task_spec.bpmn_id
    if task_spec.lane is None:
        out.add(filename, "user task is in no lane, so no role may do it", bpmn_id)
    properties = task_spec.extensions.get("properties", {})
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
        out.add(filename, f"user task has no {FORM_PROPERTY} property", bpmn_id)
        return set()
    if form not in forms:
        out.add(filename, f"form file {form!r} is missing or invalid", bpmn_id)
        return set()
    return {form}


def _check_code(source: str, mode: str, filename: str, bpmn_id: str, what: str,
                out: _Collector) -> None:
    try:
        check_source(source, mode)
    except ScriptError as exc:
        out.add(filename, f"{what} does not compile or leaves the sandbox: {exc}", bpmn_id)


def deploy(session: Session, built: list[BuiltProcess], actor: str,
           now: Any) -> list[tuple[ProcessVersion, bool]]:
    """Store each changed process as a new version; an unchanged one is a no-op.

    Returns (version, created) pairs. The caller commits, so a failure stores nothing.
    """
    results = []
    for process in built:
        existing = session.scalar(select(ProcessVersion).where(
            ProcessVersion.process_id == process.process_id,
            ProcessVersion.content_hash == process.content_hash,
        ))
        if existing is not None:
            results.append((existing, False))
            continue
        latest = session.scalar(select(func.max(ProcessVersion.version)).where(
            ProcessVersion.process_id == process.process_id)) or 0
        version = ProcessVersion(
            process_id=process.process_id, version=latest + 1, name=process.name,
            content_hash=process.content_hash, spec_json=process.spec_json,
            sources=process.sources, deployed_at=now, deployed_by=actor,
        )
        session.add(version)
        results.append((version, True))
    session.flush()
    return results


def deploy_directories(session: Session, processes_dir: Path, forms_dir: Path, actor: str,
                       now: Any) -> list[tuple[ProcessVersion, bool]]:
    """Validate and deploy everything in the two folders, as `kefu deploy` does."""
    process_files, form_files = read_files(processes_dir, forms_dir)
    return deploy(session, build(process_files, form_files), actor, now)
