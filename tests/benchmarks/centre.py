"""A full centre in one database, seeded once for the inbox and the timer sections.

  A  a tenth of the cases → the cost of finding due deadlines among few pending rows
  B  the rest (100,000 cases, 20,000 open, ~1,000,000 history) → inbox latency
  C  open cases started a day ago, until 100,000 deadlines are pending → finding cost again
  D  1,000 of C's deadlines moved into the next minute → the timer worker fires them

Every seeded deadline falls well after the measured minute, so only the chosen thousand
fall due while the worker runs.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from engine import FixedClock, Kefu
from engine.persistence.db import Database
from tests.benchmarks import inbox, timers
from tests.benchmarks.common import open_kefu
from tests.benchmarks.seed import OPEN_MIX, Plan, capture_templates, seed

LATER = timedelta(minutes=30)  # seeded deadlines fall at least this long after seeding


def measure(db: Database, kefu: Kefu, *, cases: int, open_cases: int, repeats: int,
            pending: int, due: int, window_s: float, with_timers: bool,
            log: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(6)
    wall = datetime.now(UTC)
    templates = capture_templates(kefu)
    # Cases started a day and a minute ago: their BPMN timers are past when they fire.
    day_ago = open_kefu(db, FixedClock(wall - timedelta(days=1, minutes=1)), deploy=False,
                        organisation=False)
    late_templates = capture_templates(day_ago, kinds=list(OPEN_MIX))
    missing = timers.available() if with_timers else "not asked for"
    out: dict[str, Any] = {}

    begun = time.perf_counter()
    tenth = max(1, cases // 10)
    a = seed(db, templates, Plan(tenth, open_cases // 10, wall, LATER), rng)
    if missing is None:
        out["finding_few"] = timers.finding_cost(kefu)
    b = seed(db, templates, Plan(cases - tenth, open_cases - open_cases // 10, wall, LATER), rng)
    seeded = {name: a.rows.get(name, 0) + b.rows.get(name, 0) for name in {*a.rows, *b.rows}}
    out["seeded"] = {"cases": cases, "open_cases": open_cases, "rows": seeded,
                     "seconds": round(time.perf_counter() - begun, 1)}
    log(f"    seeded {cases} cases ({open_cases} open), "
        f"{seeded.get('history_record', 0)} history records in {out['seeded']['seconds']} s")
    out["inbox"] = inbox.measure(kefu, repeats)
    if missing is not None:
        out["timers"] = {"missing": missing}
        return out

    begun = time.perf_counter()
    have = timers.pending_count(kefu)
    per_case = sum(share * sum(1 for r in late_templates[k].children.get("deadline", [])
                               if r["fired_at"] is None) for k, share in OPEN_MIX.items())
    top_up = max(due, math.ceil((pending - have) / per_case))
    c = seed(db, late_templates, Plan(top_up, top_up, wall, LATER), rng)
    log(f"    +{top_up} open cases started a day ago in {time.perf_counter() - begun:.1f} s")
    result: dict[str, Any] = {"finding_few": out.pop("finding_few"),
                              "finding_all": timers.finding_cost(kefu)}
    result["pending"] = result["finding_all"]["pending"]
    result.update(timers.run_window(db, kefu, c.case_ids, due, window_s, rng))
    few, every = result["finding_few"], result["finding_all"]
    result["finding_cost_growth"] = round(
        every["next_due"]["median_ms"] / few["next_due"]["median_ms"], 2)
    out["timers"] = result
    return out
