"""Each step of a complaint on the served product, as people meet it: `kefu init --demo` and
`kefu serve` started as the README says, then the demo centre's people over HTTP (the same
driver as tests/served). Prints the median and the worst of each step over a few rounds,
on SQLite and on the PostgreSQL at 127.0.0.1:5432 (a fresh database, dropped afterwards).

    .venv/bin/python -m tests.benchmarks.served_steps [--rounds 5] [--db sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from tests.served.conftest import START, installation
from tests.served.driver import served, whole_complaint


def measure(kind: str, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as folder, installation(kind, Path(folder)) as url, \
            served(Path(folder), url, START) as running:
        for _ in range(rounds):
            _, steps = whole_complaint(running.base, running.clock)
            for step in steps:
                times[step.what].append(step.seconds * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = {kind: measure(kind, args.rounds) for kind in kinds}
    print("| step | " + " | ".join(f"{k} median (worst), ms" for k in kinds) + " |")
    print("| --- |" + " --- |" * len(kinds))
    for step in results[kinds[0]]:
        cells = [f"{statistics.median(results[k][step]):.0f} ({max(results[k][step]):.0f})"
                 for k in kinds]
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
