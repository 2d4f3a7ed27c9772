"""Kefu's benchmarks, side by side with SpiffWorkflow in memory, on SQLite and PostgreSQL.

    .venv/bin/python -m tests.benchmarks.run [--quick] [--db sqlite,postgres] [--json out.json]

Sections, each on a fresh database: (1) throughput and per-case latency, with (4) the
worker's memory, in a fresh process; (5) growth of a long case; (2) inbox latency on
100,000 seeded cases; (3) timer delay with 100,000 pending deadlines; (6) `steps`: a step
without the live cache (tests/benchmarks/steps.py). Prints a markdown
table, writes the figures as JSON (tests/benchmarks/results/latest.json) and, for a run at
the default sizes, the table to docs/benchmarks.md. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.persistence.db import Database
from tests.benchmarks import centre, growth, steps
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
README = ROOT / "README.md"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


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


#: The worker's case counts keep the whole run under 10 minutes on a loaded 2-core machine
#: (one complaint cost ~45–70 ms on SQLite and ~70–105 ms on PostgreSQL there, depending on
#: the day); `--cases 10000` gives the issue's 10,000-case memory curve (about 10 and 15
#: minutes more).
FULL = Sizes(
    worker_cases={"sqlite": 1500, "postgres": 800}, round_cases=150, warmup_cases=50,
    checkpoints={"sqlite": [500, 1000, 1500], "postgres": [200, 400, 800]},
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
SECTIONS = ("throughput", "growth", "inbox", "timers", "steps")


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
    db = Database(url)
    out: dict[str, Any] = {"server": server_version(db)}
    db.dispose()
    log(f"{name}:")
    if "throughput" in sections:
        with phase(f"throughput, latency and memory ({sizes.worker_cases[name]} cases)", log):
            out["throughput"] = run_worker(url, name, sizes)
    if "growth" in sections:
        with phase(f"growth ({sizes.returns} returns)", log):
            db = fresh_database(url)
            out["growth"] = growth.measure(open_kefu(db), sizes.returns, sizes.growth_repeats)
            db.dispose()
    if "steps" in sections:
        with phase("a step without the live cache (bench7, benchloop)", log):
            out["steps"] = steps.measure(url, rounds=3 if sizes is QUICK else 5,
                                         seconds=2.0 if sizes is QUICK else 4.0,
                                         repeats=2 if sizes is QUICK else 5, log=log)
    if "inbox" in sections or "timers" in sections:
        with phase(f"inbox and timers ({sizes.inbox_cases} cases)", log):
            db = fresh_database(url)
            out.update(centre.measure(
                db, open_kefu(db), cases=sizes.inbox_cases, open_cases=sizes.inbox_open,
                repeats=sizes.inbox_repeats, pending=sizes.timer_pending,
                due=sizes.timer_due, window_s=sizes.timer_window_s,
                with_timers="timers" in sections, log=log))
            db.dispose()
    return out


def reachable(url: str) -> str | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"cannot connect: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--db", default="sqlite,postgres",
                        help="databases to measure (default: sqlite,postgres)")
    parser.add_argument("--pg-url", default=os.environ.get("KEFU_BENCH_PG_URL", DEFAULT_PG_URL),
                        help="PostgreSQL URL; its tables are dropped and recreated "
                             f"(default: $KEFU_BENCH_PG_URL or {DEFAULT_PG_URL})")
    parser.add_argument("--cases", type=int, default=None,
                        help="complaints the throughput/memory worker runs on each database "
                             f"(default {FULL.worker_cases['sqlite']} on SQLite, "
                             f"{FULL.worker_cases['postgres']} on PostgreSQL; 10000 for the "
                             "issue's memory curve)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"which sections (default: {','.join(SECTIONS)})")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    parser.add_argument("--markdown", type=Path, default=None,
                        help=f"also write the table here (default at full size: {DOCS})")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.cases:
        points = sorted({max(1, args.cases // 10), max(1, args.cases // 2), args.cases})
        sizes = replace(sizes, worker_cases=dict.fromkeys(("sqlite", "postgres"), args.cases),
                        checkpoints=dict.fromkeys(("sqlite", "postgres"), points))
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
    chosen = targets([d.strip() for d in args.db.split(",") if d.strip()], args.pg_url)
    for target in chosen:
        problem = reachable(target.url)
        if problem:
            parser.error(f"{target.name} at {target.url}: {problem} (use --pg-url, or "
                         "--db sqlite to measure SQLite only)")
    try:
        for target in chosen:
            results["databases"][target.name] = measure(target.name, target.url, sizes,
                                                        sections)
    finally:
        for target in chosen:
            if target.name == "sqlite":
                shutil.rmtree(Path(target.url.removeprefix("sqlite:///")).parent,
                              ignore_errors=True)
    results["seconds"] = round(time.perf_counter() - begun, 1)
    table = markdown(results)
    print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    log(f"figures: {args.json}")
    out = args.markdown or (None if args.quick else DOCS)
    if out is not None:
        out.write_text(_document(table), encoding="utf-8")
        log(f"table: {out}")
        if out == DOCS and _update_readme(table):
            log(f"table: {README}")
    return 0


def _update_readme(table: str) -> bool:
    """Put the latest table between the README's benchmark markers (if it has them)."""
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table}{END}{tail}", encoding="utf-8")
    return True


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
