"""Live workflows (engine.cases.live): a worker's next step on a case skips restoring its JSON,
but never acts on a state that is not the one stored."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace

import pytest
from SpiffWorkflow.util.task import TaskState

import engine
from engine import Kefu
from engine.persistence.models import Case
from tests.complaints import (
    APPROVE,
    CONTACT,
    JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    SATISFIED,
    do,
    open_tasks,
    register,
    run_to_archive,
)


class _Refusal(Exception):
    """Something after the step failed, so its unit of work rolls back."""


def _case(kefu: Kefu, number: str) -> Case:
    with kefu.session() as s:
        return engine.case_by_number(s, number)


def test_a_step_uses_the_workflow_this_worker_just_committed(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    case = _case(deployed, number)
    assert len(deployed.live) == 1
    do(deployed, number, "contact", people["duty01"], CONTACT)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]
    with deployed.session() as s:
        kept = deployed.live.take(s.get(Case, case.id))
    assert kept is not None, "the committed workflow should have been kept live"
    ready = kept.get_tasks(state=TaskState.READY, manual=True)
    assert [t.task_spec.bpmn_id for t in ready] == ["judge"]


def test_a_step_another_worker_took_is_read_from_the_row_not_from_memory(
        deployed, people) -> None:
    """Worker A kept the case live; worker B then judges it. A's next step must see B's
    judgement (the department), not its own older copy."""
    worker_b = Kefu(deployed.settings, clock=deployed.clock, database=deployed.db)
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(worker_b, number, "judge", people["duty01"], JUSTIFIED)
    do(deployed, number, "propose", people["bill01"], PROPOSAL)
    do(deployed, number, "approve", people["billhead"], APPROVE)
    do(deployed, number, "reply", people["agent01"], REPLY_SMS)
    do(deployed, number, "callback", people["agent01"], SATISFIED)
    case = _case(deployed, number)
    assert case.state == "closed"
    assert case.department == "billing"
    with deployed.session() as s:
        actions = [r.task_spec for r in engine.case_history(s, case) if r.action == "completed"]
    assert actions == ["intake", "contact", "judge", "propose", "approve", "reply", "callback"]


def test_a_step_whose_unit_of_work_rolls_back_is_forgotten(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    [task] = open_tasks(deployed, number)
    with pytest.raises(_Refusal), deployed.session() as s:
        engine.complete_task(deployed, s, task.id, people["duty01"], CONTACT)
        raise _Refusal
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["contact"]
    do(deployed, number, "contact", people["duty01"], CONTACT)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]


def test_a_step_undone_by_a_savepoint_is_forgotten(deployed, people) -> None:
    """The web runs each engine write in a savepoint and commits the request anyway."""
    number = register(deployed, people["agent01"])
    [task] = open_tasks(deployed, number)
    with deployed.session() as s:
        with pytest.raises(_Refusal), s.begin_nested():
            engine.complete_task(deployed, s, task.id, people["duty01"], CONTACT)
            raise _Refusal
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["contact"]
    do(deployed, number, "contact", people["duty01"], CONTACT)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]


def test_a_worker_keeps_at_most_the_configured_number_of_workflows(kefu, people) -> None:
    small = Kefu(replace(kefu.settings, live_workflows=2), clock=kefu.clock, database=kefu.db)
    deployed = _deploy(small)
    for _ in range(3):
        register(deployed, people["agent01"])
    assert len(deployed.live) == 2


def _deploy(kefu: Kefu) -> Kefu:
    built = engine.build(*engine.read_files(kefu.settings.processes_dir,
                                            kefu.settings.forms_dir))
    with kefu.session() as session:
        engine.deploy(session, built, "process_owner", kefu.clock.now())
    return kefu


def test_no_workflow_of_a_closed_case_stays_in_memory(deployed, people) -> None:
    """A worker runs for months: nothing of a finished case may stay behind (the
    serializer's memory of finished tasks included)."""
    seen: list[weakref.ref] = []
    deployed.save_hooks.append(lambda _k, _s, _c, workflow: seen.append(weakref.ref(workflow)))
    number = run_to_archive(deployed, people)
    case = _case(deployed, number)
    assert case.state == "closed"
    assert deployed.live.take(case) is None
    assert len(deployed.live) == 0
    gc.collect()
    assert seen and all(ref() is None for ref in seen)
