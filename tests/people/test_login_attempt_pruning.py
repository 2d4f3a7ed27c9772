"""Old sign-in attempts are pruned by the timer worker's daily housekeeping (issue 13)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from engine.people import signin
from engine.persistence.signin_models import LoginAttempt
from engine.scheduler import worker as timer_worker


def _attempts(kefu) -> list[tuple[str, str]]:
    with kefu.session(read_only=True) as s:
        return sorted(tuple(row) for row in s.execute(
            select(LoginAttempt.username, LoginAttempt.outcome)))


def test_sign_in_attempts_older_than_the_setting_are_pruned_by_the_housekeeping(kefu) -> None:
    kefu.settings = dataclasses.replace(kefu.settings, login_attempt_days=90)
    start = kefu.clock.now()
    with kefu.session() as s:
        signin.record_attempt(s, "old-guess", "10.0.0.9", start, "wrong")
    kefu.clock.advance(days=60)
    with kefu.session() as s:
        signin.record_attempt(s, "agent01", "10.0.0.1", kefu.clock.now(), "ok")
    kefu.clock.advance(days=30, seconds=1)  # the first row is now just over 90 days old
    assert timer_worker.housekeeping(kefu) == 1
    assert _attempts(kefu) == [("agent01", "ok")]
    assert timer_worker.housekeeping(kefu) == 0  # nothing more is old enough


def test_a_long_backlog_is_pruned_in_batches(kefu, monkeypatch) -> None:
    monkeypatch.setattr(signin, "PRUNE_BATCH", 2)
    with kefu.session() as s:
        for n in range(5):
            signin.record_attempt(s, f"guess{n}", "10.0.0.9", kefu.clock.now(), "wrong")
    kefu.clock.advance(days=91)
    assert timer_worker.housekeeping(kefu) == 5
    assert _attempts(kefu) == []


def test_the_timer_worker_schedules_the_housekeeping_daily(kefu) -> None:
    timers = timer_worker.TimerWorker(kefu, name="housekeeping-test", listen=False)
    timers.start()
    try:
        job = timers.scheduler.get_job("kefu-housekeeping-housekeeping-test")
        assert job is not None and job.trigger.interval.total_seconds() == 24 * 3600
    finally:
        timers.stop()
