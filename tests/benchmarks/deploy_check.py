"""Time the deploy check's dry run (issue 14) on the repository's processes: what a process
owner waits for on the upload page and at `kefu deploy --check`.

    .venv/bin/python -m tests.benchmarks.deploy_check [REPEATS]

Prints, per process, the runs the walk took and the seconds, and the whole static build
without the walk and with it (the walks' cache emptied each time).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import engine
from engine.definitions import dryrun

ROOT = Path(__file__).resolve().parents[2]


def main(repeats: int = 5) -> None:
    files = engine.read_files(ROOT / "processes", ROOT / "forms")
    settings = engine.Settings()
    for label, walk in (("build without the dry run", False), ("build with the dry run", True)):
        best = float("inf")
        for _ in range(repeats):
            dryrun._CACHE.clear()
            began = time.perf_counter()
            engine.build(*files, walk=walk)
            best = min(best, time.perf_counter() - began)
        print(f"{label}: {best:.3f} s (best of {repeats})")
    for built in engine.build(*files, walk=False):
        dryrun._CACHE.clear()
        began = time.perf_counter()
        report = dryrun.explore(settings, built)
        print(f"  {built.process_id}: {report.runs} runs, {time.perf_counter() - began:.3f} s,"
              f" capped: {report.capped}, warnings: {len(report.warnings)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
