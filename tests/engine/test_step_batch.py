"""A step's statements sent together (engine.persistence.batch): on PostgreSQL its writes
wait for the unit of work's next statement or its COMMIT. Whatever is sent when, a unit of
work commits all of its changes or none, reads what it wrote, and a savepoint undoes
exactly what was written inside it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

import engine
from engine.cases import runtime
from engine.errors import TaskConflict
from engine.persistence import batch
from engine.persistence.models import HistoryRecord, TaskItem
from engine.records import history
from tests.complaints import CONTACT, JUSTIFIED, do, open_tasks, register


class _Refusal(Exception):
    """Something after the step failed, so its unit of work rolls back."""


def _records(kefu: engine.Kefu, number: str) -> list[str]:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return [r.action for r in history.case_records(s, case)]


def test_a_step_reads_what_it_wrote_before_its_commit(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    (contact,) = open_tasks(deployed, number)
    with deployed.session() as s:
        case = engine.complete_task(deployed, s, contact.id, people["duty01"], CONTACT)
        written = s.scalar(select(func.count()).select_from(HistoryRecord)
                           .where(HistoryRecord.case_id == case.id))
        tasks = s.scalars(select(TaskItem.spec_name).where(TaskItem.case_id == case.id)).all()
    assert written == 3  # started, intake completed, contact completed
    assert tasks == ["judge"]


def test_a_step_that_fails_after_its_writes_leaves_nothing(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    (contact,) = open_tasks(deployed, number)
    with pytest.raises(_Refusal), deployed.session() as s:
        engine.complete_task(deployed, s, contact.id, people["duty01"], CONTACT)
        raise _Refusal
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["contact"]
    assert _records(deployed, number) == ["started", "completed"]
    do(deployed, number, "contact", people["duty01"], CONTACT)  # and the case goes on
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]


def test_a_savepoint_undoes_the_writes_made_inside_it(deployed, people) -> None:
    """The web's `attempt()`: a refused call inside a savepoint, the rest of the request
    committed."""
    number = register(deployed, people["agent01"])
    (contact,) = open_tasks(deployed, number)
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        history.append(s, case, at=deployed.clock.now(), actor="duty01", action="viewed")
        with pytest.raises(_Refusal), s.begin_nested():
            engine.complete_task(deployed, s, contact.id, people["duty01"], CONTACT)
            raise _Refusal
    assert _records(deployed, number) == ["started", "completed", "viewed"]
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["contact"]
    do(deployed, number, "contact", people["duty01"], CONTACT)
    assert _records(deployed, number)[-1] == "completed"


def test_a_failed_write_fails_the_commit_and_saves_none_of_the_step(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    (contact,) = open_tasks(deployed, number)
    with pytest.raises(IntegrityError), deployed.session() as s:
        engine.complete_task(deployed, s, contact.id, people["duty01"], CONTACT)
        case = engine.case_by_number(s, number)
        case_id = case.id
        # A second record with a sequence number the case already has.
        batch.write(s, history._INSERT, {
            "case_id": case_id, "seq": 1, "at": deployed.clock.now(), "actor": "x",
            "action": "forged", "task_spec": None, "task_title": None, "data": {},
            "prev_hash": "0" * 64, "hash": "0" * 64, "key_id": None})
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["contact"]
    assert _records(deployed, number) == ["started", "completed"]


def test_a_case_row_written_at_another_version_is_refused_with_the_unit(deployed,
                                                                        people) -> None:
    """The case row is written checked against the version it was read at (a step reads
    it under the row lock, so only a writer without the lock could have changed it): no
    row at that version refuses the whole unit of work, on SQLite at the write, on
    PostgreSQL at the commit, where it goes with the unit's other writes."""
    number = register(deployed, people["agent01"])
    with pytest.raises(TaskConflict), deployed.session() as s:
        case = engine.case_by_number(s, number)
        history.append(s, case, at=deployed.clock.now(), actor="duty01", action="viewed")
        batch.write(s, runtime._case_update(("title",)),
                    {"new_title": "changed", "case_id": case.id,
                     "old_version": case.row_version - 1},
                    one_row=TaskConflict("changed meanwhile"))
    assert _records(deployed, number) == ["started", "completed"]
    with deployed.session() as s:
        assert engine.case_by_number(s, number).title is None


def test_the_case_a_page_loaded_is_the_one_the_step_saves(deployed, people) -> None:
    """A page loads the task with its case, then completes it in the same unit of work:
    the step's case is that object, up to date, and later ORM changes to it save."""
    number = register(deployed, people["agent01"])
    (contact,) = open_tasks(deployed, number)
    with deployed.session() as s:
        item = s.scalar(select(TaskItem).options(joinedload(TaskItem.case))
                        .where(TaskItem.id == contact.id))
        seen = item.case
        case = engine.complete_task(deployed, s, contact.id, people["duty01"], CONTACT)
        assert case is seen
        case.title = "after the step"
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        assert case.title == "after the step"
        assert history.verify_case(s, case) == []
    do(deployed, number, "judge", people["duty01"], JUSTIFIED)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["propose"]
