"""Every path of processes/complaint.bpmn, through the engine API (issue 2)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

import engine
from engine.persistence.models import Case, HistoryRecord, Letter, SmsMessage
from tests.complaints import (
    APPROVE,
    CONTACT,
    DISSATISFIED,
    INTAKE,
    JUSTIFIED,
    NOT_JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    RETURN,
    SATISFIED,
    do,
    open_tasks,
    register,
    run_to_archive,
)


def _case(kefu, number: str) -> Case:
    with kefu.session() as s:
        return engine.case_by_number(s, number)


def _data(kefu, number: str) -> dict:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return engine.case_data(engine.load_case_workflow(kefu, s, case))


def test_C1_C2_intake_gives_case_number_receipt_and_owner(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    case = _case(deployed, number)
    data = _data(deployed, number)
    assert number.startswith("TS20261123")
    assert case.owner == "agent01" and data["owner_staff_no"] == "1001"
    assert data["receipt_issued"] is True
    assert data["accepted_at"] == "2026-11-23T09:00:00+08:00"
    assert data["feedback_due"] == "2026-11-24T09:00:00+08:00"  # general: 24 h (C5)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["contact"]


def test_C5_complex_category_gets_72_hour_feedback_deadline(deployed, people) -> None:
    number = register(deployed, people["agent01"], category="contract")
    data = _data(deployed, number)
    assert data["complaint_class"] == "complex"
    assert data["feedback_due"] == "2026-11-26T09:00:00+08:00"


def test_C4_not_justified_gets_explanation_then_archive(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], NOT_JUSTIFIED)
    assert [t.candidate_user for t in open_tasks(deployed, number)] == ["agent01"]
    do(deployed, number, "explain", people["agent01"],
       {"reply_channel": "sms", "explanation": NOT_JUSTIFIED["explanation"]})
    case = _case(deployed, number)
    assert case.state == "closed"
    data = _data(deployed, number)
    assert data["responsibility"] == "none" and data["archive_category"] == "fee"
    with deployed.session() as s:
        sms = s.scalars(select(SmsMessage).where(SmsMessage.case_id == case.id)).one()
    assert NOT_JUSTIFIED["explanation"] in sms.body and "工号1001" in sms.body


def test_C6_proposal_offered_only_to_the_department_named_at_judgement(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], {**JUSTIFIED, "department": "network"})
    [task] = open_tasks(deployed, number)
    assert (task.role, task.department) == ("dept_handler", "network")
    with deployed.session() as s:
        assert engine.claimable_tasks(s, people["bill01"]) == []
        assert [t.id for t in engine.claimable_tasks(s, people["net01"])] == [task.id]
        with pytest.raises(engine.PermissionDenied):
            engine.complete_task(deployed, s, task.id, people["bill01"], PROPOSAL)


def test_C6_head_returns_proposal_with_reasons_then_approves(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], JUSTIFIED)
    do(deployed, number, "propose", people["bill01"], PROPOSAL)
    do(deployed, number, "approve", people["billhead"], RETURN)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["propose"]
    assert _data(deployed, number)["return_reasons"] == RETURN["return_reasons"]
    do(deployed, number, "propose", people["bill01"], PROPOSAL)  # back to its author (issue 15)
    do(deployed, number, "approve", people["billhead"], APPROVE)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["reply"]


def test_C7_sms_reply_is_signed_with_staff_number_never_name(deployed, people) -> None:
    number = run_to_archive(deployed, people)
    case = _case(deployed, number)
    with deployed.session() as s:
        sms = s.scalars(select(SmsMessage).where(SmsMessage.case_id == case.id)).one()
    assert "工号1001" in sms.body and "刘洋" not in sms.body
    assert sms.phone == INTAKE["complainant_phone"] and sms.status == "queued"
    assert sms.segments == -(-len(sms.body) // 67)


def _letter(kefu, people, **intake) -> Letter:
    """A justified complaint answered by letter."""
    number = register(kefu, people["agent01"], **intake)
    do(kefu, number, "contact", people["duty01"], CONTACT)
    do(kefu, number, "judge", people["duty01"], JUSTIFIED)
    do(kefu, number, "propose", people["bill01"], PROPOSAL)
    do(kefu, number, "approve", people["billhead"], APPROVE)
    do(kefu, number, "reply", people["agent01"], {**REPLY_SMS, "reply_channel": "letter"})
    with kefu.session() as s:
        return s.scalars(select(Letter)).one()


def test_C7_letter_reply_is_printable_html_signed_with_staff_number(deployed, people) -> None:
    letter = _letter(deployed, people, complainant_name="<b>陈</b>")
    assert letter.html.startswith("<!doctype html>")
    assert "工号 1001" in letter.html and "刘洋" not in letter.html
    assert "&lt;b&gt;陈&lt;/b&gt;" in letter.html  # what a customer wrote is escaped


def test_C1_C7_case_number_and_letter_carry_the_centres_day_not_utcs(deployed, people,
                                                                     clock) -> None:
    """At 07:30 in the centre it is still yesterday in UTC: the complaint accepted then is
    numbered, and its letter dated and worded, with the centre's day."""
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    letter = _letter(deployed, people)
    assert "TS20261201" in letter.html and "您于2026-12-01反映" in letter.html
    assert "<br>2026-12-01</p>" in letter.html and "2026-11-30" not in letter.html


def test_C8_dissatisfied_callback_reopens_at_judgement(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
                            ("reply", "agent01", REPLY_SMS), ("callback", "agent01", DISSATISFIED)]:
        do(deployed, number, step, people[who], data)
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]
    for step, who, data in [("judge", "duty01", JUSTIFIED), ("propose", "bill01", PROPOSAL),
                            ("approve", "billhead", APPROVE), ("reply", "agent01", REPLY_SMS),
                            ("callback", "agent01", SATISFIED)]:
        do(deployed, number, step, people[who], data)
    assert _case(deployed, number).state == "closed"


def test_C10_archive_records_category_responsibility_and_three_year_retention(
        deployed, people) -> None:
    number = run_to_archive(deployed, people)
    case = _case(deployed, number)
    data = _data(deployed, number)
    assert (data["archive_category"], data["responsibility"]) == ("fee", "billing")
    assert case.state == "closed" and case.closed_at is not None
    assert case.retain_until.year - case.closed_at.year == 3
    assert case.retain_until.date() >= case.closed_at.date().replace(year=2029)
    assert open_tasks(deployed, number) == []


def test_A1_every_step_records_who_when_what_and_data(deployed, people) -> None:
    number = run_to_archive(deployed, people)
    case = _case(deployed, number)
    with deployed.session() as s:
        records = s.scalars(select(HistoryRecord).where(HistoryRecord.case_id == case.id)
                            .order_by(HistoryRecord.seq)).all()
    completed = [(r.task_spec, r.actor) for r in records if r.action == "completed"]
    assert completed == [("intake", "agent01"), ("contact", "duty01"), ("judge", "duty01"),
                         ("propose", "bill01"), ("approve", "billhead"), ("reply", "agent01"),
                         ("callback", "agent01")]
    judge = next(r for r in records if r.task_spec == "judge")
    assert judge.data == JUSTIFIED and judge.at is not None
    assert [r.action for r in records][0] == "started" and records[-1].action == "closed"
    assert "reply_sent" in [r.action for r in records]


def test_C2_reply_is_offered_only_to_the_case_owner(deployed, people) -> None:
    number = register(deployed, people["agent02"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], JUSTIFIED)
    do(deployed, number, "propose", people["bill01"], PROPOSAL)
    do(deployed, number, "approve", people["billhead"], APPROVE)
    with deployed.session() as s:
        assert [t.spec_name for t in engine.my_tasks(s, people["agent02"])] == ["reply"]
        assert engine.my_tasks(s, people["agent01"]) == []
        assert engine.claimable_tasks(s, people["agent01"]) == []
    with pytest.raises(engine.PermissionDenied):
        do(deployed, number, "reply", people["agent01"], REPLY_SMS)


def test_C12_logs_carry_no_customer_data_even_at_debug(deployed, people, caplog) -> None:
    """Troubleshooting with every log on must not copy customers' data into the logs:
    SpiffWorkflow puts each task's data into its log records unless Kefu quietens it."""
    caplog.set_level(logging.DEBUG)
    run_to_archive(deployed, people)
    phone, content = INTAKE["complainant_phone"], INTAKE["content"]
    leaked = [f"{r.name}: {r.getMessage()}" for r in caplog.records
              if phone in repr(vars(r)) or content in repr(vars(r))]
    assert leaked == []
