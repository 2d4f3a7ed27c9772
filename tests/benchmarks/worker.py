"""Throughput, per-case latency and memory, measured in one fresh worker process.

The process runs complaint cases from intake to archive through the engine API, in rounds;
after each Kefu round it runs as many cases purely in memory by SpiffWorkflow, so the two
rates of a round were measured under the same load and their ratio is robust to a noisy
machine. Its resident memory is sampled as the cases accumulate (1k, 5k, 10k by default).

Run by run.py as `python -m tests.benchmarks.worker URL --cases N …`; prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from typing import Any

from tests.benchmarks.breakdown import Breakdown, per_unit_ms
from tests.benchmarks.common import fresh_database, open_kefu, people, run_case, summary_ms
from tests.benchmarks.spiff_baseline import InMemoryComplaints


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The peak resident memory since the last reset (VmHWM). Not getrusage's ru_maxrss:
    that one survives fork and exec, so it reports the launching process's peak."""
    return _status_mb("VmHWM")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def measure(url: str, cases: int, round_size: int, warmup: int,
            checkpoints: list[int], breakdown_cases: int = 100) -> dict[str, Any]:
    db = fresh_database(url)
    kefu = open_kefu(db)
    who = people(kefu)
    ceiling = InMemoryComplaints()
    for _ in range(warmup):
        run_case(kefu, who)
        ceiling.run()
    gc.collect()
    reset_peak()
    memory = [{"cases": 0, "rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()}]

    latencies: list[float] = []
    rounds: list[dict[str, float]] = []
    done = 0
    wanted = sorted(checkpoints)
    while done < cases:
        size = min(round_size, cases - done)
        begun = time.perf_counter()
        for _ in range(size):
            started = time.perf_counter()
            run_case(kefu, who)
            latencies.append(time.perf_counter() - started)
        kefu_rate = size / (time.perf_counter() - begun)
        begun = time.perf_counter()
        for _ in range(size):
            ceiling.run()
        spiff_rate = size / (time.perf_counter() - begun)
        rounds.append({"kefu": kefu_rate, "spiff": spiff_rate, "ratio": kefu_rate / spiff_rate})
        done += size
        while wanted and done >= wanted[0]:
            memory.append({"cases": wanted.pop(0), "rss_mb": rss_mb(),
                           "peak_rss_mb": peak_rss_mb()})
    breakdown = cost_breakdown(kefu, who, breakdown_cases) if breakdown_cases else {}
    db.dispose()

    first = next((m for m in memory if m["cases"] >= min(checkpoints)), memory[0])
    last = memory[-1]
    growth = last["peak_rss_mb"] - first["peak_rss_mb"]
    return {
        "cases": cases, "warmup_cases": warmup, "round_cases": round_size,
        "rounds": len(rounds),
        "kefu_cases_per_s": round(statistics.median(r["kefu"] for r in rounds), 2),
        "spiff_cases_per_s": round(statistics.median(r["spiff"] for r in rounds), 2),
        "ratio": round(statistics.median(r["ratio"] for r in rounds), 3),
        "ratio_min": round(min(r["ratio"] for r in rounds), 3),
        "ratio_max": round(max(r["ratio"] for r in rounds), 3),
        "case_latency": summary_ms(latencies),
        "memory": memory,
        "memory_growth_mb": round(growth, 1),
        "memory_growth_per_1000_cases_mb": round(
            growth / max(1, (last["cases"] - first["cases"]) / 1000), 2),
        "cost_breakdown_ms_per_case": breakdown,
    }


def cost_breakdown(kefu: Any, who: dict[str, Any], cases: int) -> dict[str, float]:
    """Where a case's time goes (after the measurement: the wrappers cost it nothing)."""
    with Breakdown() as parts:
        begun = time.perf_counter()
        for _ in range(cases):
            run_case(kefu, who)
        total = time.perf_counter() - begun
    return per_unit_ms(parts.spent, total, cases)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--round", type=int, default=250, dest="round_size")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--checkpoints", default="1000,5000,10000")
    args = parser.parse_args(argv)
    checkpoints = [int(c) for c in args.checkpoints.split(",") if int(c) <= args.cases]
    result = measure(args.url, args.cases, args.round_size, args.warmup,
                     checkpoints or [args.cases])
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
