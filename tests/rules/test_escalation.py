"""C9: a case open too long goes level by level to the shift leader, then the department
manager; each level and each 催单 is in the history (issue 3)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

import engine
from engine import Kefu
from engine.persistence.deadline_models import Deadline
from engine.scheduler import firing
from tests.complaints import (
    APPROVE,
    CONTACT,
    JUSTIFIED,
    NOT_JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    SATISFIED,
    do,
    open_tasks,
    register,
)
from tests.rules.test_deadlines import ACCEPTED, at, fire, records, task

OPINION = {"opinion": "请计费部今日内给出退费方案。", "follow_up": "下午 3 点前回电确认"}
COORDINATION = {"departments": ["billing", "network"], "coordination": "计费部牵头，网络部配合。"}


def level(kefu: Kefu, number: str) -> int:
    with kefu.session() as s:
        return engine.escalation_level(s, engine.case_by_number(s, number))


def judged_case(kefu: Kefu, people, **changes) -> str:
    """A justified case waiting for the billing department's proposal."""
    number = register(kefu, people["agent01"], **changes)
    at(kefu.clock, hours=1)
    do(kefu, number, "contact", people["duty01"], CONTACT)
    do(kefu, number, "judge", people["duty01"], JUSTIFIED)
    return number


def test_C9_case_open_24h_goes_to_the_shift_leader_and_the_department_is_urged(
        deployed, people, clock) -> None:
    number = judged_case(deployed, people)
    assert fire(deployed, clock, hours=23, minutes=59).fired == 1  # the proposal's reminder
    assert level(deployed, number) == 0
    fire(deployed, clock, hours=24)
    assert level(deployed, number) == 1
    [escalated] = records(deployed, number, "escalated")
    assert escalated.data["role"] == "shift_leader"
    assert datetime.fromisoformat(escalated.data["reached_at"]) == ACCEPTED + timedelta(hours=24)
    [urged] = records(deployed, number, "urged")
    assert urged.data["level"] == 1 and urged.data["department"] == "billing"
    assert urged.data["tasks"][0]["to"] == {"role": "dept_handler", "department": "billing"}
    with deployed.session() as s:  # the department's handlers see the 催单 on their task
        assert [r.kind for r in engine.reminders_for(s, people["bill01"])] == [
            "urge", "due", "reminder"]  # 催单, overdue (C5: 24 h), reminder at 80 %
        # no roster in this centre: the duty shift leader is the owner's own (agent01's)
        [opinion] = engine.my_tasks(s, people["leader01"])
        assert opinion.spec_name == "opinion" and opinion.candidate_user == "leader01"
        assert escalated.data["to"] == "leader01"
        assert engine.my_tasks(s, people["leader02"]) == []
        assert engine.claimable_tasks(s, people["leader02"]) == []
    # the case goes on while the shift leader writes the opinion
    do(deployed, number, "opinion", people["leader01"], OPINION)
    do(deployed, number, "propose", people["bill01"], PROPOSAL)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["approve"]


def test_C9_still_open_24h_later_goes_to_the_department_manager(deployed, people,
                                                                clock) -> None:
    number = judged_case(deployed, people)
    fire(deployed, clock, hours=24)
    assert fire(deployed, clock, hours=47, minutes=59).fired == 0
    fire(deployed, clock, hours=48)
    assert level(deployed, number) == 2
    levels = [(r.data["level"], r.data["role"], r.data["reached_at"], r.at)
              for r in records(deployed, number, "escalated")]
    assert [(lv, role) for lv, role, _, _ in levels] == [(1, "shift_leader"), (2, "dept_manager")]
    assert [datetime.fromisoformat(reached) for _, _, reached, _ in levels] == [
        ACCEPTED + timedelta(hours=24), ACCEPTED + timedelta(hours=48)]
    assert [r.data["level"] for r in records(deployed, number, "urged")] == [1, 2]
    with deployed.session() as s:
        [coordinate] = engine.claimable_tasks(s, people["manager01"])
        assert coordinate.spec_name == "coordinate"
    do(deployed, number, "coordinate", people["manager01"], COORDINATION)
    assert sorted(t.spec_name for t in open_tasks(deployed, number)) == ["opinion", "propose"]


def test_C9_the_second_level_delay_is_configurable(deployed, people, clock) -> None:
    deployed.settings = deployed.settings.with_overrides({"escalation_second_hours": "12"})
    number = judged_case(deployed, people)
    fire(deployed, clock, hours=24)
    fire(deployed, clock, hours=36)
    assert level(deployed, number) == 2


def test_C9_case_resolved_before_24h_does_not_escalate(deployed, people, clock) -> None:
    number = judged_case(deployed, people)
    at(clock, hours=20)
    for step, who, data in [("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
                            ("reply", "agent01", REPLY_SMS)]:
        do(deployed, number, step, people[who], data)
    fire(deployed, clock, hours=60)  # the callback is still open: the case is resolved
    assert level(deployed, number) == 0
    assert records(deployed, number, "escalated") == []
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["callback"]


def test_C9_case_closed_before_24h_does_not_escalate(deployed, people, clock) -> None:
    number = register(deployed, people["agent01"])
    at(clock, hours=1)
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], NOT_JUSTIFIED)
    do(deployed, number, "explain", people["agent01"],
       {"reply_channel": "sms", "explanation": NOT_JUSTIFIED["explanation"]})
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        assert case.state == "closed"
        assert s.scalars(select(Deadline).where(Deadline.case_id == case.id,
                                                Deadline.fired_at.is_(None))).all() == []
    assert fire(deployed, clock, days=5).fired == 0
    assert level(deployed, number) == 0 and records(deployed, number, "escalated") == []


def test_C9_open_escalation_tasks_end_when_the_case_is_archived(deployed, people,
                                                                clock) -> None:
    number = judged_case(deployed, people)
    fire(deployed, clock, hours=24)
    for step, who, data in [("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
                            ("reply", "agent01", REPLY_SMS), ("callback", "agent01", SATISFIED)]:
        do(deployed, number, step, people[who], data)
    with deployed.session() as s:
        assert engine.case_by_number(s, number).state == "closed"
    assert open_tasks(deployed, number) == []
    assert level(deployed, number) == 1  # the level reached stays on record


def test_C9_reopened_case_escalates_again_after_a_fresh_24h(deployed, people, clock) -> None:
    number = judged_case(deployed, people)
    at(clock, hours=2)
    for step, who, data in [("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
                            ("reply", "agent01", REPLY_SMS)]:
        do(deployed, number, step, people[who], data)
    at(clock, hours=30)
    do(deployed, number, "callback", people["agent01"],
       {"reached": True, "satisfied": False, "satisfaction": 2})
    assert fire(deployed, clock, hours=53).fired == 1  # judge's reminder, no escalation
    fire(deployed, clock, hours=54)
    assert level(deployed, number) == 1


# --- a deadline and a person at the same moment -----------------------------------------------

def _waits_for_a_lock(kefu: Kefu, limit: float = 10.0) -> bool:
    """Whether some session of this database is waiting for a row lock (bounded wait)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with kefu.db.engine.connect() as conn:
            waiting = conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))
        if waiting:
            return True
        time.sleep(0.01)
    return False


def test_C3_person_completing_while_the_deadline_fires_wins_and_nothing_doubles(
        deployed, people, clock) -> None:
    """The person holds the case lock first: the worker skips the case, then finds the
    deadline gone with the task."""
    if not deployed.db.is_postgres:
        pytest.skip(reason="needs two concurrent transactions: PostgreSQL row locks "
                           "(SQLite serialises whole transactions, so there is no overlap)")
    number = register(deployed, people["agent01"])
    contact = task(deployed, number, "contact")
    at(clock, hours=2)
    with deployed.session() as s:  # the person's transaction, not yet committed
        engine.complete_task(deployed, s, contact.id, people["duty01"], CONTACT)
        result = engine.fire_due(deployed)
        assert (result.fired, result.busy) == (0, True)
    assert engine.fire_due(deployed).fired == 0
    assert records(deployed, number, "urged") == []
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]


def test_C3_deadline_firing_while_a_person_completes_is_not_lost_or_doubled(
        deployed, people, clock) -> None:
    """The worker holds the case lock first: the person waits, then completes the task on
    the state the firing left (the overdue contact stays open: the timer does not
    interrupt it)."""
    if not deployed.db.is_postgres:
        pytest.skip(reason="needs two concurrent transactions: PostgreSQL row locks "
                           "(SQLite serialises whole transactions, so there is no overlap)")
    number = register(deployed, people["agent01"])
    contact = task(deployed, number, "contact")
    now = at(clock, hours=2)
    outcome: list[object] = []

    def person() -> None:
        try:
            with deployed.session() as s:
                engine.complete_task(deployed, s, contact.id, people["duty01"], CONTACT)
            outcome.append("done")
        except Exception as exc:  # reported by the assertion below
            outcome.append(exc)

    with deployed.session() as s:  # the worker's transaction
        case_id = firing._claim(s, now)
        assert firing._fire_case(deployed, s, case_id, now) == 2  # reminder + timer
        thread = threading.Thread(target=person)
        thread.start()
        assert _waits_for_a_lock(deployed)  # the person is blocked on the case row
        assert thread.is_alive()
    thread.join(timeout=10)
    assert outcome == ["done"]
    assert len(records(deployed, number, "urged")) == 1
    assert engine.fire_due(deployed).fired == 0
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]


def test_C9_complaint_diagram_draws_every_element_and_the_escalation_lanes() -> None:
    """The web draws processes/complaint.bpmn from its BPMNDI: nothing may be missing."""
    from pathlib import Path

    from lxml import etree

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
          "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    tree = etree.parse(str(Path(__file__).resolve().parents[2] / "processes/complaint.bpmn"))
    drawn = {e.get("bpmnElement") for e in tree.xpath("//bpmndi:BPMNShape|//bpmndi:BPMNEdge",
                                                      namespaces=ns)}
    kinds = ("startEvent", "endEvent", "userTask", "scriptTask", "serviceTask",
             "businessRuleTask", "exclusiveGateway", "parallelGateway", "boundaryEvent",
             "subProcess", "sequenceFlow", "lane")
    elements = {e.get("id") for kind in kinds
                for e in tree.xpath(f"//bpmn:process//bpmn:{kind}", namespaces=ns)}
    assert elements - drawn == set()
    lanes = {e.get("name") for e in tree.xpath("//bpmn:lane", namespaces=ns)}
    assert {"shift_leader", "dept_manager"} <= lanes


def test_C9_first_level_goes_to_the_shift_leader_rostered_on_duty(rostered, people,
                                                                  clock) -> None:
    """Issue 4: whatever goes "to the shift leader" goes to the one on duty at that moment."""
    from engine.people.roster import shift_leader_on_duty

    number = judged_case(rostered, people)
    fire(rostered, clock, hours=24)
    with rostered.session() as s:
        on_duty = shift_leader_on_duty(s, ACCEPTED + timedelta(hours=24), "agent01").username
        assert on_duty != "leader01"  # the roster, not agent01's own leader, decides
        [item] = [t for t in engine.my_tasks(s, people[on_duty]) if t.spec_name == "opinion"]
        assert item.case.number == number
        others = {u for u, a in people.items() if "shift_leader" in a.roles} - {on_duty}
        assert all(not engine.my_tasks(s, people[u]) for u in others)
    assert item.candidate_user == on_duty
