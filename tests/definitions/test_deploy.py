"""Deploying process files: all-or-nothing, located errors, content-hashed versions (issue 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

import engine
from engine.persistence.models import ProcessVersion
from tests.complaints import CONTACT, do, register

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, FORMS = engine.read_files(ROOT / "processes", ROOT / "forms")
BPMN = PROCESSES["complaint.bpmn"]


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _refusal(processes: dict[str, str] | None = None, forms: dict[str, str] | None = None,
             all_forms: dict[str, str] | None = None) -> list[engine.Problem]:
    with pytest.raises(engine.DeploymentError) as caught:
        engine.build({**PROCESSES, **(processes or {})},
                     all_forms if all_forms is not None else {**FORMS, **(forms or {})})
    return caught.value.problems


def _without(forms: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in forms.items() if k != name}


@pytest.mark.parametrize("process_file", sorted(PROCESSES))
def test_every_process_file_in_the_repository_deploys(process_file: str) -> None:
    built = engine.build(PROCESSES, FORMS)
    used = set().union(*(b.sources for b in built))
    assert process_file in used


def test_malformed_xml_is_refused_with_file_and_line_not_a_traceback() -> None:
    broken = BPMN.replace("</bpmn:process>", "</bpmn:proces>", 1)
    [problem] = _refusal({"complaint.bpmn": broken})
    assert problem.file == "complaint.bpmn"
    assert problem.line == _line_of(broken, "</bpmn:proces>")
    assert "malformed XML" in problem.reason


def test_xsd_violation_is_refused_with_line() -> None:
    broken = BPMN.replace("<bpmn:exclusiveGateway ", '<bpmn:exclusiveGateway bogus="1" ', 1)
    [problem] = _refusal({"complaint.bpmn": broken})
    assert problem.line == _line_of(broken, 'bogus="1"')
    assert "bogus" in problem.reason


def test_lane_naming_no_known_role_is_refused_at_the_lane() -> None:
    broken = BPMN.replace('name="dept_head"', 'name="boss"', 1)
    [problem] = _refusal({"complaint.bpmn": broken})
    assert "'boss' names no known role" in problem.reason
    assert problem.element and problem.line == _line_of(broken, 'name="boss"')


def test_user_task_whose_form_is_missing_is_refused_naming_the_task() -> None:
    [problem] = _refusal(all_forms=_without(FORMS, "complaint_judge.json"))
    assert (problem.file, problem.element) == ("complaint.bpmn", "judge")
    assert "complaint_judge.json" in problem.reason and problem.line


def test_form_that_is_not_a_json_schema_is_refused() -> None:
    problems = _refusal(forms={"complaint_judge.json": '{"type": "objec"}'})
    assert problems[0].file == "complaint_judge.json"
    assert "not a valid JSON Schema" in problems[0].reason


def test_form_that_is_not_json_is_refused_with_line() -> None:
    problems = _refusal(forms={"complaint_judge.json": '{"type":\n "object",}'})
    assert (problems[0].file, problems[0].line) == ("complaint_judge.json", 2)


def test_gateway_condition_that_does_not_compile_is_refused() -> None:
    broken = re.sub(r"(<bpmn:conditionExpression[^>]*>)[^<]*", r"\1justified ==", BPMN, count=1)
    [problem] = _refusal({"complaint.bpmn": broken})
    assert problem.element == "is_justified" and "condition" in problem.reason


def test_flow_to_a_missing_element_is_refused_naming_the_flow() -> None:
    broken = BPMN.replace('targetRef="contact"', 'targetRef="nowhere"', 1)
    [problem] = _refusal({"complaint.bpmn": broken})
    assert "missing element 'nowhere'" in problem.reason
    assert problem.element and problem.element.startswith("flow_")


def test_script_leaving_the_sandbox_is_refused_at_deployment() -> None:
    broken = BPMN.replace("receipt_issued = True", "import os", 1)
    [problem] = _refusal({"complaint.bpmn": broken})
    assert problem.element == "issue_receipt" and "Import" in problem.reason


def test_refused_deployment_keeps_nothing(tmp_path: Path, kefu) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "f").mkdir()
    for name, text in PROCESSES.items():
        (tmp_path / "p" / name).write_text(text, encoding="utf-8")
    for name, text in _without(FORMS, "complaint_reply.json").items():
        (tmp_path / "f" / name).write_text(text, encoding="utf-8")
    with pytest.raises(engine.DeploymentError), kefu.session() as s:
        engine.deploy_directories(s, tmp_path / "p", tmp_path / "f", "owner01", kefu.clock.now())
    with kefu.session() as s:
        assert s.scalar(select(func.count()).select_from(ProcessVersion)) == 0


def test_unchanged_files_deploy_as_no_op_and_changed_ones_as_new_version(kefu) -> None:
    with kefu.session() as s:
        first = engine.deploy(s, engine.build(PROCESSES, FORMS), "owner01", kefu.clock.now())
    with kefu.session() as s:
        again = engine.deploy(s, engine.build(PROCESSES, FORMS), "owner01", kefu.clock.now())
    assert all(created for _, created in first)
    assert not any(created for _, created in again)
    changed = BPMN.replace("受理投诉 / Register complaint", "登记投诉 / Register complaint")
    with kefu.session() as s:
        built = engine.build({**PROCESSES, "complaint.bpmn": changed}, FORMS)
        [(version, created)] = [r for r in engine.deploy(s, built, "owner01", kefu.clock.now())
                                if r[0].process_id == "complaint"]
        assert created and version.version == 2
        assert version.content_hash != first[0][0].content_hash


def test_running_case_finishes_on_the_version_it_started_on(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    changed_form = FORMS["complaint_contact.json"].replace(
        '"required": [', '"required": [\n    "details_confirmed",', 1)
    with deployed.session() as s:
        engine.deploy(s, engine.build(PROCESSES, {**FORMS, "complaint_contact.json":
                                                  changed_form}), "owner01", deployed.clock.now())
    # The old case still uses version 1's form, where details_confirmed is optional.
    do(deployed, number, "contact", people["duty01"],
       {k: v for k, v in CONTACT.items() if k != "details_confirmed"})
    newer = register(deployed, people["agent01"])
    with deployed.session() as s:
        old_case = engine.case_by_number(s, number)
        new_case = engine.case_by_number(s, newer)
        versions = {v.id: v.version for v in s.scalars(select(ProcessVersion))}
    assert versions[old_case.process_version_id] == 1
    assert versions[new_case.process_version_id] == 2
    with pytest.raises(engine.FormValidationError) as caught:
        do(deployed, newer, "contact", people["duty01"],
           {k: v for k, v in CONTACT.items() if k != "details_confirmed"})
    assert "details_confirmed" in caught.value.field_errors


def test_bad_due_duration_is_refused_at_deployment_naming_the_task() -> None:
    broken = BPMN.replace('name="dueAt" value="solution_due"',
                          'name="dueAt" value="solution due"', 1)
    [problem] = _refusal({"complaint.bpmn": broken})
    assert problem.reason == "property dueAt: 'solution due' is not a data variable name"
    assert problem.element and problem.line


def test_C1_attachment_field_with_a_bad_declaration_is_refused_naming_file_and_field() -> None:
    bad = ('{"type": "object", "properties": {"evidence": {"type": "array", "items": '
           '{"format": "attachment", "x-kefu-accept": "png", "x-kefu-max-bytes": -1}}}}')
    problems = _refusal(forms={"complaint_intake.json": bad})
    reasons = [p.reason for p in problems if p.file == "complaint_intake.json"]
    assert any("'evidence'" in r and "x-kefu-accept" in r for r in reasons), reasons
    assert any("x-kefu-max-bytes" in r for r in reasons), reasons


def test_a_picker_or_condition_kefu_cannot_honour_is_refused_naming_file_and_field() -> None:
    bad = json.dumps({"type": "object", "properties": {
        "kind": {"type": "string"},
        "who": {"type": "string", "x-kefu-widget": "person",
                "x-kefu-people": {"same_department": True}},
        "shift": {"type": "string", "x-kefu-widget": "shift", "x-kefu-shift-of": "whom"},
        "note": {"type": "string", "x-kefu-show-when": {"knd": ["sick"]}}}})
    problems = _refusal(forms={"leave_request.json": bad})
    reasons = sorted(p.reason for p in problems if p.file == "leave_request.json")
    assert reasons == [
        "note: x-kefu-show-when names 'knd', not another field of this form",
        "shift: x-kefu-shift-of names 'whom', not a field of this form",
        "who: x-kefu-people knows not_self, roles, rostered, same_team, not same_department"]
