"""Growth: does a step cost more as the case behind it grows?

A complaint whose proposal the department head returns 50 times has 107 units of work; SpiffWorkflow
keeps every completed task in the tree Kefu stores, so a cost that follows the tree's size
would make late steps dearer than early ones and a long case quadratic. We time each
propose+approve cycle and compare cycles 1–10 with 41–50, and the same in memory; then,
in one more long case, where the early and the late cycles' time goes.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from sqlalchemy import select

from engine import Kefu
from engine.persistence.models import Case
from tests.benchmarks.breakdown import Breakdown, per_unit_ms
from tests.benchmarks.common import SHORT_PATH, long_path, people, start, step
from tests.benchmarks.spiff_baseline import InMemoryComplaints

FLAT = 1.25  # late cycles may cost at most this many times the early ones


def _drive(kefu: Kefu, who: dict[str, Any], path: list[tuple[str, str, dict]]) -> tuple[
        float, list[float], int]:
    """Run one case; returns its total time, each step's time and its stored state's size."""
    begun = time.perf_counter()
    case_id = start(kefu, who["agent01"])
    steps = []
    for spec_name, username, data in path:
        started = time.perf_counter()
        step(kefu, case_id, spec_name, who[username], data)
        steps.append(time.perf_counter() - started)
    total = time.perf_counter() - begun
    with kefu.session() as session:
        size = len(session.scalar(select(Case.workflow_state).where(Case.id == case_id)))
    return total, steps, size


def _cycles(step_times: list[float], returns: int) -> list[float]:
    """Per return cycle (propose + approve), skipping contact and judge."""
    loop = step_times[2:2 + 2 * returns]
    return [loop[i] + loop[i + 1] for i in range(0, len(loop), 2)]


def _in_memory_cycles(ceiling: InMemoryComplaints, returns: int) -> list[float]:
    """The same long case in memory, each cycle timed (SpiffWorkflow's own growth)."""
    times: list[float] = []
    ceiling.run(long_path(returns), times)
    return _cycles(times, returns)


def measure(kefu: Kefu, returns: int = 50, repeats: int = 3) -> dict[str, Any]:
    who = people(kefu)
    for _ in range(3):  # warm-up
        _drive(kefu, who, SHORT_PATH)
    short = [_drive(kefu, who, SHORT_PATH) for _ in range(max(5, repeats))]
    long = [_drive(kefu, who, long_path(returns)) for _ in range(repeats)]
    # Median over the repeats of each cycle's time, then the medians of the two windows.
    per_cycle = [statistics.median(c) for c in zip(*(_cycles(s, returns) for _, s, _ in long),
                                                       strict=True)]
    window = min(10, returns // 2) or 1
    early = statistics.median(per_cycle[:window])
    late = statistics.median(per_cycle[-window:])
    ceiling = InMemoryComplaints()
    ceiling.run()  # warm-up
    memory_cycles = [statistics.median(c) for c in zip(
        *(_in_memory_cycles(ceiling, returns) for _ in range(repeats)), strict=True)]
    short_steps = 1 + len(SHORT_PATH)
    long_steps = 1 + len(long_path(returns))
    parts = _breakdown(kefu, who, returns, window)
    short_total = statistics.median(t for t, _, _ in short)
    long_total = statistics.median(t for t, _, _ in long)
    return {
        "returns": returns, "repeats": repeats, "window_cycles": window,
        "cycle_ms_early": round(early * 1000, 2), "cycle_ms_late": round(late * 1000, 2),
        "late_over_early": round(late / early, 2),
        "flat_limit": FLAT,
        "in_memory_cycle_ms_early": round(statistics.median(memory_cycles[:window]) * 1000, 3),
        "in_memory_cycle_ms_late": round(statistics.median(memory_cycles[-window:]) * 1000, 3),
        "short_case_ms": round(short_total * 1000, 1), "short_case_steps": short_steps,
        "long_case_ms": round(long_total * 1000, 1), "long_case_steps": long_steps,
        "ms_per_step_short": round(short_total * 1000 / short_steps, 2),
        "ms_per_step_long": round(long_total * 1000 / long_steps, 2),
        "state_bytes_short": short[0][2], "state_bytes_long": long[0][2],
        "cycle_ms_by_cycle": [round(c * 1000, 2) for c in per_cycle],
        "breakdown_ms_per_cycle": parts,
        **_own_share(parts),
    }


def _own_share(parts: dict[str, dict[str, float]]) -> dict[str, float]:
    """A cycle's time outside SpiffWorkflow's engine calls, early and late: what Kefu adds."""
    engine = next(label for label in parts["early"] if label.startswith("SpiffWorkflow"))
    early, late = (parts[w]["total"] - parts[w].get(engine, 0.0) for w in ("early", "late"))
    return {"own_cycle_ms_early": round(early, 2), "own_cycle_ms_late": round(late, 2),
            "own_late_over_early": round(late / early, 2),
            "engine_cycle_ms_early": parts["early"].get(engine, 0.0),
            "engine_cycle_ms_late": parts["late"].get(engine, 0.0)}


def _breakdown(kefu: Kefu, who: dict[str, Any], returns: int,
               window: int) -> dict[str, dict[str, float]]:
    """Where the first and the last `window` cycles of one more long case spend their time."""
    path = long_path(returns)
    case_id = start(kefu, who["agent01"])
    for spec_name, username, data in path[:2]:
        step(kefu, case_id, spec_name, who[username], data)
    cycles = [path[2 + 2 * i: 4 + 2 * i] for i in range(returns)]

    def run(some: list[list[tuple[str, str, dict]]]) -> float:
        begun = time.perf_counter()
        for cycle in some:
            for spec_name, username, data in cycle:
                step(kefu, case_id, spec_name, who[username], data)
        return time.perf_counter() - begun

    with Breakdown() as parts:
        early = run(cycles[:window])
        out = {"early": per_unit_ms(parts.take(), early, window)}
        run(cycles[window:returns - window])
        parts.take()
        late = run(cycles[returns - window:])
        out["late"] = per_unit_ms(parts.take(), late, window)
    return out
