"""A workflow restored from its row (engine.cases.stored_tasks, engine.cases.state_text) is
the workflow SpiffWorkflow's own restore gives, and saving it unchanged gives back the row's
text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from sqlalchemy import select

import engine
from engine import Kefu
from engine.cases.serializer import _SharedSpecWorkflowConverter, dump_workflow, load_workflow
from engine.cases.stored_tasks import StoredTask
from engine.persistence.models import Case
from tests.complaints import (
    APPROVE,
    CONTACT,
    JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    RETURN,
    SATISFIED,
    do,
    register,
)


def _eager_registry() -> Any:
    """SpiffWorkflow's own task restore (every task's data built at once), with the spec
    kept apart as Kefu stores it."""
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SharedSpecWorkflowConverter
    return BpmnWorkflowSerializer.configure(config)


_EAGER = _eager_registry()


def _restored(kefu: Kefu, text: str, eager: bool) -> BpmnWorkflow:
    with kefu.session() as s:
        loaded = kefu.version(s, s.scalar(select(Case.process_version_id).limit(1)))
    if not eager:
        return load_workflow(text, loaded.spec, loaded.subprocess_specs)
    dct = json.loads(text)
    dct.pop("serializer_version", None)
    dct["_kefu_spec_object"] = (loaded.spec, loaded.subprocess_specs)
    return _EAGER.restore(dct)


def _tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _stored(kefu: Kefu, number: str) -> str:
    with kefu.session() as s:
        return engine.case_by_number(s, number).workflow_state


def _returned_complaint_states(kefu: Kefu, people: dict[str, Any]) -> Iterator[str]:
    """The stored state after each step of a complaint returned three times."""
    number = register(kefu, people["agent01"])
    yield _stored(kefu, number)
    steps = [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED)]
    steps += [("propose", "bill01", PROPOSAL), ("approve", "billhead", RETURN)] * 3
    steps += [("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
              ("reply", "agent01", REPLY_SMS)]
    for spec_name, username, data in steps:
        do(kefu, number, spec_name, people[username], data)
        yield _stored(kefu, number)
    do(kefu, number, "callback", people["agent01"], SATISFIED)
    yield _stored(kefu, number)


@pytest.fixture
def cold(deployed: Kefu) -> Kefu:
    """A worker that restores every step's workflow from its row."""
    return Kefu(replace(deployed.settings, live_workflows=0), clock=deployed.clock,
                database=deployed.db)


def test_every_task_restores_with_the_data_spiffworkflow_would_give(cold, people) -> None:
    for text in _returned_complaint_states(cold, people):
        ours, theirs = _restored(cold, text, eager=False), _restored(cold, text, eager=True)
        pairs = list(zip(_tasks(ours), _tasks(theirs), strict=True))
        assert [(a.id, a.state, a.task_spec.name) for a, _ in pairs] == \
            [(b.id, b.state, b.task_spec.name) for _, b in pairs]
        assert [a.data for a, _ in pairs] == [b.data for _, b in pairs]
    assert any(isinstance(t, StoredTask) for t in _tasks(ours)), "nothing was restored lazily"


def test_saving_a_restored_workflow_unchanged_gives_back_the_stored_text(cold, people) -> None:
    for text in _returned_complaint_states(cold, people):
        assert dump_workflow(_restored(cold, text, eager=False)) == text


def test_a_finished_tasks_data_is_as_stored_after_its_parents_data_changed(
        cold, people) -> None:
    """A finished task's data is built when first read, from what was stored: a change made
    since to a task it descends from (here its parent's) does not reach it, as with
    SpiffWorkflow's restore, which built it at once."""
    *_, text = _returned_complaint_states(cold, people)
    ours, theirs = _restored(cold, text, eager=False), _restored(cold, text, eager=True)
    finished = [t for t in ours.tasks.values()
                if isinstance(t, StoredTask) and isinstance(t.parent, StoredTask)]
    child = finished[-1]
    child.parent.data["cause"] = "changed after the restore"
    assert child.data == theirs.tasks[child.id].data
    assert child.data.get("cause") != "changed after the restore"


def test_a_state_not_written_compactly_still_restores(cold, people) -> None:
    """Rows written by another writer (here with indentation) are read by json.loads."""
    *_, text = _returned_complaint_states(cold, people)
    spaced = json.dumps(json.loads(text), indent=1)
    ours, theirs = _restored(cold, spaced, eager=False), _restored(cold, spaced, eager=True)
    assert [t.data for t in _tasks(ours)] == [t.data for t in _tasks(theirs)]
    assert json.loads(dump_workflow(ours)) == json.loads(text)
