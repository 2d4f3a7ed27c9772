"""Kefu's workflow classes (engine.cases.workflows): stored cases stay SpiffWorkflow's JSON, and
load as Kefu's classes, top-level workflow and subprocesses alike. That every task query
they answer equals SpiffWorkflow's own walk is checked on every call in the whole suite
(tests/conftest.py, scans_as_spiffworkflow_would)."""

from __future__ import annotations

from SpiffWorkflow.util.task import TaskState

import engine
from engine.cases.serializer import as_spiffworkflow
from engine.cases.workflows import KefuSubWorkflow, KefuWorkflow
from tests.complaints import CONTACT, JUSTIFIED, do, register


def test_stored_case_keeps_spiffworkflow_type_names_and_loads_as_kefu_classes(
        deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    case = do(deployed, number, "judge", people["duty01"], JUSTIFIED)  # the C9 subprocess runs
    stored = as_spiffworkflow(case.workflow_state)
    assert stored["typename"] == "BpmnWorkflow"
    assert stored["subprocesses"]
    assert {s["typename"] for s in stored["subprocesses"].values()} == {"BpmnSubWorkflow"}
    with deployed.session() as s:
        workflow = engine.load_case_workflow(deployed, s, engine.case_by_number(s, number))
    assert type(workflow) is KefuWorkflow
    assert {type(sub) for sub in workflow.subprocesses.values()} == {KefuSubWorkflow}
    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert [t.task_spec.bpmn_id for t in ready] == ["propose"]
