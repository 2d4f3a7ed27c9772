"""Kefu's benchmarks, side by side with SpiffWorkflow in memory, on SQLite and PostgreSQL.

    .venv/bin/python -m tests.benchmarks.run [--quick] [--db sqlite,postgres] [--json out.json]

Sections, each on a fresh database: (1) throughput and per-case latency, with (4) the
worker's memory, in a fresh process; (5) growth of a long case; (2) inbox latency on
100,000 seeded cases; (3) timer delay with 100,000 pending deadlines. Prints a markdown
table, writes the figures as JSON (tests/benchmarks/results/latest.json) and, for a run at
the default sizes, the table to docs/benchmarks.md. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.benchmarks import growth, inbox, timers
from tests.benchmarks.common import (
    DEFAULT_PG_URL,
    ROOT,
    fresh_database,
    machine,
    open_kefu,
    phase,
    server_version,
    targets,
)
from tests.benchmarks.report import markdown

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
DOCS = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Sizes:
    worker_cases: dict[str, int]
    round_cases: int
    warmup_cases: int
    checkpoints: dict[str, list[int]]
    returns: int
    growth_repeats: int
    inbox_cases: int
    inbox_open: int
    inbox_repeats: int
    timer_pending: int
    timer_due: int
    timer_window_s: float


FULL = Sizes(
    worker_cases={"sqlite": 10_000, "postgres": 10_000}, round_cases=250, warmup_cases=50,
    checkpoints={"sqlite": [1000, 5000, 10_000], "postgres": [1000, 5000, 10_000]},
    returns=50, growth_repeats=3,
    inbox_cases=100_000, inbox_open=20_000, inbox_repeats=100,
    timer_pending=100_000, timer_due=1000, timer_window_s=60.0,
)
QUICK = Sizes(
    worker_cases={"sqlite": 300, "postgres": 300}, round_cases=100, warmup_cases=10,
    checkpoints={"sqlite": [100, 300], "postgres": [100, 300]},
    returns=10, growth_repeats=1,
    inbox_cases=10_000, inbox_open=2000, inbox_repeats=20,
    timer_pending=10_000, timer_due=100, timer_window_s=10.0,
)
SECTIONS = ("throughput", "growth", "inbox", "timers")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_worker(url: str, db: str, sizes: Sizes) -> dict[str, Any]:
    """Throughput, latency and memory in a fresh process (nothing else in its memory)."""
    command = [sys.executable, "-m", "tests.benchmarks.worker", url,
               "--cases", str(sizes.worker_cases[db]), "--round", str(sizes.round_cases),
               "--warmup", str(sizes.warmup_cases),
               "--checkpoints", ",".join(map(str, sizes.checkpoints[db]))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker failed on {db}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(name: str, url: str, sizes: Sizes, sections: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    log(f"{name}:")
    if "throughput" in sections:
        with phase(f"throughput, latency and memory ({sizes.worker_cases[name]} cases)", log):
            out["throughput"] = run_worker(url, name, sizes)
    if "growth" in sections:
        with phase(f"growth ({sizes.returns} returns)", log):
            db = fresh_database(url)
            out["growth"] = growth.measure(open_kefu(db), sizes.returns, sizes.growth_repeats)
            out["server"] = server_version(db)
            db.dispose()
    if "inbox" in sections:
        with phase(f"inbox ({sizes.inbox_cases} cases)", log):
            db = fresh_database(url)
            out["inbox"] = inbox.measure(open_kefu(db), sizes.inbox_cases, sizes.inbox_open,
                                         sizes.inbox_repeats, log)
            out["server"] = server_version(db)
            db.dispose()
    if "timers" in sections:
        missing = timers.available()
        if missing:
            out["timers"] = {"missing": missing}
            log(f"  timers: not measured, missing {missing}")
        else:
            with phase(f"timers ({sizes.timer_pending} pending)", log):
                db = fresh_database(url)
                out["timers"] = timers.measure(db, sizes.timer_pending, sizes.timer_due,
                                               sizes.timer_window_s, log)
                out["server"] = server_version(db)
                db.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--db", default="sqlite,postgres",
                        help="databases to measure (default: sqlite,postgres)")
    parser.add_argument("--pg-url", default=os.environ.get("KEFU_BENCH_PG_URL", DEFAULT_PG_URL),
                        help="PostgreSQL URL; its tables are dropped and recreated "
                             f"(default: $KEFU_BENCH_PG_URL or {DEFAULT_PG_URL})")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"which sections (default: {','.join(SECTIONS)})")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    parser.add_argument("--markdown", type=Path, default=None,
                        help=f"also write the table here (default at full size: {DOCS})")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"--sections: unknown {', '.join(sorted(unknown))}")
    begun = time.perf_counter()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(), "sizes_label": "quick" if args.quick else "default (full)",
        "sizes": asdict(sizes), "sections": sections, "databases": {},
    }
    for target in targets([d.strip() for d in args.db.split(",") if d.strip()], args.pg_url):
        results["databases"][target.name] = measure(target.name, target.url, sizes, sections)
    results["seconds"] = round(time.perf_counter() - begun, 1)
    table = markdown(results)
    print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    log(f"figures: {args.json}")
    out = args.markdown or (None if args.quick else DOCS)
    if out is not None:
        out.write_text(_document(table))
        log(f"table: {out}")
    return 0


def _document(table: str) -> str:
    return (
        "# Benchmarks\n\n"
        "The latest run of `.venv/bin/python -m tests.benchmarks.run` (see the README's "
        "Benchmarks section; every figure, with plans and curves, is in "
        "`tests/benchmarks/results/latest.json`). Ratios compare figures measured in the "
        "same run on the same machine; absolute times depend on the machine and its load.\n\n"
        + table + "\n" + Path(__file__).with_name("NOTES.md").read_text(encoding="utf-8")
    )


if __name__ == "__main__":
    sys.exit(main())
