"""The cost of one step when the worker does not hold the case live (issue 17).

With several web processes and no affinity, the next step of a case usually lands on a
process that did not save it last, so it restores the workflow from the database: the
situation `live_workflows=0` measures. The workload is the peers' comparison's
(`../shared/peers`): `bench7`, seven user tasks in sequence each with its own five-field
form, done by one agent, one unit of work a step; and `benchloop`, one task done 50 times.
The flows are written here (`write_flows`), so the section needs nothing outside the
repository.

Measured, on each database:
- cases/s with the live cache off and on, in interleaved rounds in one process;
- statements and round trips a step sends, cache off (round trips on PostgreSQL from
  libpq's trace: each time the client, having sent, waits to receive);
- growth with the cache off: loop steps 41–50 against 1–10 of `benchloop`, wall and CPU;
- on PostgreSQL, cases/s of 1 and of 2 worker processes running at the same time.

    .venv/bin/python -m tests.benchmarks.steps [--db sqlite,postgres] [--seconds 4]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

import engine
from engine import Actor, Kefu, Settings
from engine.people.organisation import DEMO_FILE
from engine.persistence.db import Database
from engine.persistence.models import Person, TaskItem
from tests.benchmarks.common import DEFAULT_PG_URL, ROOT, fresh_database, machine

STEPS = 7
LOOPS = 50
_NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
       'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


# --- the workload ------------------------------------------------------------------------

def _schema(prefix: str, title: str, with_n: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        f"{prefix}_text": {"title": "Text", "type": "string", "minLength": 1, "maxLength": 500},
        f"{prefix}_amount": {"title": "Amount", "type": "integer", "minimum": 0},
        f"{prefix}_ok": {"title": "OK", "type": "boolean"},
        f"{prefix}_choice": {"title": "Choice", "type": "string", "enum": ["a", "b", "c"]},
        f"{prefix}_note": {"title": "Note", "type": "string", "maxLength": 2000},
    }
    required = [f"{prefix}_text", f"{prefix}_amount", f"{prefix}_ok", f"{prefix}_choice"]
    if with_n:
        props["n"] = {"title": "Iteration", "type": "integer", "minimum": 1}
        required.append("n")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title,
            "type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def form_data(prefix: str, i: int) -> dict[str, Any]:
    return {f"{prefix}_text": f"Step {prefix}: customer called about the bill, case #{i}",
            f"{prefix}_amount": 100 + i, f"{prefix}_ok": True, f"{prefix}_choice": "b",
            f"{prefix}_note": "Checked the account and the call record; nothing unusual."}


def _user_task(tid: str, name: str, form: str, incoming: list[str], outgoing: str) -> str:
    ins = "".join(f"<bpmn:incoming>{i}</bpmn:incoming>" for i in incoming)
    return (f'<bpmn:userTask id="{tid}" name="{name}"><bpmn:extensionElements>'
            f'<spiffworkflow:properties><spiffworkflow:property '
            f'name="formJsonSchemaFilename" value="{form}" /></spiffworkflow:properties>'
            f'</bpmn:extensionElements>{ins}<bpmn:outgoing>{outgoing}</bpmn:outgoing>'
            f'</bpmn:userTask>\n')


def _process(pid: str, name: str, lane: list[str], body: list[str]) -> str:
    refs = "".join(f"<bpmn:flowNodeRef>{t}</bpmn:flowNodeRef>" for t in lane)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {_NS} '
            f'id="{pid}_defs" targetNamespace="http://bpmn.io/schema/bpmn">\n'
            f'<bpmn:process id="{pid}" name="{name}" isExecutable="true">\n'
            f'<bpmn:laneSet id="{pid}_lanes"><bpmn:lane id="{pid}_agent" name="agent">{refs}'
            f'</bpmn:lane></bpmn:laneSet>\n{"".join(body)}</bpmn:process>\n'
            f'</bpmn:definitions>\n')


def _bench7() -> str:
    ids = [f"t{i}" for i in range(1, STEPS + 1)]
    nodes = ["start", *ids, "end"]
    body = ['<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing>'
            '</bpmn:startEvent>\n']
    body += [_user_task(t, f"步骤 {k} / Step {k}", f"bench_{t}.json", [f"f{k - 1}"], f"f{k}")
             for k, t in enumerate(ids, start=1)]
    body.append(f'<bpmn:endEvent id="end"><bpmn:incoming>f{STEPS}</bpmn:incoming>'
                '</bpmn:endEvent>\n')
    body += [f'<bpmn:sequenceFlow id="f{k}" sourceRef="{nodes[k]}" '
             f'targetRef="{nodes[k + 1]}" />\n' for k in range(len(nodes) - 1)]
    return _process("bench7", "七步基准 / Seven-step benchmark", ids, body)


def _benchloop() -> str:
    body = [
        '<bpmn:startEvent id="start"><bpmn:outgoing>g0</bpmn:outgoing></bpmn:startEvent>\n',
        _user_task("t1", "开始 / First", "bench_t1.json", ["g0"], "g1"),
        _user_task("tl", "循环 / Loop", "bench_tl.json", ["g1", "g3"], "g2"),
        '<bpmn:exclusiveGateway id="gw" default="g4"><bpmn:incoming>g2</bpmn:incoming>'
        '<bpmn:outgoing>g3</bpmn:outgoing><bpmn:outgoing>g4</bpmn:outgoing>'
        '</bpmn:exclusiveGateway>\n',
        '<bpmn:endEvent id="end"><bpmn:incoming>g4</bpmn:incoming></bpmn:endEvent>\n',
        '<bpmn:sequenceFlow id="g0" sourceRef="start" targetRef="t1" />\n',
        '<bpmn:sequenceFlow id="g1" sourceRef="t1" targetRef="tl" />\n',
        '<bpmn:sequenceFlow id="g2" sourceRef="tl" targetRef="gw" />\n',
        f'<bpmn:sequenceFlow id="g3" sourceRef="gw" targetRef="tl"><bpmn:conditionExpression>'
        f'n &lt; {LOOPS}</bpmn:conditionExpression></bpmn:sequenceFlow>\n',
        '<bpmn:sequenceFlow id="g4" sourceRef="gw" targetRef="end" />\n',
    ]
    return _process("benchloop", "循环基准 / Loop benchmark", ["t1", "tl"], body)


def write_flows(folder: Path) -> Settings:
    """The two processes and their forms under `folder`; settings that read them."""
    (folder / "processes").mkdir(parents=True, exist_ok=True)
    (folder / "forms").mkdir(parents=True, exist_ok=True)
    (folder / "processes" / "bench7.bpmn").write_text(_bench7(), encoding="utf-8")
    (folder / "processes" / "benchloop.bpmn").write_text(_benchloop(), encoding="utf-8")
    forms = {f"bench_t{i}.json": _schema(f"t{i}", f"Step {i}") for i in range(1, STEPS + 1)}
    forms["bench_tl.json"] = _schema("tl", "Loop", with_n=True)
    for name, schema in forms.items():
        (folder / "forms" / name).write_text(json.dumps(schema, indent=2), encoding="utf-8")
    return Settings(processes_dir=folder / "processes", forms_dir=folder / "forms")


class Worker:
    """Kefu on one database with the two flows deployed; `live` workflows kept (0: off)."""

    def __init__(self, db: Database, flows: Settings, live: int, *, deploy: bool) -> None:
        settings = replace(flows, database_url=db.url, live_workflows=live)
        self.kefu = Kefu(settings, database=db)
        if deploy:
            with self.kefu.session() as session:
                engine.load_organisation(session, DEMO_FILE, with_passwords=False)
                files = engine.read_files(settings.processes_dir, settings.forms_dir)
                engine.deploy(session, engine.build(*files), "owner01", self.kefu.clock.now())
        with self.kefu.session() as session:
            person = session.scalar(select(Person).where(Person.username == "agent01"))
            self.agent: Actor = engine.actor_for(person)
        self.cases = 0

    def step(self, case_id: int, spec: str, data: dict[str, Any]) -> None:
        """One unit of work as the peers' workers and the web do it: find the task, do it."""
        with self.kefu.session() as session:
            task_id = session.scalar(select(TaskItem.id).where(TaskItem.case_id == case_id,
                                                               TaskItem.spec_name == spec))
            if task_id is None:
                raise RuntimeError(f"case {case_id}: task {spec} is not ready")
            engine.complete_task(self.kefu, session, task_id, self.agent, data)

    def start(self, process: str) -> int:
        self.cases += 1
        with self.kefu.session() as session:
            return engine.start_case(self.kefu, session, process, self.agent,
                                     form_data("t1", self.cases)).id

    def run_case(self, on_step: Callable[[], None] | None = None) -> None:
        case_id = self.start("bench7")
        for k in range(2, STEPS + 1):
            if on_step:
                on_step()
            self.step(case_id, f"t{k}", form_data(f"t{k}", self.cases))

    def run_long(self) -> list[tuple[float, float]]:
        """One `benchloop` case; (wall, CPU) seconds of each loop step."""
        case_id = self.start("benchloop")
        out = []
        for n in range(1, LOOPS + 1):
            wall, cpu = time.perf_counter(), time.process_time()
            self.step(case_id, "tl", {**form_data("tl", n), "n": n})
            out.append((time.perf_counter() - wall, time.process_time() - cpu))
        return out


# --- what a step sends -------------------------------------------------------------------

@contextmanager
def counting(db: Database) -> Iterator[Counter[str]]:
    """Statements by their first word, and (PostgreSQL) round trips, while the block runs.

    PostgreSQL: libpq's trace of every connection the pool hands out; a statement is a
    `Query` (simple protocol: BEGIN, COMMIT) or a `Bind` (extended protocol), a round trip
    each time messages from the client are followed by one from the server. SQLite: its
    trace callback, which sees every statement it runs, BEGIN and COMMIT included."""
    seen: Counter[str] = Counter()
    if db.is_sqlite:
        def trace(sql: str) -> None:
            seen[sql.lstrip().split(None, 1)[0].upper()] += 1

        def start(dbapi: Any, *_: Any) -> None:
            dbapi.set_trace_callback(trace)

        def stop(dbapi: Any, *_: Any) -> None:
            dbapi.set_trace_callback(None)
    else:
        handle = tempfile.TemporaryFile()
        from psycopg import pq

        def start(dbapi: Any, *_: Any) -> None:
            dbapi.pgconn.trace(handle.fileno())
            dbapi.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

        def stop(dbapi: Any, *_: Any) -> None:
            dbapi.pgconn.untrace()
    # Traced from their next checkout: the pool's connections, with the statements the
    # driver has already prepared on them (a fresh connection prepares them again).
    event.listen(db.engine.pool, "checkout", start)
    event.listen(db.engine.pool, "checkin", stop)
    try:
        yield seen
    finally:
        event.remove(db.engine.pool, "checkout", start)
        event.remove(db.engine.pool, "checkin", stop)
    if not db.is_sqlite:
        handle.seek(0)
        last = ""
        for line in handle.read().decode("utf-8", "replace").splitlines():
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            side, kind = parts[0], parts[2]
            if side == "F" and kind == "Query":
                word = parts[3].strip().strip('"').split(None, 1)[0].upper() \
                    if len(parts) > 3 else "?"
                seen[word] += 1
            elif side == "F" and kind == "Bind":
                seen["(extended)"] += 1
            if side == "B" and last == "F":
                seen["round trips"] += 1
            last = side
        handle.close()


def statements_per_step(worker: Worker, cases: int = 5) -> dict[str, Any]:
    """Counted unit of work by unit of work: the mean, and the most any one unit made.
    After a warm-up: psycopg prepares a statement on a connection the fifth time it runs
    it, which costs that one execution a round trip more."""
    for _ in range(8):
        worker.run_case()
    db = worker.kefu.db
    seen: Counter[str] = Counter()
    most: Counter[str] = Counter()

    def unit(run: Callable[[], Any]) -> Any:
        with counting(db) as one:
            result = run()
        seen.update(one)
        most["round trips"] = max(most["round trips"], one.get("round trips", 0))
        most["statements"] = max(most["statements"],
                                 sum(v for k, v in one.items() if k != "round trips"))
        return result

    for _ in range(cases):
        case_id = unit(lambda: worker.start("bench7"))
        for k in range(2, STEPS + 1):
            unit(lambda k=k, case_id=case_id: worker.step(case_id, f"t{k}",
                                                          form_data(f"t{k}", worker.cases)))
    steps = cases * STEPS
    trips = seen.pop("round trips", None)
    out: dict[str, Any] = {"by_kind_per_step": {k: round(v / steps, 2)
                                                for k, v in sorted(seen.items())},
                           "statements_per_step": round(sum(seen.values()) / steps, 2),
                           "most_statements_in_a_step": most["statements"]}
    if trips is not None:
        out["round_trips_per_step"] = round(trips / steps, 2)
        out["most_round_trips_in_a_step"] = most["round trips"]
    return out


# --- the measurements --------------------------------------------------------------------

def throughput(workers: dict[str, Worker], rounds: int, seconds: float) -> dict[str, Any]:
    """Rounds of each worker in turn (the order alternating), cases/s and CPU ms a case."""
    rates: dict[str, list[float]] = {name: [] for name in workers}
    cpu: dict[str, list[float]] = {name: [] for name in workers}
    names = list(workers)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            worker, done = workers[name], 0
            begun, cpu0 = time.perf_counter(), time.process_time()
            while done < 3 or time.perf_counter() - begun < seconds:
                worker.run_case()
                done += 1
            rates[name].append(done / (time.perf_counter() - begun))
            cpu[name].append((time.process_time() - cpu0) * 1000 / done)
    return {name: {"cases_per_s": round(statistics.median(rates[name]), 2),
                   "min": round(min(rates[name]), 2), "max": round(max(rates[name]), 2),
                   "cpu_ms_per_case": round(statistics.median(cpu[name]), 1)}
            for name in names}


def growth(worker: Worker, repeats: int) -> dict[str, Any]:
    runs = [worker.run_long() for _ in range(repeats)]
    out: dict[str, Any] = {}
    for index, label in ((0, "wall"), (1, "cpu")):
        per_step = [statistics.median(run[i][index] for run in runs) for i in range(LOOPS)]
        early, late = statistics.median(per_step[:10]), statistics.median(per_step[-10:])
        out[label] = {"early_ms": round(early * 1000, 2), "late_ms": round(late * 1000, 2),
                      "late_over_early": round(late / early, 2)}
    return out


def _serve(url: str, flows: Path, live: int, seconds: float) -> None:
    """A worker process of `parallel`: warm up, say ready, wait for the start, run."""
    worker = Worker(Database(url), write_flows(flows), live, deploy=False)
    for _ in range(8):
        worker.run_case()
    gc.collect()
    gc.freeze()
    print("ready", flush=True)
    sys.stdin.readline()
    begun, cpu0, done = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - begun < seconds:
        worker.run_case()
        done += 1
    elapsed = time.perf_counter() - begun
    print(json.dumps({"cases": done, "seconds": elapsed,
                      "cpu_ms_per_case": (time.process_time() - cpu0) * 1000 / max(1, done)}),
          flush=True)


def parallel(url: str, flows: Path, processes: int, seconds: float,
             live: int = 0) -> dict[str, Any]:
    """`processes` workers started together on the database, each its own process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.benchmarks.steps", "--serve", url,
               "--flows", str(flows), "--live", str(live), "--seconds", str(seconds)]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a parallel worker failed to start")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds * 10 + 120)
        if proc.returncode != 0:
            raise RuntimeError("a parallel worker failed")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return {"processes": processes,
            "cases_per_s": round(sum(r["cases"] / r["seconds"] for r in results), 2),
            "each": [round(r["cases"] / r["seconds"], 2) for r in results],
            "cpu_ms_per_case": [round(r["cpu_ms_per_case"], 1) for r in results]}


def measure(url: str, rounds: int = 5, seconds: float = 4.0, repeats: int = 5,
            with_parallel: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kefu-steps-"))
    flows = write_flows(folder)
    db = fresh_database(url)
    off = Worker(db, flows, 0, deploy=True)
    on = Worker(db, flows, 500, deploy=False)
    for _ in range(10):
        off.run_case()
        on.run_case()
    gc.collect()
    gc.freeze()
    out: dict[str, Any] = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    log("  statements …")
    out["statements_cache_off"] = statements_per_step(off)
    out["statements_cache_on"] = statements_per_step(on)
    log("  throughput …")
    out["throughput"] = throughput({"cache_off": off, "cache_on": on}, rounds, seconds)
    out["off_over_on"] = round(out["throughput"]["cache_off"]["cases_per_s"]
                               / out["throughput"]["cache_on"]["cases_per_s"], 2)
    log("  growth …")
    off.run_long()
    out["growth_cache_off"] = growth(off, repeats)
    if with_parallel and not db.is_sqlite:
        log("  parallel …")
        one = parallel(url, folder, 1, seconds * 2)
        two = parallel(url, folder, 2, seconds * 2)
        out["parallel_cache_off"] = {"one": one, "two": two,
                                     "two_over_one": round(two["cases_per_s"]
                                                           / one["cases_per_s"], 2)}
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    db.dispose()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("KEFU_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=5, help="long cases for the growth")
    parser.add_argument("--no-parallel", action="store_true")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--flows", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--live", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.flows, args.live, args.seconds)
        return
    results: dict[str, Any] = {"machine": machine(), "databases": {}}
    for name in [d.strip() for d in args.db.split(",") if d.strip()]:
        if name == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp(prefix='kefu-steps-db-')}/steps.sqlite3"
        else:
            url = args.pg_url
        print(f"{name}:", file=sys.stderr, flush=True)
        results["databases"][name] = measure(
            url, args.rounds, args.seconds, args.repeats, not args.no_parallel,
            log=lambda m: print(m, file=sys.stderr, flush=True))
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
