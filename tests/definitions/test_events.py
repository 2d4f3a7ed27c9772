"""BPMN events SpiffWorkflow 3.2 handles or not (issue 14): escalation runs end to end in
Kefu; compensation is not implemented by SpiffWorkflow (a compensation throw would pass as
a plain event, a compensation boundary event is not parsed), so it is refused at deploy."""

from __future__ import annotations

from pathlib import Path

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
