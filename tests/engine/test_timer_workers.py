"""The timer worker: armed at the earliest due time, fires what a stopped worker missed
once and in due order, and several real worker processes fire each deadline exactly once
even when one is killed (issue 3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import engine
from engine import Kefu, SystemClock, TimerWorker
from engine.persistence.deadline_models import Deadline
from engine.persistence.models import Case, HistoryRecord
from engine.scheduler.benchmark import PROBE_ID, deploy_probe, start_probe
from engine.timing import deadlines
from tests.complaints import CONTACT, INTAKE, JUSTIFIED, do, register
from tests.rules.test_deadlines import ACCEPTED, at

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(deployed: Kefu) -> Iterator[TimerWorker]:
    timers = TimerWorker(deployed, name="test", listen=False)
    yield timers
    timers.stop()


def test_worker_sleeps_until_the_earliest_due_time_and_rearms_on_save(deployed, people,
                                                                      worker) -> None:
    assert worker.start().fired == 0
    assert worker.armed_for is None
    register(deployed, people["agent01"])  # the save wakes the worker in this process
    assert worker.settle()
    assert worker.armed_for == ACCEPTED + timedelta(minutes=96)  # the contact's reminder
    job = worker.scheduler.get_job(worker.job_id)
    expected = datetime.now(UTC) + timedelta(minutes=96)  # APScheduler counts real time
    assert abs(job.next_run_time - expected) < timedelta(seconds=30)
    assert worker.scheduler.get_jobs()  # nothing fired: the clock has not moved


def test_a_step_in_a_savepoint_wakes_the_worker_after_the_outer_commit_without_waiting(
        deployed, people, worker) -> None:
    """Issue 12: the web runs each step in a savepoint. Its release is no commit, so the
    worker is not woken then (it would read the deadline before it exists, and on SQLite
    wait out the request's write lock for 30 s); it is woken once, after the commit, from
    its own thread, and the committing thread does not wait for it."""
    worker.start()
    armed: list[datetime | None] = []
    with deployed.session() as session:
        with session.begin_nested():
            engine.start_case(deployed, session, "complaint", people["agent01"], INTAKE)
        assert worker.settle(timeout=0)  # nothing asked for yet: the savepoint is no commit
        armed.append(worker.armed_for)
    assert worker.settle()
    assert armed == [None]
    assert worker.armed_for == ACCEPTED + timedelta(minutes=96)


def test_a_rolled_back_step_does_not_wake_the_worker(deployed, people, worker) -> None:
    worker.start()
    with pytest.raises(RuntimeError), deployed.session() as session:
        engine.start_case(deployed, session, "complaint", people["agent01"], INTAKE)
        raise RuntimeError("the request failed after the step")
    assert worker.settle()
    assert worker.armed_for is None


def test_stopping_while_a_firing_rearms_does_not_hang(deployed, worker, monkeypatch) -> None:
    """`kefu serve` stopped while its worker re-arms after a firing must exit: APScheduler's
    shutdown waits for running jobs while holding the lock that re-arming needs."""
    worker.start()
    in_arm, go_on = threading.Event(), threading.Event()
    next_due = deadlines.next_due

    def slow_next_due(session):  # noqa: ANN001, ANN202
        if threading.current_thread().name.startswith("ThreadPoolExecutor"):
            in_arm.set()
            go_on.wait(timeout=10)
        return next_due(session)

    monkeypatch.setattr(deadlines, "next_due", slow_next_due)
    worker.scheduler.add_job(worker.arm)  # runs now, in the scheduler's job thread
    assert in_arm.wait(timeout=10)
    stopper = threading.Thread(target=worker.stop, daemon=True)
    stopper.start()
    assert worker._stopping.wait(timeout=10)
    go_on.set()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "stopping the worker hung"


def test_C9_stopped_worker_restarted_fires_every_overdue_deadline_once_in_due_order(
        deployed, people, clock) -> None:
    numbers = []
    for hour in (0, 5, 10):  # three cases accepted hours apart, all waiting for a proposal
        at(clock, hours=hour)
        number = register(deployed, people["agent01"])
        do(deployed, number, "contact", people["duty01"], CONTACT)
        do(deployed, number, "judge", people["duty01"], JUSTIFIED)
        numbers.append(number)
    at(clock, days=4)  # no worker ran for four days
    timers = TimerWorker(deployed, name="restarted", listen=False)
    try:
        started = timers.start()
    finally:
        timers.stop()
    with deployed.session() as s:
        fired = s.scalars(select(Deadline).where(Deadline.fired_at.is_not(None),
                                                 Deadline.kind != "urge")
                          .order_by(Deadline.id)).all()
        assert s.scalar(select(func.count(Deadline.id)).where(Deadline.fired_at.is_(None))) == 0
        history = s.scalars(select(HistoryRecord).where(HistoryRecord.action.in_(
            ["timer", "reminded", "overdue"])).order_by(HistoryRecord.id)).all()
        levels = [engine.escalation_level(s, engine.case_by_number(s, n)) for n in numbers]
    # per case: proposal reminder, proposal overdue, level 1, level 2
    assert started.fired == len(fired) == len(history) == 12
    assert levels == [2, 2, 2]
    due_order = [datetime.fromisoformat(r.data["due_at"]) for r in history]
    assert due_order == sorted(due_order)
    again = TimerWorker(deployed, name="again", listen=False)
    try:
        assert again.start().fired == 0  # none fires twice
    finally:
        again.stop()


# --- several real worker processes on PostgreSQL ----------------------------------------------

WORKERS = 3
CASES = 40
TAKEOVER_LIMIT = timedelta(seconds=10)


def _worker_process(url: str, name: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "KEFU_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:  # the child keeps its own copy of the file descriptor
        return subprocess.Popen(
            [sys.executable, "-c", "from web.cli import main; main()", "worker", "--name", name],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_for(condition, limit: float, what: str) -> None:
    """Poll a condition on real processes, for at most `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {limit} s waiting for {what}")
        time.sleep(0.05)


def test_C9_several_worker_processes_fire_each_deadline_once_and_survive_a_kill(
        kefu, people, database, tmp_path) -> None:
    if not database.is_postgres:
        pytest.skip(reason="several timer workers share one PostgreSQL (run with "
                           "KEFU_TEST_DATABASES=sqlite,postgres); SQLite has one worker "
                           "per process")
    real = Kefu(kefu.settings, clock=SystemClock(), database=database)
    deploy_probe(real)
    logs = [tmp_path / f"w{i}.log" for i in range(WORKERS)]
    procs = [_worker_process(database.url, f"w{i}", logs[i]) for i in range(WORKERS)]
    try:
        _wait_for(lambda: all("started" in log.read_text() for log in logs), 30,
                  "the workers to start")
        start = datetime.now(UTC) + timedelta(seconds=2)
        for i in range(CASES):  # one due every 0.15 s over 6 s
            start_probe(real, start + timedelta(seconds=0.15 * i))
        _wait_for(lambda: any(" fired " in log.read_text() for log in logs), 20,
                  "a first firing")
        victim = next(i for i, log in enumerate(logs) if " fired " in log.read_text())
        procs[victim].send_signal(signal.SIGKILL)
        killed_at = datetime.now(UTC)
        procs[victim].wait(timeout=10)

        def all_closed() -> bool:
            with real.session() as s:
                return s.scalar(select(func.count(Case.id)).where(
                    Case.process_id == PROBE_ID, Case.state == "closed")) == CASES
        _wait_for(all_closed, 40, "every probe case to close")
        with real.session() as s:
            rows = s.scalars(select(Deadline).join(Case, Case.id == Deadline.case_id)
                             .where(Case.process_id == PROBE_ID)).all()
            timer_records = s.scalar(select(func.count(HistoryRecord.id)).where(
                HistoryRecord.action == "timer"))
        assert len(rows) == CASES and all(r.kind == "timer" and r.fired_at for r in rows)
        assert timer_records == CASES  # exactly once each, across all workers
        after_kill = [r.fired_at - r.due_at for r in rows if r.due_at >= killed_at]
        assert after_kill, "the kill should come before the last deadlines were due"
        assert max(after_kill) < TAKEOVER_LIMIT
        survivors = [log.read_text() for i, log in enumerate(logs) if i != victim]
        assert any(" fired " in text for text in survivors)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_C9_worker_killed_with_sigkill_fires_what_it_missed_once_in_due_order_on_restart(
        kefu, database, tmp_path) -> None:
    """A real `kefu worker` process is killed with SIGKILL; deadlines fall due while no
    worker runs; the restarted process fires each of them once, in due order."""
    real = Kefu(kefu.settings, clock=SystemClock(), database=database)
    deploy_probe(real)
    first = _worker_process(database.url, "first", tmp_path / "first.log")
    try:
        _wait_for(lambda: "started" in (tmp_path / "first.log").read_text(), 30,
                  "the worker to start")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        start = datetime.now(UTC) + timedelta(seconds=1)
        due = [start + timedelta(seconds=0.1 * i) for i in (3, 0, 2, 1, 4)]
        for fire_at in due:
            start_probe(real, fire_at)
        _wait_for(lambda: datetime.now(UTC) > max(due), 10, "the deadlines to pass")
        with real.session() as s:
            assert s.scalar(select(func.count(Deadline.id))
                            .where(Deadline.fired_at.is_not(None))) == 0  # nobody fired them
        second = _worker_process(database.url, "second", tmp_path / "second.log")
        try:
            def all_closed() -> bool:
                with real.session() as s:
                    return s.scalar(select(func.count(Case.id)).where(
                        Case.process_id == PROBE_ID, Case.state == "closed")) == len(due)
            _wait_for(all_closed, 30, "the restarted worker to fire every missed deadline")
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    with real.session() as s:
        fired = s.scalars(select(HistoryRecord).join(Case, Case.id == HistoryRecord.case_id)
                          .where(Case.process_id == PROBE_ID, HistoryRecord.action == "timer")
                          .order_by(HistoryRecord.id)).all()
    assert [datetime.fromisoformat(r.data["due_at"]) for r in fired] == sorted(due)  # in order
    assert len({r.case_id for r in fired}) == len(due)  # once each
