"""Helpers to measure how late deadlines fire (for tests/benchmarks, not for production).

`seed_pending` fills the deadline table with far-future rows fast (bulk inserts on one
ballast case), so that firing can be measured with, say, 100,000 deadlines pending;
`start_probe` opens cases whose only step is a timer due at a given moment; and
`firing_delays` reads how long after its due time each timer fired.

Run as `python -m engine.scheduler.benchmark DATABASE_URL [--pending N] [--cases N]`:
it seeds, runs one in-process timer worker on the real clock and prints the delays.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import insert, select

import engine
from engine.kefu import Kefu
from engine.people.roles import Actor
from engine.persistence.deadline_models import Deadline
from engine.persistence.models import Case, ProcessVersion

PROBE_ID = "deadline_probe"
PROBE_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="probe_defs"
    targetNamespace="http://kefu.example/benchmark">
  <bpmn:process id="deadline_probe" name="deadline probe" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_agent" name="agent">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>ask</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="ask" name="ask">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="deadline_probe.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:intermediateCatchEvent id="wait" name="wait">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer">
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">fire_at</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask"/>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="wait"/>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="done"/>
  </bpmn:process>
</bpmn:definitions>
"""
PROBE_FORM = ('{"type": "object", "required": ["fire_at"], '
              '"properties": {"fire_at": {"type": "string", "format": "date-time"}}}')
PROBE_ACTOR = Actor(username="benchmark", staff_no="0000", roles=frozenset({"agent"}))


def deploy_probe(kefu: Kefu) -> None:
    built = engine.build({"deadline_probe.bpmn": PROBE_BPMN},
                         {"deadline_probe.json": PROBE_FORM})
    with kefu.session() as session:
        engine.deploy(session, built, "benchmark", kefu.clock.now())


def start_probe(kefu: Kefu, fire_at: datetime) -> str:
    """A case whose timer is due at `fire_at` (deploy_probe first)."""
    with kefu.session() as session:
        case = engine.start_case(kefu, session, PROBE_ID, PROBE_ACTOR,
                                 {"fire_at": fire_at.isoformat()})
        return case.number


def seed_pending(kefu: Kefu, count: int, *, first_due: datetime,
                 spread: timedelta = timedelta(days=365), batch: int = 10_000) -> int:
    """Add `count` pending deadlines due from `first_due` over `spread`, on one closed
    ballast case (so none ever fires into a workflow); returns the ballast case id."""
    with kefu.session() as session:
        version_id = session.scalar(select(ProcessVersion.id).limit(1))
        if version_id is None:
            raise RuntimeError("deploy a process first: the ballast case needs a version")
        now = kefu.clock.now()
        case = Case(number=f"BALLAST{uuid4().hex[:12]}", process_id="ballast",
                    process_version_id=version_id, state="closed", created_at=now,
                    created_by="benchmark", workflow_state="{}")
        session.add(case)
        session.flush()
        case_id = case.id
    step = spread / max(count, 1)
    for offset in range(0, count, batch):
        rows = [{"case_id": case_id, "kind": "timer", "task_id": f"ballast-{i}",
                 "spec_name": "ballast", "title": "ballast", "start_at": now,
                 "due_at": first_due + step * i, "attempts": 0}
                for i in range(offset, min(offset + batch, count))]
        with kefu.session() as session:
            session.execute(insert(Deadline), rows)
    return case_id


def firing_delays(kefu: Kefu, since: datetime) -> list[float]:
    """Seconds from due time to firing, for every probe timer due since `since`."""
    with kefu.session() as session:
        rows = session.execute(
            select(Deadline.due_at, Deadline.fired_at).join(Case, Case.id == Deadline.case_id)
            .where(Case.process_id == PROBE_ID, Deadline.kind == "timer",
                   Deadline.due_at >= since, Deadline.fired_at.is_not(None))).all()
    return sorted((fired - due).total_seconds() for due, fired in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--every", type=float, default=0.2, help="seconds between due times")
    args = parser.parse_args()
    kefu = Kefu(engine.Settings(database_url=args.url))
    kefu.db.create_all_for_tests()
    deploy_probe(kefu)
    seed_pending(kefu, args.pending, first_due=datetime.now(UTC) + timedelta(days=1))
    worker = engine.TimerWorker(kefu, name="benchmark")
    worker.start()
    try:
        start = datetime.now(UTC) + timedelta(seconds=2)
        for i in range(args.cases):
            start_probe(kefu, start + timedelta(seconds=args.every * i))
        last = start + timedelta(seconds=args.every * args.cases)
        while datetime.now(UTC) < last + timedelta(seconds=5):
            time.sleep(0.2)
    finally:
        worker.stop()
    delays = firing_delays(kefu, start - timedelta(seconds=1))
    print(json.dumps({
        "database": kefu.db.engine.dialect.name, "pending": args.pending,
        "fired": len(delays), "expected": args.cases,
        "delay_s": {"min": delays[0], "median": statistics.median(delays),
                    "p99": delays[max(0, int(len(delays) * 0.99) - 1)], "max": delays[-1]}
        if delays else None}))


if __name__ == "__main__":
    main()
