"""Deploy and run a corpus of BPMN files nobody here wrote, and count what happens (issue 14).

    .venv/bin/python -m tests.benchmarks.corpus FOLDER [FOLDER...]

Each .bpmn file is one attempt, deployed with the DMN files of its folder, the forms it
names, and the files of its folder that hold the processes it calls. It is parsed by plain
SpiffWorkflow (as Kefu's parser, XSD on), deployed by Kefu, and where it deploys, run on a
temporary SQLite database: every ready task completed with empty data by someone holding
every role, and the clock moved a day whenever the case waits, for up to 40 steps; the
deploy check's dry run (engine.definitions.dryrun) is counted too. Printed:
how many files SpiffWorkflow parses, how many Kefu deploys, refusals by reason, and how the
runs ended; a traceback anywhere is a crash and counted as such. Fetched corpora are not
part of the repository; this only reads the folders it is given.
"""

from __future__ import annotations

import re
import signal
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import select

import engine
from engine.config import Settings
from engine.persistence.db import Database
from engine.persistence.models import TaskItem

STEPS = 40
EVERYONE = engine.Actor(username="corpus", staff_no="0000", roles=frozenset(engine.ROLES))


class _Hang(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Hang


def files_for(bpmn: Path, index: dict[str, Path]) -> tuple[dict[str, str], dict[str, str]]:
    text = bpmn.read_text(encoding="utf-8", errors="replace")
    processes = {bpmn.name: text}
    for dmn in bpmn.parent.glob("*.dmn"):
        processes[dmn.name] = dmn.read_text(encoding="utf-8", errors="replace")
    pending = [text]
    while pending:
        for called in re.findall(r'calledElement="([^"]+)"', pending.pop()):
            other = index.get(called)
            if other is not None and other.name not in processes:
                processes[other.name] = other.read_text(encoding="utf-8", errors="replace")
                pending.append(processes[other.name])
    forms = {j.name: j.read_text(encoding="utf-8", errors="replace")
             for j in bpmn.parent.glob("*.json")
             if any(j.name in t for t in processes.values())}
    return processes, forms


def spiff_parses(processes: dict[str, str]) -> bool:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        for name, text in processes.items():
            tree = etree.fromstring(text.encode())
            (parser.add_dmn_xml if name.endswith(".dmn") else parser.add_bpmn_xml)(
                tree, filename=name)
        ids = parser.get_process_ids()
        for process_id in ids:
            parser.get_spec(process_id)
            parser.get_subprocess_specs(process_id)
    except Exception:  # noqa: BLE001 - anything SpiffWorkflow refuses counts the same
        return False
    return bool(ids)


def reason_of(problem: engine.Problem) -> str:
    reason = problem.reason.split(" / ")[-1] if " / " in problem.reason else problem.reason
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)
    reason = re.sub(r"\d+", "N", reason)
    return reason[:90]


def run(kefu: engine.Kefu, clock: engine.FixedClock, process_id: str) -> str:
    with kefu.session() as s:
        number = engine.start_case(kefu, s, process_id, EVERYONE).number
    for _ in range(STEPS):
        with kefu.session() as s:
            case = engine.case_by_number(s, number)
            if case.state == "closed":
                return "ran to the end"
            item = s.scalars(select(TaskItem).where(TaskItem.case_id == case.id)).first()
            task_id = item.id if item is not None else None
        if task_id is None:
            clock.advance(days=1)
            if engine.fire_due(kefu).fired == 0:
                return "waits for an event from outside (no timer pending)"
            continue
        with kefu.session() as s:
            engine.complete_task(kefu, s, task_id, EVERYONE, {})
    return f"still running after {STEPS} steps"


def main(folders: list[str]) -> None:
    bpmns = sorted(p for folder in folders for p in Path(folder).rglob("*.bpmn"))
    index: dict[str, Path] = {}
    for path in bpmns:
        for found in re.findall(r'<(?:\w+:)?process [^>]*id="([^"]+)"',
                                path.read_text(encoding="utf-8", errors="replace")):
            index.setdefault(found, path)
    counts: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    runs: Counter[str] = Counter()
    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory() as tmp:
        for number, bpmn in enumerate(bpmns):
            url = f"sqlite:///{tmp}/corpus{number}.sqlite3"
            database = Database(url)
            database.create_all_for_tests()
            clock = engine.FixedClock(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
            kefu = engine.Kefu(Settings(database_url=url), clock=clock, database=database)
            processes, forms = files_for(bpmn, index)
            counts["files"] += 1
            counts["SpiffWorkflow parses"] += spiff_parses(processes)
            signal.alarm(20)
            try:
                built = engine.build(processes, forms)
                with kefu.session() as s:
                    engine.deploy(s, built, "corpus", clock.now())
                counts["Kefu deploys"] += 1
                dry_run = getattr(engine, "dry_run", None)  # absent before issue 14
                dry = [w for process in built if dry_run
                       for w in dry_run(kefu.settings, process)]
                counts["deployed files with dry-run warnings"] += bool(dry)
                for process in built:
                    try:
                        runs[run(kefu, clock, process.process_id)] += 1
                    except engine.KefuError as exc:
                        runs[f"stopped with a Kefu error: {type(exc).__name__}"] += 1
                    clock.advance(days=1)
            except engine.DeploymentError as exc:
                counts["Kefu refuses"] += 1
                for reason in {reason_of(p) for p in exc.problems}:
                    refusals[reason] += 1
            except _Hang:
                counts["hang (20 s)"] += 1
                print(f"HANG {bpmn}")
            except Exception as exc:  # noqa: BLE001 - a traceback is what this counts
                counts["traceback"] += 1
                print(f"TRACEBACK {bpmn}: {type(exc).__name__}: {exc}"[:300])
            finally:
                signal.alarm(0)
                database.dispose()
    for key, value in counts.items():
        print(f"{key}: {value}")
    print("refusals by reason (files):")
    for reason, value in refusals.most_common():
        print(f"  {value:4d}  {reason}")
    print("runs of deployed processes:")
    for outcome, value in runs.most_common():
        print(f"  {value:4d}  {outcome}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["."])
