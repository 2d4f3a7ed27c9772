"""What the sandbox costs a complaint's step (issue 13): run from a checkout before and after.

    .venv/bin/python -m tests.benchmarks.sandbox [--cases 40]

Prints the median time of one step of the complaint (intake → archive, on a temporary
SQLite file, after a warm-up), and per call: a condition evaluated, a small script run and
a source compiled for the first time (what deploy and a worker's first run pay, then cached).
Since issue 13 every run goes to a worker process (engine.scripting.workers): a condition
and a script cost a round trip on a pipe, and a new worker (after one was killed at a limit)
a fork from the forkserver. A plain comparison (names, constants, ==, <, and, not …) stays
in the request thread (engine.scripting.sandbox.is_plain_comparison).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from engine.scripting import workers
from engine.scripting.sandbox import SandboxEnvironment, check_source
from tests.benchmarks.common import SHORT_PATH, fresh_database, open_kefu, people, start, step

SCRIPT = "receipt_issued = True\ntotal = 0\nfor hours in [24, 48]:\n    total += hours\n"


def per_call_us(fn: object, repeat: int = 20_000) -> float:
    began = time.perf_counter()
    for _ in range(repeat):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - began) / repeat * 1e6


def _start_and_stop_a_worker() -> None:
    worker = workers._Worker()
    worker.wait_ready()
    worker.conn.close()  # the worker reads the end of its pipe and exits
    worker.process.join()


def complaint_step_ms(cases: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        kefu = open_kefu(fresh_database(f"sqlite:///{Path(folder) / 'bench.sqlite3'}"))
        who = people(kefu)
        times: list[float] = []
        for number in range(cases + 5):
            began = time.perf_counter()
            case_id = start(kefu, who["agent01"])
            laps = [time.perf_counter() - began]
            for spec_name, username, data in SHORT_PATH:
                began = time.perf_counter()
                step(kefu, case_id, spec_name, who[username], data)
                laps.append(time.perf_counter() - began)
            if number >= 5:  # the first cases warm caches up
                times.extend(laps)
        kefu.db.engine.dispose()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=40)
    args = parser.parse_args()
    env = SandboxEnvironment({})
    data = {"justified": True, "department": "billing"}
    condition = "justified == True and len(department) > 0"
    fresh = iter(range(10**9))
    print(f"complaint step, median:        {complaint_step_ms(args.cases):.2f} ms")
    evaluate_us = per_call_us(lambda: env.evaluate(condition, data))
    print(f"condition evaluated:           {evaluate_us:.1f} µs")
    plain = 'justified == True and department != "fee"'  # the shape of every process's own
    plain_us = per_call_us(lambda: env.evaluate(plain, data))
    print(f"plain comparison evaluated:    {plain_us:.1f} µs")
    print(f"small script run:              {per_call_us(lambda: env.execute(SCRIPT, {})):.1f} µs")
    compile_us = per_call_us(lambda: check_source(f"x = {next(fresh)} + 1"), 2_000)
    print(f"source compiled (cache miss):  {compile_us:.1f} µs")
    started_ms = per_call_us(_start_and_stop_a_worker, 20) / 1000
    print(f"worker started and stopped:    {started_ms:.1f} ms")


if __name__ == "__main__":
    main()
