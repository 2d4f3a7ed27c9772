"""A workflow restored from its row (engine.cases.stored_tasks, engine.cases.state_text) is
the workflow SpiffWorkflow's own restore gives, and saving it unchanged gives back the row's
text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

import engine
from engine import Kefu
from engine.cases import serializer
from engine.cases.serializer import (
    PAST_SEPARATOR,
    _SharedSpecWorkflowConverter,
    as_spiffworkflow,
    dump_workflow,
    dump_workflow_in_full,
    load_workflow,
)
from engine.cases.stored_tasks import StoredTask
from engine.cases.workflows import KefuWorkflow
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
    open_tasks,
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
    dct = as_spiffworkflow(text)
    dct.pop("serializer_version", None)
    dct["_kefu_spec_object"] = (loaded.spec, loaded.subprocess_specs)
    return _EAGER.restore(dct)


def _tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _by_id(workflow: BpmnWorkflow) -> dict[Any, tuple[Any, ...]]:
    return {t.id: (t.state, t.task_spec.name, t.parent and t.parent.id, t.data)
            for t in _tasks(workflow)}


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
        assert _by_id(ours) == _by_id(theirs)
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
    spaced = json.dumps(as_spiffworkflow(text), indent=1)
    ours, theirs = _restored(cold, spaced, eager=False), _restored(cold, spaced, eager=True)
    assert _by_id(ours) == _by_id(theirs)
    assert as_spiffworkflow(dump_workflow(ours)) == as_spiffworkflow(text)


def _present_and_past(text: str) -> tuple[str, str]:
    present, _, past = text.partition(PAST_SEPARATOR)
    return present, past


def test_a_long_cases_step_restores_and_writes_only_its_present(cold, people,
                                                               monkeypatch) -> None:
    """A complaint returned again and again: each step on a worker that does not hold it
    live restores the case's tasks that it works on, not the case's settled past, and the
    part of the row it reads stays the same size while the past it appends to grows.
    (The complaint's handling subprocess waits on joins, whose SpiffWorkflow check walks
    that subprocess's whole tree: its past is restored when they are updated.)"""
    restored = []
    restore = serializer._restore_past

    def counted(workflow: Any, *args: Any) -> None:
        restored.append(type(workflow))
        restore(workflow, *args)

    monkeypatch.setattr(serializer, "_restore_past", counted)
    number = register(cold, people["agent01"])
    do(cold, number, "contact", people["duty01"], CONTACT)
    do(cold, number, "judge", people["duty01"], JUSTIFIED)
    sizes = []
    for _ in range(12):
        do(cold, number, "propose", people["bill01"], PROPOSAL)
        do(cold, number, "approve", people["billhead"], RETURN)
        sizes.append(tuple(map(len, _present_and_past(_stored(cold, number)))))
    assert KefuWorkflow not in restored
    presents, pasts = zip(*sizes, strict=True)
    assert max(presents) <= min(presents) * 1.01, presents
    assert pasts[-1] > 2 * pasts[0], pasts
    # The end of the case walks the whole tree (SpiffWorkflow's end join): the past is
    # restored then, and the case closes as it always did.
    for spec_name, username, data in [("propose", "bill01", PROPOSAL),
                                      ("approve", "billhead", APPROVE),
                                      ("reply", "agent01", REPLY_SMS),
                                      ("callback", "agent01", SATISFIED)]:
        case = do(cold, number, spec_name, people[username], data)
    assert case.state == "closed"
    assert KefuWorkflow in restored


def test_a_state_stored_in_one_part_restores_and_is_split_at_its_next_save(
        cold, people) -> None:
    """Rows written before the settled past was stored apart hold SpiffWorkflow's JSON
    alone; they restore, and the next step stores them in two parts."""
    number = register(cold, people["agent01"])
    do(cold, number, "contact", people["duty01"], CONTACT)
    whole = json.dumps(as_spiffworkflow(_stored(cold, number)), separators=(",", ":"))
    with cold.session() as s:
        engine.case_by_number(s, number).workflow_state = whole
    do(cold, number, "judge", people["duty01"], JUSTIFIED)
    assert _present_and_past(_stored(cold, number))[1]
    assert "propose" in [t.spec_name for t in open_tasks(cold, number)]


def test_a_settled_task_whose_open_child_goes_is_rewritten_in_the_past(cold, people) -> None:
    """A settled task kept with the present is also in the past; when its children change
    (SpiffWorkflow drops a predicted branch), its text in the past changes with them,
    without the rest of the past being restored."""
    text = list(_returned_complaint_states(cold, people))[6]
    workflow = _restored(cold, text, eager=False)
    tasks = workflow.tasks

    def loaded(ids: list[Any]) -> list[Task]:
        return [t for t in map(partial(dict.get, tasks), ids) if t is not None]

    kept = [t for t in dict.values(tasks) if t.state & TaskState.FINISHED_MASK
            and all(p.state & TaskState.FINISHED_MASK for p in loaded([t._parent]))
            and any(not c.state & TaskState.FINISHED_MASK for c in loaded(t._children))]
    assert kept, "no settled task with an open child"
    task = kept[0]
    dropped = next(c for c in loaded(task._children) if not c.state & TaskState.FINISHED_MASK)
    workflow._remove_task(dropped.id)
    saved = dump_workflow(workflow)
    assert tasks.pending is not None
    assert as_spiffworkflow(saved) == json.loads(dump_workflow_in_full(workflow))
    past = saved.split(PAST_SEPARATOR)[1]
    assert f'"{task.id}":' in past
    assert str(dropped.id) not in as_spiffworkflow(saved)["tasks"][str(task.id)]["children"]
