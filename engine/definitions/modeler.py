"""What other modelers write, read as Kefu means it, before SpiffWorkflow parses a file.

Camunda Modeler and bpmn.io write a timer as the bare ISO text (`PT2H`), where SpiffWorkflow
evaluates it as Python and `PT2H` is then an unknown name at run time; they write who does
a task as `camunda:candidateGroups`/`assignee` and a form as `camunda:formKey`, and
conditions as `${approved}`. Each idiom is rewritten in the XML tree (so line numbers stay
those of the file the process owner has) into SpiffWorkflow's own form, or refused naming
what to write instead. Rewriting the tree, not the text: the stored sources stay the files
as uploaded, so a download gives back what was drawn.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from typing import Any

from engine.people.organisation import Directory
from engine.people.roles import CANDIDATE_USER, OFFER_USERS

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
GUIDE = "docs/process-guide.md"

#: Report a problem: (reason, element id, line, how to fix, guide anchor).
Report = Callable[[str, str | None, int | None, str, str], None]

_ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+(\.\d+)?[YMWD])*(T(\d+(\.\d+)?[HMS])+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_CYCLE = re.compile(r"^R\d*/[^\s\"']+$")
TIMER_TAGS = ("timeDuration", "timeDate", "timeCycle")


def is_iso_timer_text(text: str) -> bool:
    """An ISO 8601 duration, date(-time) or repeating interval as modelers write them."""
    value = text.strip()
    return bool(_ISO_DURATION.match(value.upper()) or _ISO_DATE.match(value)
                or _ISO_CYCLE.match(value.upper()))


def normalise(tree: Any, report: Report, organisation: Directory | None = None) -> None:
    """Rewrite the modeler idioms of one BPMN tree in place (see the module docstring);
    `organisation`: the people a task may name (none known: naming a person is refused)."""
    for tag in TIMER_TAGS:
        for element in tree.iter(f"{{{BPMN}}}{tag}"):
            _quote_timer(element)
    for element in tree.iter(f"{{{BPMN}}}conditionExpression"):
        _translate_condition(element, report)
    for task in tree.iter(f"{{{BPMN}}}userTask", f"{{{BPMN}}}manualTask", f"{{{BPMN}}}task"):
        _camunda_task(task, report, organisation or Directory())
    for task in tree.iter(f"{{{BPMN}}}businessRuleTask"):
        _camunda_decision(task)
    for task in tree.iter(f"{{{BPMN}}}serviceTask", f"{{{BPMN}}}sendTask"):
        _camunda_service(task, report)


def _quote_timer(element: Any) -> None:
    """`PT2H` -> `"PT2H"`: an unquoted ISO value is the value, not a Python name."""
    text = (element.text or "").strip()
    if text and is_iso_timer_text(text):
        element.text = f'"{text}"'


# --- expressions from other engines -----------------------------------------------------

_EL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.DOTALL)
_EL_WORDS = {"true": "True", "false": "False", "null": "None", "eq": "==", "ne": "!=",
             "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "empty": "not"}


def translate_expression(text: str) -> tuple[str | None, str]:
    """(Python, original) for a JUEL expression `${...}`/`#{...}` whose meaning is plain
    (names, numbers, strings, comparisons, and/or/not); (None, best attempt) otherwise."""
    match = _EL.match(text)
    if not match:
        return text, text
    body = match.group(1).strip()
    python = body.replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"!(?!=)", " not ", python)
    python = re.sub(r"\b(true|false|null|eq|ne|lt|gt|le|ge|empty|and|or|not)\b",
                    lambda m: _EL_WORDS.get(m.group(1), m.group(1)), python)
    python = " ".join(python.split())
    try:
        tree = ast.parse(python, mode="eval")
    except SyntaxError:
        return None, python
    plain = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
             ast.Compare, ast.Name, ast.Load, ast.Constant, ast.Eq, ast.NotEq, ast.Lt,
             ast.LtE, ast.Gt, ast.GtE, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div)
    if all(isinstance(node, plain) for node in ast.walk(tree)):
        return python, python
    return None, python


def _translate_condition(element: Any, report: Report) -> None:
    text = element.text or ""
    if not _EL.match(text):
        return
    python, attempt = translate_expression(text)
    if python is not None:
        element.text = python
        return
    flow = element.getparent()
    report(f"条件 {text.strip()!r} 是其他引擎的表达式（JUEL），意思不能确定地翻译成 Python / "
           f"the condition {text.strip()!r} is another engine's expression (JUEL) whose "
           "meaning cannot be translated for sure",
           flow.get("id"), element.sourceline,
           f"写成 Python 表达式，例如 {attempt!r}；只用数据变量名、比较和 and/or/not / "
           f"write it as a Python expression, e.g. {attempt!r}", "conditions")


# --- Camunda's task attributes ----------------------------------------------------------

def _camunda_task(task: Any, report: Report, organisation: Directory) -> None:
    """candidateGroups -> the lane's role (or department, specs), assignee/candidateUsers
    `${var}` -> candidateUser, naming people -> offerUsers (their usernames), formKey/formRef
    naming a JSON form -> formJsonSchemaFilename."""
    attributes = {k.split("}", 1)[1]: v for k, v in task.attrib.items()
                  if k.startswith(f"{{{CAMUNDA}}}")}
    if not attributes:
        return
    properties: dict[str, str] = {}
    groups = attributes.get("candidateGroups")
    if groups:
        properties["candidateGroups"] = groups
    named: list[str] = []
    for name in ("assignee", "candidateUsers"):
        value = attributes.get(name)
        if not value:
            continue
        match = _EL.match(value)
        variable = match.group(1).strip() if match else None
        if variable and variable.isidentifier():
            properties[CANDIDATE_USER] = variable
            continue
        for each in (v.strip() for v in value.split(",") if v.strip()):
            username = organisation.person(each)
            if username is None:
                report(f"camunda:{name} 里的 {each!r} 不是组织文件里在职人员的用户名或工号 / "
                       f"camunda:{name}: {each!r} is neither the username nor the staff "
                       "number of an active person in the organisation file",
                       task.get("id"), task.sourceline,
                       "写用户名（如 agent01）或工号（如 1001），或写 ${变量名}，变量里存用户名；"
                       "也可以把任务交给角色或部门（camunda:candidateGroups）/ write a "
                       "username or a staff number, or ${variable} holding a username, or "
                       "offer the task to a role or department (camunda:candidateGroups)",
                       "roles")
            else:
                named.append(username)
    if named:
        properties[OFFER_USERS] = ",".join(dict.fromkeys(named))
    for name in ("formKey", "formRef"):
        value = attributes.get(name)
        if not value:
            continue
        form = value.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        if name == "formRef" and not form.endswith(".json"):
            form += ".json"
        if form.endswith(".json"):
            properties["formJsonSchemaFilename"] = form
        else:
            report(f"camunda:{name}={value!r} 不是 JSON Schema 表单文件；Kefu 只显示 JSON Schema "
                   f"表单 / camunda:{name}={value!r} is not a JSON Schema form file; Kefu "
                   "shows JSON Schema forms only",
                   task.get("id"), task.sourceline,
                   "在 forms/ 写一个 .json 表单，并把 formKey 写成它的文件名 / write a .json "
                   "form in forms/ and put its file name in formKey", "forms")
    if properties:
        _add_properties(task, properties)


def _add_properties(task: Any, properties: dict[str, str]) -> None:
    """Add to the task's spiffworkflow:properties, leaving any already written alone."""
    extensions = task.find(f"{{{BPMN}}}extensionElements")
    if extensions is None:
        extensions = task.makeelement(f"{{{BPMN}}}extensionElements", {})
        task.insert(0, extensions)
    holder = extensions.find(f"{{{SPIFF}}}properties")
    if holder is None:
        holder = extensions.makeelement(f"{{{SPIFF}}}properties", {})
        extensions.append(holder)
    have = {p.get("name") for p in holder.iter(f"{{{SPIFF}}}property")}
    for name, value in properties.items():
        if name not in have:
            holder.append(holder.makeelement(f"{{{SPIFF}}}property",
                                             {"name": name, "value": value}))


# --- SpiffArena's UI schema ---------------------------------------------------------------

UI_PROPERTY = "formUiSchemaFilename"
#: Widgets Kefu's renderer draws from the schema alone (the choice of radio or select, a
#: checkbox for a yes/no): the UI schema asks for what it would show anyway.
_SAME_WIDGETS = {"text", "radio", "select", "checkbox", "checkboxes", "updown", "date",
                 "datetime", "email", "uri"}
_IGNORED = {"ui:placeholder", "ui:autofocus", "ui:options", "ui:classNames", "ui:label",
            "ui:emptyValue", "ui:enumNames", "ui:inline", "ui:rows"}


def apply_ui_schema(schema: dict[str, Any], ui: dict[str, Any]) -> tuple[dict[str, Any],
                                                                           list[str]]:
    """The form schema with a SpiffArena UI schema folded in, and what cannot be honoured.

    Honoured: `ui:order` (field order), `ui:readonly` (shown, not submitted), `ui:help` and
    `ui:description` (the field's help text), `ui:title`, `ui:widget` `textarea` (a long
    text box) and `hidden` (not shown: read-only with no title). Placeholders and layout
    hints are ignored, since the renderer lays out every form alike; a custom widget or
    field is refused, as its meaning lives in SpiffArena's front end."""
    merged = json.loads(json.dumps(schema))
    properties = merged.get("properties", {})
    problems = []
    order = ui.get("ui:order")
    if isinstance(order, list):
        rest = [n for n in properties if n not in order]
        names = [n for n in order if n in properties] + (rest if "*" in order else rest)
        merged["properties"] = properties = {n: properties[n] for n in names}
    for name, options in ui.items():
        if name.startswith("ui:") or not isinstance(options, dict):
            continue
        prop = properties.get(name)
        if not isinstance(prop, dict):
            problems.append(f"{name!r}: UI schema 里的字段不在表单里 / not a field of the form")
            continue
        for key, value in options.items():
            if key == "ui:readonly" and value:
                prop["readOnly"] = True
            elif key in ("ui:help", "ui:description"):
                prop["description"] = str(value)
            elif key == "ui:title":
                prop["title"] = str(value)
            elif key == "ui:widget" and value == "textarea":
                prop["format"] = "textarea"
            elif key == "ui:widget" and value == "hidden":
                prop["readOnly"] = True
            elif key == "ui:widget" and value in _SAME_WIDGETS or key in _IGNORED:
                continue
            else:
                problems.append(f"{name!r}: {key}={value!r} Kefu 的表单不支持 / is not "
                                "supported by Kefu's forms")
    return merged, problems


def _extension(task: Any, name: str) -> Any:
    extensions = task.find(f"{{{BPMN}}}extensionElements")
    return None if extensions is None else extensions.find(f"{{{SPIFF}}}{name}")


def _camunda_decision(task: Any) -> None:
    """camunda:decisionRef -> spiffworkflow:calledDecisionId (the same meaning)."""
    ref = task.get(f"{{{CAMUNDA}}}decisionRef")
    if not ref or _extension(task, "calledDecisionId") is not None:
        return
    extensions = task.find(f"{{{BPMN}}}extensionElements")
    if extensions is None:
        extensions = task.makeelement(f"{{{BPMN}}}extensionElements", {})
        task.insert(0, extensions)
    called = extensions.makeelement(f"{{{SPIFF}}}calledDecisionId", {})
    called.text = ref
    extensions.append(called)


_CAMUNDA_CODE = ("class", "expression", "delegateExpression", "topic")


def _camunda_service(task: Any, report: Report) -> None:
    """Java classes, expressions and external-task topics run in Camunda's engine, not
    here: say so, and what a Kefu service task is, instead of SpiffWorkflow's "must have
    an operator"."""
    if _extension(task, "serviceTaskOperator") is not None:
        return
    used = [f"camunda:{a}={task.get(f'{{{CAMUNDA}}}{a}')!r}" for a in _CAMUNDA_CODE
            if task.get(f"{{{CAMUNDA}}}{a}")]
    if not used:
        return
    report(f"服务任务用的是 Camunda 的实现（{', '.join(used)}），"
           "Kefu 不运行 Java 类、表达式或外部任务 / the service task is implemented for "
           "Camunda's engine, which Kefu is not", task.get("id"), task.sourceline,
           "改为调用 Kefu 的操作："
           "<spiffworkflow:serviceTaskOperator id=\"kefu.send_reply\">"
           "（操作清单见 process-conventions.md），或改成脚本任务 / call one of Kefu's "
           "operators with spiffworkflow:serviceTaskOperator, or make it a script task",
           "deploy")
