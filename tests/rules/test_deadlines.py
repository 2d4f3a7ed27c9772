"""Deadlines of the complaint process (C3, C5, C8), reminders, and working time (issue 3).

Time comes from the frozen clock: a test advances it and asks the engine to fire what is
due, exactly as the timer worker does at that moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import engine
from engine import Kefu
from engine.persistence.deadline_models import Deadline
from engine.persistence.models import TaskItem
from engine.timing import deadlines
from tests.complaints import (
    APPROVE,
    CONTACT,
    JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    SATISFIED,
    do,
    open_tasks,
    register,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACCEPTED = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # the `clock` fixture's start


def at(clock, **delta: float) -> datetime:
    """Move the frozen clock to acceptance + delta."""
    clock.set(ACCEPTED + timedelta(**delta))
    return clock.now()


def fire(kefu: Kefu, clock, **delta: float) -> engine.scheduler.firing.Fired:
    at(clock, **delta)
    return engine.fire_due(kefu)


def task(kefu: Kefu, number: str, spec_name: str) -> TaskItem:
    [item] = [t for t in open_tasks(kefu, number) if t.spec_name == spec_name]
    return item


def actions(kefu: Kefu, number: str) -> list[tuple[str, str | None]]:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return [(r.action, r.task_spec) for r in engine.case_history(s, case)]


def records(kefu: Kefu, number: str, action: str) -> list:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return [r for r in engine.case_history(s, case) if r.action == action]


# --- C3: contact within 2 hours ---------------------------------------------------------------

def test_C3_contact_is_due_two_hours_after_acceptance_with_time_left(deployed, people,
                                                                    clock) -> None:
    number = register(deployed, people["agent01"])
    contact = task(deployed, number, "contact")
    assert contact.due_at == ACCEPTED + timedelta(hours=2)
    shown = engine.timing(contact, at(clock, minutes=90))
    assert (shown.time_left, shown.overdue) == (timedelta(minutes=30), False)
    late = engine.timing(contact, at(clock, hours=2, minutes=5))
    assert late.overdue and late.time_left == -timedelta(minutes=5)
    with deployed.session() as s:  # the inbox lists it with its due time
        [offered] = engine.claimable_tasks(s, people["duty01"])
        assert offered.due_at == ACCEPTED + timedelta(hours=2)


def test_C3_reminder_at_80_percent_goes_to_whoever_holds_the_task(deployed, people,
                                                                  clock) -> None:
    number = register(deployed, people["agent01"])
    with deployed.session() as s:
        engine.claim_task(deployed, s, task(deployed, number, "contact").id, people["duty01"])
    assert fire(deployed, clock, minutes=95).fired == 0  # 80 % of 2 h is 1 h 36 min
    assert fire(deployed, clock, minutes=96).fired == 1
    [reminded] = records(deployed, number, "reminded")
    assert reminded.task_spec == "contact" and reminded.data["to"] == {"user": "duty01"}
    assert reminded.at == ACCEPTED + timedelta(minutes=96)
    with deployed.session() as s:
        [shown] = engine.reminders_for(s, people["duty01"])
        assert shown.spec_name == "contact" and shown.kind == "reminder"
        assert engine.reminders_for(s, people["agent01"]) == []
    assert fire(deployed, clock, minutes=100).fired == 0  # sent once
    assert len(records(deployed, number, "reminded")) == 1


def test_C3_overdue_contact_is_urged_once_and_can_still_be_done(deployed, people,
                                                                clock) -> None:
    number = register(deployed, people["agent01"])
    fire(deployed, clock, minutes=96)
    assert fire(deployed, clock, hours=2).fired == 1
    [urged] = records(deployed, number, "urged")
    assert urged.data["overdue"] == ["contact"]
    assert urged.data["tasks"][0]["to"] == {"role": "duty_supervisor", "department": None}
    assert ("timer", "contact_due") in actions(deployed, number)
    assert engine.timing(task(deployed, number, "contact"), clock.now()).overdue
    assert fire(deployed, clock, hours=3).fired == 0
    assert len(records(deployed, number, "urged")) == 1
    do(deployed, number, "contact", people["duty01"], CONTACT)  # non-interrupting
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]


def test_C3_contact_done_in_time_is_never_urged(deployed, people, clock) -> None:
    number = register(deployed, people["agent01"])
    at(clock, hours=1)
    do(deployed, number, "contact", people["duty01"], CONTACT)
    fire(deployed, clock, hours=3)
    assert records(deployed, number, "urged") == []
    assert ("timer", "contact_due") not in actions(deployed, number)


# --- C5: time limits by class -----------------------------------------------------------------

def test_C5_general_complaint_solution_is_due_24h_after_acceptance(deployed, people,
                                                                   clock) -> None:
    number = register(deployed, people["agent01"], category="fee")
    at(clock, hours=1)
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], JUSTIFIED)
    at(clock, hours=4)
    do(deployed, number, "propose", people["bill01"], PROPOSAL)
    approve = task(deployed, number, "approve")
    assert approve.due_at == ACCEPTED + timedelta(hours=24)
    # the reminder is at 80 % of the approval's own time: 4 h + 0.8 * 20 h = 20 h
    assert fire(deployed, clock, hours=19, minutes=59).fired == 0
    assert fire(deployed, clock, hours=20).fired == 1
    [reminded] = records(deployed, number, "reminded")
    assert reminded.task_spec == "approve"
    assert reminded.data["to"] == {"role": "dept_head", "department": "billing"}
    fire(deployed, clock, hours=24)
    [overdue] = records(deployed, number, "overdue")
    assert overdue.task_spec == "approve"
    assert datetime.fromisoformat(overdue.data["due_at"]) == ACCEPTED + timedelta(hours=24)


def test_C5_complex_complaint_gets_progress_feedback_within_72h_then_every_72h(
        deployed, people, clock) -> None:
    number = register(deployed, people["agent01"], category="contract")
    progress = task(deployed, number, "progress")
    assert progress.candidate_user == "agent01"
    assert progress.due_at == ACCEPTED + timedelta(hours=72)
    at(clock, hours=1)
    do(deployed, number, "contact", people["duty01"], CONTACT)
    assert task(deployed, number, "judge").due_at is None  # no 24 h solution limit
    at(clock, hours=50)
    do(deployed, number, "progress", people["agent01"],
       {"reached": True, "feedback_channel": "phone", "progress_notes": "合约条款核查中"})
    assert task(deployed, number, "progress").due_at == ACCEPTED + timedelta(hours=144)
    fire(deployed, clock, hours=144)
    assert [r.task_spec for r in records(deployed, number, "overdue")] == ["progress"]


# --- C8: callback within 3 days of the reply --------------------------------------------------

def test_C8_callback_is_due_three_days_after_the_reply_then_urged(deployed, people,
                                                                  clock) -> None:
    number = register(deployed, people["agent01"])
    at(clock, hours=1)
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
                            ("reply", "agent01", REPLY_SMS)]:
        do(deployed, number, step, people[who], data)
    callback = task(deployed, number, "callback")
    assert callback.due_at == ACCEPTED + timedelta(hours=1, days=3)
    assert fire(deployed, clock, hours=1, days=3, seconds=-1).fired == 1  # the reminder only
    assert records(deployed, number, "urged") == []
    fire(deployed, clock, hours=1, days=3)
    [urged] = records(deployed, number, "urged")
    assert urged.data["tasks"][0]["to"] == {"user": "agent01"}
    do(deployed, number, "callback", people["agent01"], SATISFIED)
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        assert case.state == "closed"
        pending = deadlines.case_deadlines(s, case)
        assert [d for d in pending if d.fired_at is None] == []


# --- working time -----------------------------------------------------------------------------

PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="probe_defs"
    targetNamespace="http://kefu.example/test">
  <bpmn:process id="wt_probe" name="working-time probe" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_agent" name="agent">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>ask</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>answer</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="ask" name="ask">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="probe_form.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="answer" name="answer">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="probe_form.json"/>
        %(due_property)s
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    %(boundary)s
    <bpmn:endEvent id="done"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask"/>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="answer"/>
    <bpmn:sequenceFlow id="f3" sourceRef="answer" targetRef="done"/>
  </bpmn:process>
</bpmn:definitions>
"""
BOUNDARY = """
    <bpmn:boundaryEvent id="answer_due" cancelActivity="false" attachedToRef="answer">
      <bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition id="answer_due_timer">
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">%s</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="late"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="answer_due" targetRef="late"/>"""
FORM = '{"type": "object", "properties": {"note": {"type": "string"}}}'


def _deploy_probe(kefu: Kefu, *, time_date: str | None = None, due_property: str = "") -> None:
    boundary = BOUNDARY % time_date if time_date else ""
    built = engine.build({"probe.bpmn": PROBE % {"boundary": boundary,
                                                 "due_property": due_property}},
                         {"probe_form.json": FORM})
    with kefu.session() as s:
        engine.deploy(s, built, "process_owner", kefu.clock.now())


def _start_probe(kefu: Kefu, actor) -> str:
    with kefu.session() as s:
        return engine.start_case(kefu, s, "wt_probe", actor, {"note": "x"}).number


@pytest.mark.parametrize("extra_days_off, lands", [
    ([], datetime(2026, 10, 8, 11, 0, tzinfo=SHANGHAI)),
    (["2026-10-08"], datetime(2026, 10, 9, 11, 0, tzinfo=SHANGHAI)),
])
def test_C5_working_time_deadline_set_on_national_day_eve_lands_after_the_holiday(
        kefu, people, clock, extra_days_off, lands) -> None:
    # Wednesday 30 Sep 2026 16:00: 2 working hours left that day, 1-7 October off.
    kefu.settings = kefu.settings.with_overrides(
        {"working_calendar": {"extra_days_off": extra_days_off}})
    clock.set(datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI))
    _deploy_probe(kefu, time_date='working_time(now(), "PT4H")')
    number = _start_probe(kefu, people["agent01"])
    assert task(kefu, number, "answer").due_at == lands
    clock.set(lands - timedelta(seconds=1))
    assert engine.fire_due(kefu).fired == 1  # only the reminder
    assert ("timer", "answer_due") not in actions(kefu, number)
    clock.set(lands)
    engine.fire_due(kefu)
    assert ("timer", "answer_due") in actions(kefu, number)


def test_bad_due_property_is_refused_naming_the_task_and_property(kefu, people, clock) -> None:
    _deploy_probe(kefu, due_property='<spiffworkflow:property name="dueAt" value="note"/>')
    with pytest.raises(engine.KefuError, match="answer: dueAt variable 'note'"):
        _start_probe(kefu, people["agent01"])
    with kefu.session() as s:  # nothing half-written
        assert s.scalars(select(Deadline)).all() == []


def test_C5_due_in_property_gives_a_calendar_due_time_and_one_overdue_record(
        kefu, people, clock) -> None:
    _deploy_probe(kefu, due_property='<spiffworkflow:property name="dueIn" value="PT1H"/>')
    number = _start_probe(kefu, people["agent01"])
    assert task(kefu, number, "answer").due_at == ACCEPTED + timedelta(hours=1)
    assert fire(kefu, clock, minutes=59).fired == 1  # the reminder at 48 min
    assert fire(kefu, clock, hours=1).fired == 1
    assert fire(kefu, clock, hours=5).fired == 0
    [overdue] = records(kefu, number, "overdue")
    assert overdue.task_spec == "answer"
    assert overdue.data["to"] == {"role": "agent", "department": None}
    assert engine.timing(task(kefu, number, "answer"), clock.now()).overdue
