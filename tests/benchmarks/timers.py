"""Timer delay: with 100,000 pending deadlines, 1,000 of them fall due within one minute.

The cases are real workflows (seeded copies of cases run through the API, with renewed task
ids) and their deadline rows are the rows the engine itself projected. The cases that fall
due were started a day before the run (their SpiffWorkflow timers are past), so a `timer`
deadline fires the BPMN timer for real (C9 escalation), while `due` and `reminder` ones
notify the task's holder. The real timer worker (engine.scheduler.worker.TimerWorker on
APScheduler) runs on the real clock; a deadline's delay is the time from its due time to
the commit of the transaction that fired it (and, as the engine records it, fired_at - due).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select, update

from engine import Kefu, SystemClock
from engine.persistence.db import Database
from tests.benchmarks.common import settings_for, summary_ms
from tests.benchmarks.inbox import explain_statement

TARGET_P99_S = 1.0
KINDS = ("timer", "due", "reminder")


def available() -> str | None:
    """None if the deadlines feature can be measured, else what is missing."""
    missing = []
    for module, name in (("engine.timing.deadlines", "next_due"),
                         ("engine.persistence.deadline_models", "Deadline"),
                         ("engine.scheduler.worker", "TimerWorker"),
                         ("engine.scheduler.firing", "fire_due")):
        try:
            imported = __import__(module, fromlist=[name])
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
            continue
        if not hasattr(imported, name):
            missing.append(f"{module}.{name}")
    return "; ".join(missing) or None


def pending_count(kefu: Kefu) -> int:
    from engine.persistence.deadline_models import Deadline

    with kefu.session() as session:
        return session.scalar(select(func.count()).select_from(Deadline)
                              .where(Deadline.fired_at.is_(None))) or 0


def finding_cost(kefu: Kefu, calls: int = 500) -> dict[str, Any]:
    """Time of the two reads that find due deadlines, `calls` times in one unit of work:
    `deadlines.next_due` (when to wake up) and the firing's claim of the next due case."""
    from engine.scheduler import firing
    from engine.timing import deadlines

    now = datetime.now(UTC)
    out: dict[str, Any] = {"pending": pending_count(kefu)}
    reads: dict[str, Callable[[Any], Any]] = {
        "next_due": deadlines.next_due, "claim": lambda s: firing._claim(s, now)}
    for name, read in reads.items():
        times = []
        with kefu.session() as session:
            for _ in range(calls + 50):
                started = time.perf_counter()
                read(session)
                times.append(time.perf_counter() - started)
            session.rollback()
        out[name] = summary_ms(times[50:])
    out["plans"] = [explain_statement(kefu.db, kefu, read) for read in reads.values()]
    return out


def run_window(db: Database, kefu: Kefu, case_ids: Sequence[int], due: int,
               window_s: float, rng: random.Random) -> dict[str, Any]:
    """Move `due` pending rows of these cases into the next `window_s` seconds, run the
    timer worker until they have fired, and measure each one's delay."""
    from engine.persistence.deadline_models import Deadline

    with kefu.session() as session:  # nothing else falls due while the worker runs
        session.execute(update(Deadline).where(
            Deadline.fired_at.is_(None),
            Deadline.due_at < datetime.now(UTC) + timedelta(seconds=window_s + 120))
            .values(due_at=datetime.now(UTC) + timedelta(hours=1)))
    chosen = _choose(kefu, case_ids, due, rng)
    live = Kefu(settings_for(db.url), clock=SystemClock(), database=db)
    skipped = _SkipCounter()
    logging.getLogger("apscheduler").addHandler(skipped)
    commits, worker, restore = _start_worker(live)
    try:
        start = datetime.now(UTC) + timedelta(seconds=2)
        step = timedelta(seconds=window_s / max(1, len(chosen)))
        dues = {row_id: start + step * (i + 0.5) for i, (row_id, _, _) in enumerate(chosen)}
        with kefu.session() as session:
            session.execute(update(Deadline), [{"id": i, "due_at": d} for i, d in dues.items()])
        worker.arm()  # the worker would also learn of it by NOTIFY or its re-check
        give_up = start + timedelta(seconds=window_s + 30)
        while datetime.now(UTC) < give_up:
            time.sleep(0.5)
            with kefu.session() as session:
                left = session.scalar(select(func.count()).select_from(Deadline).where(
                    Deadline.id.in_(list(dues)), Deadline.fired_at.is_(None)))
            if not left:
                break
    finally:
        worker.stop()
        restore()
        logging.getLogger("apscheduler").removeHandler(skipped)
    with kefu.session() as session:
        fired = dict(session.execute(select(Deadline.id, Deadline.fired_at)
                                     .where(Deadline.id.in_(list(dues)))).tuples().all())
    delays, recorded = [], []
    for row_id, case_id, _kind in chosen:
        committed = [t for t in commits.get(case_id, []) if t >= dues[row_id]]
        if fired[row_id] is not None and committed:
            delays.append((min(committed) - dues[row_id]).total_seconds())
            recorded.append((fired[row_id] - dues[row_id]).total_seconds())
    return {
        "due_in_window": len(chosen), "window_s": window_s,
        "kinds": {k: sum(1 for _, _, kind in chosen if kind == k) for k in KINDS},
        "fired": len(delays), "target_p99_s": TARGET_P99_S,
        "delay": summary_ms(delays) if delays else {},
        "delay_fired_at": summary_ms(recorded) if recorded else {},
        "firing_transactions": sum(len(v) for v in commits.values()),
        "apscheduler_skipped_runs": skipped.count,
    }


def _choose(kefu: Kefu, case_ids: Sequence[int], due: int,
            rng: random.Random) -> list[tuple[int, int, str]]:
    """`due` pending rows of different cases, kinds in turn (timer, due, reminder)."""
    from engine.persistence.deadline_models import Deadline

    wanted = set(case_ids)
    with kefu.session() as session:
        rows = session.execute(select(Deadline.id, Deadline.case_id, Deadline.kind)
                               .where(Deadline.fired_at.is_(None))
                               .order_by(Deadline.id)).tuples().all()
    by_case: dict[int, dict[str, int]] = {}
    for row_id, case_id, kind in rows:
        if case_id in wanted:
            by_case.setdefault(case_id, {}).setdefault(kind, row_id)
    cases = sorted(by_case)
    rng.shuffle(cases)
    chosen = []
    for i, case_id in enumerate(cases[:due]):
        kinds = by_case[case_id]
        kind = KINDS[i % 3] if KINDS[i % 3] in kinds else next(iter(kinds))
        chosen.append((kinds[kind], case_id, kind))
    return chosen


class _SkipCounter(logging.Handler):
    """Counts APScheduler's "skipped: maximum number of running instances" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "skipped" in record.getMessage():
            self.count += 1


def _start_worker(kefu: Kefu) -> tuple[dict[int, list[datetime]], Any, Callable[[], None]]:
    """Start the real timer worker, noting when each case's firing transaction commits."""
    from engine.scheduler import firing
    from engine.scheduler.worker import TimerWorker

    commits: dict[int, list[datetime]] = {}
    lock = threading.Lock()
    original = firing._fire_case

    def recording(kefu: Kefu, session: Any, case_id: int, now: datetime) -> int:
        def committed(_session: Any) -> None:
            with lock:
                commits.setdefault(case_id, []).append(datetime.now(UTC))
        event.listen(session, "after_commit", committed, once=True)
        return original(kefu, session, case_id, now)

    firing._fire_case = recording  # the measuring point; restored afterwards
    worker = TimerWorker(kefu, name="benchmark")
    worker.start()
    return commits, worker, lambda: setattr(firing, "_fire_case", original)
