"""What a person's inbox lists, and in which order: the soonest due first, tasks without a
due time last, the oldest first among equals. Each inbox is several index ranges merged
(engine.persistence.queries); these tests hold the merge to the plain rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import insert

import engine
from engine import Actor
from engine.persistence.db import Database
from engine.persistence.models import Case, ProcessVersion, TaskItem

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DUTY = Actor("duty01", "K0101", frozenset({"duty_supervisor", "shift_leader"}), "cs")
BILL = Actor("bill01", "K0301", frozenset({"dept_handler"}), "billing")


@pytest.fixture
def tasks(database: Database):
    """Adds task rows to one case; returns the function and the database."""
    ids = count(1)
    with database.session() as s:
        version = ProcessVersion(process_id="complaint", version=1, name="投诉", content_hash="x",
                                 spec_json="{}", sources={}, deployed_at=T0, deployed_by="owner01")
        s.add(version)
        s.flush()
        case = Case(number="TS1", process_id="complaint", process_version_id=version.id,
                    state="running", created_at=T0, created_by="agent01", workflow_state="")
        s.add(case)
        s.flush()
        case_id = case.id

    def add(role: str = "duty_supervisor", *, department: str | None = None,
            assignee: str | None = None, candidate_user: str | None = None,
            due_in: int | None = None, opened: int = 0) -> str:
        task_id = f"t{next(ids):03d}"
        with database.session() as s:
            s.execute(insert(TaskItem), [{
                "id": task_id, "case_id": case_id, "process_id": "complaint",
                "spec_name": "contact", "title": "联系客户", "form": "f.json", "role": role,
                "department": department, "candidate_user": candidate_user,
                "assignee": assignee, "created_at": T0 + timedelta(minutes=opened),
                "due_at": None if due_in is None else T0 + timedelta(hours=due_in)}])
        return task_id
    return add, database


def listed(database: Database, query, actor: Actor, limit: int = 200) -> list[str]:
    with database.session() as s:
        return [t.id for t in query(s, actor, limit)]


def test_inbox_lists_soonest_due_first_then_oldest_and_tasks_without_due_time_last(
        tasks) -> None:
    add, db = tasks
    no_due_old = add(opened=0)
    due_late = add(due_in=24, opened=1)
    due_soon = add(due_in=2, opened=2)
    no_due_new = add(opened=3)
    due_soon_older = add(due_in=2, opened=1)
    assert listed(db, engine.claimable_tasks, DUTY) == [
        due_soon_older, due_soon, due_late, no_due_old, no_due_new]


def test_claimable_merges_every_role_centre_wide_and_in_the_own_department_in_one_order(
        tasks) -> None:
    add, db = tasks
    centre = add("duty_supervisor", due_in=5)
    own_department = add("shift_leader", department="cs", due_in=1)
    other_role = add("shift_leader", due_in=3)
    add("duty_supervisor", department="billing", due_in=0)  # another department's
    add("dept_handler", due_in=0)  # a role the actor does not hold
    add("duty_supervisor", assignee="duty02", due_in=0)  # claimed by someone else
    add("duty_supervisor", candidate_user="duty02", due_in=0)  # offered to one person
    assert listed(db, engine.claimable_tasks, DUTY) == [own_department, other_role, centre]


def test_my_tasks_lists_what_i_hold_and_what_is_offered_to_me_by_name_in_one_order(
        tasks) -> None:
    add, db = tasks
    held = add("dept_handler", department="billing", assignee="bill01", due_in=4)
    named = add("agent", candidate_user="bill01", due_in=2)
    held_no_due = add("dept_handler", assignee="bill01")
    add("agent", candidate_user="bill01", assignee="bill02", due_in=1)  # someone holds it
    claimable = add("dept_handler", department="billing", due_in=0)  # not mine yet
    assert listed(db, engine.my_tasks, BILL) == [named, held, held_no_due]
    assert listed(db, engine.claimable_tasks, BILL) == [claimable]


def test_inbox_keeps_the_first_tasks_of_all_branches_together_when_cut_at_the_limit(
        tasks) -> None:
    """Each branch is cut at the limit before the merge; the merge must still keep the
    overall first ones, whichever branch they come from."""
    add, db = tasks
    centre = [add("duty_supervisor", due_in=h) for h in (1, 3, 5, 7)]
    department = [add("shift_leader", department="cs", due_in=h) for h in (2, 4, 6, 8)]
    assert listed(db, engine.claimable_tasks, DUTY, limit=3) == [
        centre[0], department[0], centre[1]]
    assert listed(db, engine.claimable_tasks, DUTY, limit=5) == [
        centre[0], department[0], centre[1], department[1], centre[2]]


def test_inbox_rows_carry_their_case_number(tasks) -> None:
    add, db = tasks
    add(due_in=1)
    with db.session() as s:
        [row] = engine.claimable_tasks(s, DUTY)
    assert row.case.number == "TS1" and row.due_at == T0 + timedelta(hours=1)


def test_person_without_roles_has_nothing_to_claim(tasks) -> None:
    add, db = tasks
    add(due_in=1)
    assert listed(db, engine.claimable_tasks, Actor("nobody", "K9999", frozenset())) == []
