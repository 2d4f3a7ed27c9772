"""Fixtures: a fresh database per test (SQLite, and PostgreSQL when asked), a frozen
clock, the demo centre's people, and the deployed processes.

KEFU_TEST_DATABASES=sqlite,postgres runs every database test on both; KEFU_TEST_PG_URL
names the PostgreSQL database (default: the `test` database on 127.0.0.1:5432).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState
from sqlalchemy import text
from sqlalchemy.orm import Session

import engine
from engine import FixedClock, Kefu, Settings
from engine.cases import workflows
from engine.cases.frontier import frontier
from engine.cases.past import past_pending
from engine.cases.serializer import as_spiffworkflow, dump_workflow_in_full
from engine.people.organisation import DEMO_FILE
from engine.persistence.db import Database
from engine.persistence.models import Base, Case

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PG_URL = os.environ.get("KEFU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASES = [d.strip() for d in os.environ.get("KEFU_TEST_DATABASES", "sqlite").split(",")]

_pg: Database | None = None


def _postgres() -> Database:
    """One engine for the whole run; tables are created once and emptied per test."""
    global _pg
    if _pg is None:
        _pg = Database(PG_URL)
        Base.metadata.drop_all(_pg.engine)
        Base.metadata.create_all(_pg.engine)
    return _pg


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgres":
        db = _postgres()
        names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        yield db
        return
    db = Database(f"sqlite:///{tmp_path / 'kefu.sqlite3'}")
    db.create_all_for_tests()
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # KEFU_TEST_LIVE_WORKFLOWS=0 runs every test restoring each step's workflow from its
    # stored JSON, as a worker that does not hold the case live does.
    return Settings(database_url="sqlite://", processes_dir=ROOT / "processes",
                    forms_dir=ROOT / "forms", history_key="test-history-key",
                    attachments_dir=tmp_path / "attachments",
                    live_workflows=int(os.environ.get("KEFU_TEST_LIVE_WORKFLOWS", "500")))


def saved_as_spiffworkflow_would(kefu: Kefu, session: Session, case: Case,
                                 workflow: BpmnWorkflow) -> None:
    """Every save the tests make checks Kefu's two shortcuts against SpiffWorkflow's own
    answers: the frontier (engine.cases.frontier) against SpiffWorkflow's tree walk, and the state
    saved with finished tasks converted once (engine.cases.serializer) against a full conversion."""
    where = frontier(workflow)
    assert where.ready == _walked(workflow.task_tree, state=TaskState.READY)
    assert set(where.waiting) == set(_walked(workflow.task_tree, state=TaskState.WAITING))
    assert as_spiffworkflow(case.workflow_state) == json.loads(dump_workflow_in_full(workflow))


def _walked(first: Task, **kwargs: Any) -> list[Task]:
    return list(BpmnTaskIterator(first, **kwargs))


@pytest.fixture(autouse=True)
def scans_as_spiffworkflow_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every task query and waiting-task update the engine makes in the tests is checked
    against SpiffWorkflow's own tree walk (engine.cases.workflows answers them from the tables).

    Not while a restored case's settled past is pending (engine.cases.past): the walk would
    restore it, and the step would no longer be the one a worker makes. Such steps are
    checked at their save, against a full conversion (`saved_as_spiffworkflow_would`), and
    their scans are checked whenever the whole tree is restored (the suite's default, with
    workflows kept live)."""
    table_scan = workflows._TableScans.get_tasks_iterator
    waiting_tasks = workflows.waiting_tasks

    def get_tasks_iterator(self: Any, first_task: Task | None = None,
                           **kwargs: Any) -> Iterator[Task]:
        found = list(table_scan(self, first_task, **kwargs))
        if not past_pending(self):
            assert found == _walked(first_task or self.task_tree, **kwargs), kwargs
        return iter(found)

    def waiting(workflow: Any) -> list[Task]:
        found = waiting_tasks(workflow)
        if not past_pending(workflow):
            assert found == list(TaskIterator(workflow.task_tree, state=TaskState.WAITING))
        return found

    monkeypatch.setattr(workflows._TableScans, "get_tasks_iterator", get_tasks_iterator)
    monkeypatch.setattr(workflows, "waiting_tasks", waiting)


@pytest.fixture
def kefu(database: Database, clock: FixedClock, settings: Settings) -> Kefu:
    k = Kefu(settings, clock=clock, database=database)
    k.save_hooks.append(saved_as_spiffworkflow_would)
    with k.session() as session:
        engine.load_organisation(session, DEMO_FILE, with_passwords=False)
    return k


_built: list | None = None


@pytest.fixture
def deployed(kefu: Kefu) -> Kefu:
    """The repository's processes deployed (parsed once per run, stored per test)."""
    global _built
    if _built is None:
        _built = engine.build(*engine.read_files(kefu.settings.processes_dir,
                                                 kefu.settings.forms_dir))
    with kefu.session() as session:
        engine.deploy(session, _built, "process_owner", kefu.clock.now())
    return kefu


@pytest.fixture
def people(kefu: Kefu) -> dict[str, engine.Actor]:
    from sqlalchemy import select

    from engine.persistence.models import Person

    with kefu.session() as session:
        return {p.username: engine.actor_for(p) for p in session.scalars(select(Person))}


@pytest.fixture
def rostered(deployed: Kefu) -> Kefu:
    """The deployed processes and the demo roster of November and December 2026 (issue 4):
    four teams rotate two days, two nights, four days off (engine.demo.roster)."""
    from datetime import date

    from engine.demo.roster import generate_roster

    with deployed.session() as session:
        generate_roster(session, date(2026, 11, 1), date(2026, 12, 31), tz=SHANGHAI)
    return deployed


@pytest.fixture
def record_swap(rostered: Kefu):
    """Enter a swap straight into the roster and the register, as if approved earlier:
    record_swap("agent01", date(2026, 11, 26), "agent07", date(2026, 11, 30)) (day shifts)."""
    from sqlalchemy import select

    from engine.people import roster
    from engine.persistence.models import Person
    from engine.persistence.roster_models import SwapRecord

    def swap(requester: str, my_day, counterpart: str, their_day, kind: str = "day") -> int:
        with rostered.session() as s:
            a, b = (s.scalars(select(Person).where(Person.username == u)).one()
                    for u in (requester, counterpart))
            mine = roster.assignment_on(s, roster.shift_on(s, my_day, kind), a)
            theirs = roster.assignment_on(s, roster.shift_on(s, their_day, kind), b)
            record = SwapRecord(month=f"{my_day:%Y-%m}", requester_id=a.id,
                                counterpart_id=b.id, requester_shift_id=mine.shift_id,
                                counterpart_shift_id=theirs.shift_id,
                                approved_at=rostered.clock.now(), approved_by="earlier")
            s.add(record)
            s.flush()
            roster.apply_swap(mine, theirs, record)
            return record.id

    return swap
