"""BPMN events SpiffWorkflow 3.2 handles or not (issue 14): escalation runs end to end in
Kefu; compensation is not implemented by SpiffWorkflow (a compensation throw would pass as
a plain event, a compensation boundary event is not parsed), so it is refused at deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from tests.complaints import do, open_tasks

DATA = Path(__file__).resolve().parents[1] / "data" / "modeler"


def _deploy(kefu: engine.Kefu, name: str) -> None:
    with kefu.session() as s:
        engine.deploy(s, engine.build({name: (DATA / name).read_text("utf-8")}, {}),
                      "owner01", kefu.clock.now())


def test_escalation_thrown_in_a_subprocess_reaches_its_non_interrupting_boundary(
        kefu, people) -> None:
    _deploy(kefu, "escalation_boundary.bpmn")
    with kefu.session() as s:
        number = engine.start_case(kefu, s, "escalation_boundary", people["agent01"]).number
    do(kefu, number, "handle", people["agent01"], {})
    assert [t.spec_name for t in open_tasks(kefu, number)] == ["lead"]
    do(kefu, number, "lead", people["leader01"], {})
    with kefu.session() as s:
        assert engine.case_by_number(s, number).state == "closed"


def test_escalation_end_event_interrupts_its_subprocess_for_the_boundary_path(
        kefu, people) -> None:
    _deploy(kefu, "escalation_end.bpmn")
    with kefu.session() as s:
        number = engine.start_case(kefu, s, "escalation_end", people["agent01"]).number
    do(kefu, number, "handle", people["agent01"], {})
    assert [t.spec_name for t in open_tasks(kefu, number)] == ["lead"]
    do(kefu, number, "lead", people["leader01"], {})
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        assert case.state == "closed"


def _problems(name: str) -> list[engine.Problem]:
    with pytest.raises(engine.DeploymentError) as caught:
        engine.build({name: (DATA / name).read_text("utf-8")}, {})
    return caught.value.problems


def test_compensation_boundary_event_and_its_handler_are_refused_naming_each() -> None:
    problems = {p.element: p for p in _problems("compensation.bpmn")}
    assert set(problems) == {"on_undo", "cancel_booking", "undo"}
    boundary = problems["on_undo"]
    assert (boundary.file, boundary.line) == ("compensation.bpmn", 6)
    assert boundary.reason.startswith("Kefu 不支持补偿（compensation）：boundaryEvent「on_undo」")
    assert "compensation handler, which never runs" in problems["cancel_booking"].reason
    assert boundary.guide == "docs/process-guide.md#events" and "升级事件" in boundary.fix


def test_compensation_throw_and_end_events_are_refused_not_run_as_plain_events() -> None:
    problems = {p.element: p.reason for p in _problems("compensation_throw.bpmn")}
    assert set(problems) == {"undo", "end"}
    assert "intermediateThrowEvent「撤销」不会撤销任何步骤" in problems["undo"]
    assert "endEvent “end” would undo nothing" in problems["end"]


def test_escalation_from_a_called_process_reaches_the_call_activitys_boundary(
        kefu, people) -> None:
    _deploy(kefu, "escalation_call.bpmn")
    with kefu.session() as s:
        number = engine.start_case(kefu, s, "esc_caller", people["agent01"]).number
    do(kefu, number, "handle", people["agent01"], {})
    assert [t.spec_name for t in open_tasks(kefu, number)] == ["lead"]
