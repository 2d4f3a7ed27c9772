"""Form validation on the server, and two people completing one task at once (issue 2)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

import engine
from engine.persistence.models import Case, HistoryRecord
from tests.complaints import CONTACT, INTAKE, do, open_tasks, register


def test_C1_invalid_intake_is_refused_per_field_and_nothing_is_saved(deployed, people) -> None:
    bad = {**INTAKE, "complainant_phone": "12345", "channel": "fax"}
    del bad["content"]
    with pytest.raises(engine.FormValidationError) as caught, deployed.session() as s:
        engine.start_case(deployed, s, "complaint", people["agent01"], bad)
    errors = caught.value.field_errors
    assert set(errors) == {"complainant_phone", "channel", "content"}
    assert errors["content"] == ["必填 / required"]
    with deployed.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.scalar(select(func.count()).select_from(HistoryRecord)) == 0


def test_invalid_task_data_is_refused_and_the_task_stays_open(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    with pytest.raises(engine.FormValidationError) as caught:
        do(deployed, number, "contact", people["duty01"], {"reached": "yes"})
    assert set(caught.value.field_errors) == {"reached", "contact_notes"}
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["contact"]
    do(deployed, number, "contact", people["duty01"], CONTACT)


def test_form_cannot_overwrite_case_data_outside_its_schema(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    with pytest.raises(engine.FormValidationError) as caught:
        do(deployed, number, "contact", people["duty01"], {**CONTACT, "owner": "duty01"})
    assert "(form)" in caught.value.field_errors


def test_two_people_completing_one_task_at_once_exactly_one_wins(deployed, people) -> None:
    """Two real connections (PostgreSQL row lock; SQLite write lock): the loser gets a
    conflict and nothing of theirs is saved."""
    number = register(deployed, people["agent01"])
    [task] = open_tasks(deployed, number)
    first_inside = threading.Event()
    second_started = threading.Event()
    results: dict[str, object] = {}

    def hold_first_transaction(kefu, session, case, workflow) -> None:  # noqa: ANN001
        if not first_inside.is_set():
            first_inside.set()
            second_started.wait(timeout=10)

    deployed.save_hooks.append(hold_first_transaction)

    def attempt(name: str, notes: str) -> None:
        if name == "second":
            first_inside.wait(timeout=10)
            second_started.set()
        try:
            with deployed.session() as s:
                engine.complete_task(deployed, s, task.id, people["duty01"],
                                     {**CONTACT, "contact_notes": notes})
            results[name] = "ok"
        except engine.TaskConflict as exc:
            results[name] = exc

    threads = [threading.Thread(target=attempt, args=("first", "甲的记录")),
               threading.Thread(target=attempt, args=("second", "乙的记录"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results["first"] == "ok"
    assert isinstance(results["second"], engine.TaskConflict)
    assert "no longer open" in str(results["second"])
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        notes = [r.data.get("contact_notes") for r in engine.case_history(s, case)
                 if r.task_spec == "contact"]
    assert notes == ["甲的记录"]
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]
