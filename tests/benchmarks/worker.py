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
import os
import resource
import statistics
import sys
import time
from typing import Any

from tests.benchmarks.common import fresh_database, open_kefu, people, run_case, summary_ms
from tests.benchmarks.spiff_baseline import InMemoryComplaints

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return round(int(statm.read().split()[1]) * PAGE_MB, 1)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def measure(url: str, cases: int, round_size: int, warmup: int,
            checkpoints: list[int]) -> dict[str, Any]:
    db = fresh_database(url)
    kefu = open_kefu(db)
    who = people(kefu)
    ceiling = InMemoryComplaints()
    for _ in range(warmup):
        run_case(kefu, who)
        ceiling.run()
    gc.collect()
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
    }


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
