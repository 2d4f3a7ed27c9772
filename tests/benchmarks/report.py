"""The figures as one markdown table (printed, and written to docs/benchmarks.md) and JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RATIO_TARGET = {"sqlite": 0.5, "postgres": 0.35}
MEMORY_FLAT = 0.05  # peak RSS may grow at most 5 % from the first to the last checkpoint
FINDING_FLAT = 1.5  # finding due deadlines among all pending may cost 1.5x a tenth of them

Row = tuple[str, Callable[[dict[str, Any], str], tuple[str, bool | None]], str]


def _get(result: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def _ratio(r: dict[str, Any], db: str) -> tuple[str, bool | None]:
    t = r.get("throughput")
    if not t:
        return "—", None
    return (f"**{t['ratio']:.3f}** ({t['kefu_cases_per_s']:.1f} vs "
            f"{t['spiff_cases_per_s']:.0f} cases/s)", t["ratio"] >= RATIO_TARGET[db])


def _latency(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    t = _get(r, "throughput", "case_latency")
    if not t:
        return "—", None
    return f"{t['median_ms']:.1f} ms (p95 {t['p95_ms']:.1f})", None


def _inbox(name: str) -> Callable[[dict[str, Any], str], tuple[str, bool | None]]:
    def cell(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
        q = _get(r, "inbox", name)
        if not q:
            return "—", None
        plans = all(p["uses_index"] for p in q["plans"])
        return (f"**{q['p95_ms']:.1f} ms** (median {q['median_ms']:.1f}, p99 "
                f"{q['p99_ms']:.1f}; worst person's p95 {q['worst_actor_p95_ms']:.1f})"
                f"{'' if plans else '; full scan!'}",
                q["p95_ms"] < r["inbox"]["target_p95_ms"] and plans)
    return cell


def _timer(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    t = r.get("timers")
    if not t:
        return "—", None
    if "missing" in t:
        return f"not measured: {t['missing']}", None
    d = t["delay"]
    if not d:
        return "nothing fired", False
    return (f"**{d['p99_ms'] / 1000:.3f} s** (median {d['median_ms']:.0f} ms; "
            f"{t['fired']}/{t['due_in_window']} fired)",
            d["p99_ms"] / 1000 < t["target_p99_s"] and t["fired"] == t["due_in_window"])


def _finding(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    t = r.get("timers")
    if not t or "finding_all" not in t:
        return "—", None
    few, every = t["finding_few"], t["finding_all"]
    indexed = all(p["uses_index"] for p in every["plans"])
    return (f"{few['next_due']['median_ms']:.2f} → {every['next_due']['median_ms']:.2f} ms "
            f"({few['pending']:,} → {every['pending']:,} pending; claim "
            f"{few['claim']['median_ms']:.2f} → {every['claim']['median_ms']:.2f} ms)"
            f"{'' if indexed else '; full scan!'}",
            t["finding_cost_growth"] <= FINDING_FLAT and indexed)


def _memory(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    t = r.get("throughput")
    if not t:
        return "—", None
    points = [m for m in t["memory"] if m["cases"]]
    curve = ", ".join(f"{m['cases']:,}: {m['peak_rss_mb']:.0f}" for m in points)
    first, last = points[0]["peak_rss_mb"], points[-1]["peak_rss_mb"]
    return (f"**{curve} MB** (+{t['memory_growth_mb']:.1f} MB; "
            f"after the warm-up: {t['memory'][0]['peak_rss_mb']:.0f})",
            last - first <= first * MEMORY_FLAT)


def _growth(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    g = r.get("growth")
    if not g:
        return "—", None
    return (f"**×{g['late_over_early']:.2f}** (cycles 1–{g['window_cycles']}: "
            f"{g['cycle_ms_early']:.1f} ms, last {g['window_cycles']}: {g['cycle_ms_late']:.1f}"
            f" ms; in memory ×{g['in_memory_cycle_ms_late'] / g['in_memory_cycle_ms_early']:.2f})",
            g["late_over_early"] <= g["flat_limit"])


def _growth_own(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    g = r.get("growth")
    if not g or "own_late_over_early" not in g:
        return "—", None
    return (f"×{g['own_late_over_early']:.2f} ({g['own_cycle_ms_early']:.1f} → "
            f"{g['own_cycle_ms_late']:.1f} ms; SpiffWorkflow's engine "
            f"{g['engine_cycle_ms_early']:.1f} → {g['engine_cycle_ms_late']:.1f} ms)", None)


def _growth_total(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    g = r.get("growth")
    if not g:
        return "—", None
    return (f"{g['ms_per_step_short']:.1f} → {g['ms_per_step_long']:.1f} ms/step "
            f"({g['short_case_steps']} vs {g['long_case_steps']} steps; state "
            f"{g['state_bytes_short'] // 1000} → {g['state_bytes_long'] // 1000} kB)", None)


STEPS_PER_S = 20.0  # cases/s of bench7 with the live cache off, one process, PostgreSQL
PARALLEL_GAIN = 1.7  # two processes on two cores against one
ROUND_TRIPS = 4  # per step on PostgreSQL
STEP_GROWTH = 1.2  # CPU of loop steps 41–50 against 1–10, cache off
OFF_OVER_ON = 0.8


def _steps_rate(r: dict[str, Any], db: str) -> tuple[str, bool | None]:
    s = r.get("steps")
    if not s:
        return "—", None
    t = s["throughput"]
    off, on = t["cache_off"]["cases_per_s"], t["cache_on"]["cases_per_s"]
    ok = s["off_over_on"] >= OFF_OVER_ON and (db != "postgres" or off >= STEPS_PER_S)
    return (f"**{off:.1f}** cache off, {on:.1f} on ({s['off_over_on']:.0%}; CPU "
            f"{t['cache_off']['cpu_ms_per_case']:.0f} ms a case)", ok)


def _steps_parallel(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    p = _get(r, "steps", "parallel_cache_off")
    if not p:
        return "—", None
    return (f"**×{p['two_over_one']:.2f}** ({p['one']['cases_per_s']:.1f} → "
            f"{p['two']['cases_per_s']:.1f} cases/s)", p["two_over_one"] >= PARALLEL_GAIN)


def _steps_statements(r: dict[str, Any], db: str) -> tuple[str, bool | None]:
    s = _get(r, "steps", "statements_cache_off")
    if not s:
        return "—", None
    trips = s.get("round_trips_per_step")
    text = f"{s['statements_per_step']:.1f} statements"
    if trips is None:
        return text, None
    most = s["most_round_trips_in_a_step"]
    return (f"**{trips:.2f} round trips** (at most {most} in a step), {text}",
            most <= ROUND_TRIPS)


def _steps_growth(r: dict[str, Any], _db: str) -> tuple[str, bool | None]:
    g = _get(r, "steps", "growth_cache_off")
    if not g:
        return "—", None
    cpu, wall = g["cpu"], g["wall"]
    return (f"**×{cpu['late_over_early']:.2f}** CPU ({cpu['early_ms']:.1f} → "
            f"{cpu['late_ms']:.1f} ms), wall ×{wall['late_over_early']:.2f}",
            cpu["late_over_early"] <= STEP_GROWTH)


ROWS: list[Row] = [
    ("1. Throughput, Kefu ÷ SpiffWorkflow in memory", _ratio, "≥ 0.5 (SQLite), ≥ 0.35 (PG)"),
    ("   one complaint, intake → archive (median)", _latency, "(issue 2 note)"),
    ("2. Inbox: one person's tasks, p95", _inbox("my_tasks"), "< 20 ms"),
    ("   Inbox: one role's claimable tasks, p95", _inbox("claimable_tasks"), "< 20 ms"),
    ("3. Timer delay, due → fired, p99", _timer, "< 1 s"),
    ("   finding due deadlines (median)", _finding, f"flat (≤ ×{FINDING_FLAT})"),
    ("4. Worker peak RSS by cases processed", _memory, f"flat (≤ +{MEMORY_FLAT:.0%})"),
    ("5. Growth: cost of a return cycle, late ÷ early", _growth, "flat (≤ ×1.25)"),
    ("   Kefu's own part of a cycle (all but SpiffWorkflow's engine), late ÷ early",
     _growth_own, "—"),
    ("   per step, short vs long case", _growth_total, "—"),
    ("6. bench7 cases/s, one process, live cache off (and on)", _steps_rate,
     f"≥ {STEPS_PER_S:.0f} (PG), off ≥ {OFF_OVER_ON:.0%} of on"),
    ("   two processes ÷ one, cache off", _steps_parallel, f"≥ ×{PARALLEL_GAIN}"),
    ("   a step's round trips and statements, cache off", _steps_statements,
     f"≤ {ROUND_TRIPS} round trips (PG)"),
    ("   growth of a step over 50 loops, cache off", _steps_growth, f"≤ ×{STEP_GROWTH}"),
]


def markdown(results: dict[str, Any]) -> str:
    dbs = [d for d in ("sqlite", "postgres") if d in results["databases"]]
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    lines = [
        "| measure | " + " | ".join(names[d] for d in dbs) + " | target |",
        "| --- | " + " | ".join("---" for _ in dbs) + " | --- |",
    ]
    for label, cell, target in ROWS:
        cells = []
        for db in dbs:
            text, ok = cell(results["databases"][db], db)
            mark = "" if ok is None else (" ✅" if ok else " ❌")
            cells.append(text + mark)
        lines.append(f"| {label.replace('   ', '&nbsp;&nbsp;')} | " + " | ".join(cells)
                     + f" | {target} |")
    m = results["machine"]
    versions = ", ".join(f"{names[d]} {results['databases'][d].get('server', '?')}"
                         for d in dbs)
    lines += [
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB RAM, load average "
        f"{m['load_average_at_start']} at start; Python {m['python']}, SpiffWorkflow "
        f"{m['SpiffWorkflow']}, SQLAlchemy {m['SQLAlchemy']}; {versions}.",
        f"Sizes: {results['sizes_label']}. Run took {results['seconds']:.0f} s "
        f"({results['started']}).",
    ]
    return "\n".join(lines) + "\n"
