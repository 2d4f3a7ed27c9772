"""Timer delay: 100,000 pending deadlines, 1,000 of them falling due within one minute.

The cases are real workflows (seeded copies of cases run through the API, with renewed task
ids) and their deadline rows are the rows the engine itself projected. The seeded cases'
SpiffWorkflow timers were set a day before the run, so a `timer` deadline that falls due
fires the BPMN timer for real (C9 escalation), while `due` and `reminder` ones notify the
holder. The real timer worker (engine.scheduler.worker.TimerWorker, APScheduler) runs on the
real clock; the delay of each deadline is the time from its due time to the commit of the
transaction that fired it (and, as the engine records it, `fired_at - due_at`).

The cost of finding due deadlines is timed at a tenth of the pending rows and at all of
them: it must not grow with the number pending.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update

from engine import FixedClock, Kefu, SystemClock
from engine.persistence.db import Database
from tests.benchmarks.common import open_kefu, settings_for, summary_ms
from tests.benchmarks.seed import OPEN_MIX, Plan, capture_templates, seed

TARGET_P99_S = 1.0
KINDS = ("timer", "due", "reminder")


def available() -> str | None:
    """None if the deadlines feature can be measured, else what is missing."""
    missing = []
    for module, name in (("engine.deadlines", "next_due"),
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


def measure(db: Database, pending: int, due: int, window_s: float,
            log: Callable[[str], None]) -> dict[str, Any]:
    from engine.persistence.deadline_models import Deadline

    wall = datetime.now(UTC)
    # The templates' timers were set a day and a minute ago: due by the time they fire.
    maker = open_kefu(db, FixedClock(wall - timedelta(days=1, minutes=1)))
    templates = capture_templates(maker, kinds=list(OPEN_MIX))
    per_case = sum(share * sum(1 for r in templates[k].children.get("deadline", [])
                               if r["fired_at"] is None) for k, share in OPEN_MIX.items())
    cases = max(1, math.ceil(pending / per_case))
    rng = random.Random(3)
    lead = timedelta(seconds=window_s + 120)  # every seeded row falls after the window
    timings: dict[str, Any] = {}
    first = max(1, cases // 10)
    begun = time.perf_counter()
    for label, count in (("tenth", first), ("all", cases - first)):
        seed(db, templates, Plan(count, count, wall, deadlines_after=lead), rng)
        timings[label] = _finding_cost(maker, db)
    seconds = time.perf_counter() - begun
    with maker.session() as session:
        total_pending = session.query(Deadline).filter(Deadline.fired_at.is_(None)).count()
    log(f"    seeded {cases} open cases with {total_pending} pending deadlines in "
        f"{seconds:.1f} s")

    chosen = _choose(maker, due, rng)
    live = Kefu(settings_for(db.url), clock=SystemClock(), database=db)
    commits, worker = _start_worker(live)
    try:
        start = datetime.now(UTC) + timedelta(seconds=2)
        step = timedelta(seconds=window_s / due)
        dues = {row_id: start + step * (i + 0.5) for i, (row_id, _, _) in enumerate(chosen)}
        with maker.session() as session:
            session.execute(update(Deadline), [{"id": i, "due_at": d} for i, d in dues.items()])
        worker.arm()
        deadline = start + timedelta(seconds=window_s + 30)
        while datetime.now(UTC) < deadline:
            with maker.session() as session:
                left = session.scalar(select(Deadline.id).where(
                    Deadline.id.in_(list(dues)), Deadline.fired_at.is_(None)).limit(1))
            if left is None:
                break
            time.sleep(0.5)
    finally:
        worker.stop()
        _stop_recording()
    with maker.session() as session:
        fired = {r.id: r.fired_at for r in session.scalars(
            select(Deadline).where(Deadline.id.in_(list(dues))))}
    delays, recorded = [], []
    for row_id, case_id, _kind in chosen:
        committed = [t for t in commits.get(case_id, []) if t >= dues[row_id]]
        if fired[row_id] is not None and committed:
            delays.append((min(committed) - dues[row_id]).total_seconds())
            recorded.append((fired[row_id] - dues[row_id]).total_seconds())
    result = {
        "pending": total_pending, "due_in_window": due, "window_s": window_s,
        "kinds": {k: sum(1 for _, _, kind in chosen if kind == k) for k in KINDS},
        "fired": len(delays), "target_p99_s": TARGET_P99_S,
        "delay": summary_ms(delays) if delays else {},
        "delay_fired_at": summary_ms(recorded) if recorded else {},
        "finding_cost": timings,
        "finding_cost_growth": round(timings["all"]["next_due"]["median_ms"]
                                     / timings["tenth"]["next_due"]["median_ms"], 2),
        "plans": _plans(db, maker),
    }
    return result


def _finding_cost(kefu: Kefu, db: Database) -> dict[str, Any]:
    """Median time of the two reads that find due deadlines (public next_due; the claim)."""
    from engine import deadlines
    from engine.scheduler import firing

    now = datetime.now(UTC)
    out: dict[str, Any] = {}
    with kefu.session() as session:
        from engine.persistence.deadline_models import Deadline
        out["pending"] = session.query(Deadline).filter(Deadline.fired_at.is_(None)).count()
    for name, read in (("next_due", deadlines.next_due),
                       ("claim", lambda s: firing._claim(s, now))):
        times = []
        for _ in range(220):
            started = time.perf_counter()
            with kefu.session() as session:
                read(session)
            times.append(time.perf_counter() - started)
        out[name] = summary_ms(times[20:])
    return out


def _choose(kefu: Kefu, due: int, rng: random.Random) -> list[tuple[int, int, str]]:
    """`due` pending rows of different cases, kinds in turn (timer, due, reminder)."""
    from engine.persistence.deadline_models import Deadline

    with kefu.session() as session:
        rows = session.execute(select(Deadline.id, Deadline.case_id, Deadline.kind)
                               .where(Deadline.fired_at.is_(None))).all()
    by_case: dict[int, dict[str, int]] = {}
    for row_id, case_id, kind in rows:
        by_case.setdefault(case_id, {}).setdefault(kind, row_id)
    cases = list(by_case)
    rng.shuffle(cases)
    chosen = []
    for i, case_id in enumerate(cases):
        if len(chosen) == due:
            break
        kinds = by_case[case_id]
        kind = KINDS[i % 3] if KINDS[i % 3] in kinds else next(iter(kinds))
        chosen.append((kinds[kind], case_id, kind))
    return chosen


_recording: list[Callable[[], None]] = []


def _start_worker(kefu: Kefu) -> tuple[dict[int, list[datetime]], Any]:
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

    firing._fire_case = recording
    _recording.append(lambda: setattr(firing, "_fire_case", original))
    worker = TimerWorker(kefu, name="benchmark")
    worker.start()
    return commits, worker


def _stop_recording() -> None:
    while _recording:
        _recording.pop()()


def _plans(db: Database, kefu: Kefu) -> list[dict[str, Any]]:
    from engine import deadlines
    from engine.scheduler import firing
    from tests.benchmarks.inbox import explain_statement

    now = datetime.now(UTC)
    return [explain_statement(db, kefu, deadlines.next_due),
            explain_statement(db, kefu, lambda s: firing._claim(s, now))]
