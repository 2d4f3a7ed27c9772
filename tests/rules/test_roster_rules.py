"""Issue 16: the roster's roles kept whole (S4), every "to the shift leader" step routed
only to holders of the role along one chain with the fallback recorded (C9, L2, Q3), the
leave endorsement due before the shift and flagged at the shift if unanswered (L2, L1), and
one request at a time per person and shift.

Demo roster (tests/conftest.py `rostered`, clock Monday 23 Nov 2026 09:00): leader04's team
is on the day shift; leader01's team (agent01 ...) works the days of 25–26 Nov, leader02's
team the days of 27–28 Nov, leader03's team (agent08 ...) the days of 29–30 Nov.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

import engine
from engine import FormValidationError, RuleViolation
from engine.persistence.deadline_models import Deadline
from engine.persistence.models import Case, Person, PersonRole
from tests.complaints import do, open_tasks
from tests.rules.test_deadlines import ACCEPTED, fire, records
from tests.rules.test_escalation import judged_case
from tests.rules.test_leave_process import APPROVE, ENDORSE, data_of, waiting
from tests.rules.test_leave_process import ask as ask_leave
from tests.rules.test_report_process import report

SH = ZoneInfo("Asia/Shanghai")


def swap(kefu, actor, mine: date, counterpart: str, theirs: date) -> str:
    data = {"my_shift_date": mine.isoformat(), "my_shift_kind": "day",
            "counterpart": counterpart, "their_shift_date": theirs.isoformat(),
            "their_shift_kind": "day", "reason": "家事"}
    with kefu.session() as s:
        return engine.start_case(kefu, s, "shift_swap", actor, data).number


def drop_role(kefu, username: str, role: str = "shift_leader") -> None:
    with kefu.session() as s:
        person = s.scalars(select(Person).where(Person.username == username)).one()
        s.execute(delete(PersonRole).where(PersonRole.person_id == person.id,
                                           PersonRole.role == role))


def cases(kefu) -> int:
    with kefu.session() as s:
        return s.scalar(select(func.count()).select_from(Case))


# --- S4: the leading slot ---------------------------------------------------------------------

def test_S4_a_shift_leader_cannot_swap_his_leading_slot_with_a_plain_agent(rostered,
                                                                          people) -> None:
    mine, theirs = date(2026, 11, 26), date(2026, 11, 30)  # no back-to-back shifts (S3)
    before = cases(rostered)
    with pytest.raises(RuleViolation) as caught:
        swap(rostered, people["leader01"], mine, "agent08", theirs)  # hotline, skill 4 vs 3
    assert caught.value.rules == ["S4"]
    [breach] = caught.value.breaches
    assert breach.facts_zh == (f"{mine.month}月{mine.day}日白班由张建国（8001）任班长，"
                               f"彭佳（1008）不是班长，不能顶替班长岗位")
    assert "does not hold the shift-leader role and cannot take the leading slot" in \
        breach.facts_en
    assert cases(rostered) == before, "nothing saved"


def test_S4_two_shift_leaders_may_exchange_their_leading_slots(rostered, people) -> None:
    number = swap(rostered, people["leader01"], date(2026, 11, 26), "leader03",
                  date(2026, 11, 30))
    assert [t.spec_name for t in open_tasks(rostered, number)] == ["consent"]


# --- C9: escalation routed to holders of the role only ---------------------------------------

def lead_with(kefu, day: datetime, username: str) -> None:
    """Put `username` in the leading slot of the shift running at `day` (a roster broken
    before issue 16, or edited by hand)."""
    with kefu.session() as s:
        [shift] = engine.people.roster.shifts_at(s, day)
        person = s.scalars(select(Person).where(Person.username == username)).one()
        for a in shift.assignments:
            if a.duty == "leader":
                a.person = person
            elif a.person_id == person.id:
                s.delete(a)


def test_C9_escalation_skips_a_leader_without_the_role_and_records_the_fallback(
        rostered, people, clock) -> None:
    reached = ACCEPTED + timedelta(hours=24)
    lead_with(rostered, reached, "agent06")
    number = judged_case(rostered, people)
    fire(rostered, clock, hours=24)
    [escalated] = records(rostered, number, "escalated")
    assert escalated.data["to"] == "leader01"  # agent01's own team leader
    assert escalated.data["routing"]["via"] == "own_leader"
    assert escalated.data["routing"]["skipped"] == [
        {"link": "shift_on_duty", "reason": "agent06: does not hold the shift_leader role"}]
    with rostered.session() as s:
        assert not [t for t in engine.my_tasks(s, people["agent06"]) if t.spec_name == "opinion"]
        assert [t.spec_name for t in engine.my_tasks(s, people["leader01"])] == ["opinion"]


def test_C9_with_no_leader_holding_the_role_the_escalation_goes_to_the_cs_head(
        rostered, people, clock) -> None:
    reached = ACCEPTED + timedelta(hours=24)
    lead_with(rostered, reached, "agent06")
    drop_role(rostered, "leader01")
    number = judged_case(rostered, people)
    fire(rostered, clock, hours=24)
    [escalated] = records(rostered, number, "escalated")
    assert (escalated.data["to"], escalated.data["routing"]["via"]) == ("cshead", "cs_head")
    assert [s["link"] for s in escalated.data["routing"]["skipped"]] == ["shift_on_duty",
                                                                         "own_leader"]


# --- L2: one's own chain, due before the shift ------------------------------------------------

def test_L2_the_endorsement_is_the_own_leaders_even_when_another_leads_the_shift_on_duty(
        rostered, people) -> None:
    number = ask_leave(rostered, people["agent01"])  # leader04 is on duty at 09:00
    assert waiting(rostered, number) == [("endorse", "leader01", "shift_leader")]
    assert data_of(rostered, number)["endorser_via"] == "own_leader"
    [task] = open_tasks(rostered, number)
    with rostered.session() as s, pytest.raises(engine.PermissionDenied):  # 交叉请假
        engine.complete_task(rostered, s, task.id, people["leader04"], ENDORSE)


def test_L2_an_own_leader_without_the_role_falls_back_to_the_cs_head_recorded(
        rostered, people) -> None:
    drop_role(rostered, "leader01")  # leads agent01's team and the 25 Nov day shift
    number = ask_leave(rostered, people["agent01"])
    assert waiting(rostered, number) == [("endorse", "cshead", "shift_leader")]
    [routed] = records(rostered, number, "routed")
    assert routed.data["rule"] == "L2" and routed.data["via"] == "cs_head"
    assert [s["link"] for s in routed.data["skipped"]] == ["own_leader", "shift"]


def test_L2_the_endorsement_is_due_before_the_shift_with_a_reminder_and_L1_flags_it_at_the_shift(
        rostered, people, clock) -> None:
    number = ask_leave(rostered, people["agent01"])  # the day shift of 25 Nov, 08:00
    [task] = open_tasks(rostered, number)
    assert task.due_at == datetime(2026, 11, 25, 6, 0, tzinfo=SH)  # 2 h before (a setting)
    with rostered.session() as s:
        case = engine.case_by_number(s, number)
        kinds = {d.kind: d.due_at for d in s.scalars(select(Deadline).where(
            Deadline.case_id == case.id, Deadline.task_id == task.id))}
    assert kinds["reminder"] == datetime(2026, 11, 24, 21, 0, tzinfo=SH)  # at 80 % of the time
    fire(rostered, clock, hours=(datetime(2026, 11, 25, 6, tzinfo=SH) - ACCEPTED)
         .total_seconds() / 3600)
    assert records(rostered, number, "urged"), "the overdue endorsement is urged"
    assert not records(rostered, number, "unanswered_at_shift")
    fire(rostered, clock, hours=(datetime(2026, 11, 25, 8, tzinfo=SH) - ACCEPTED)
         .total_seconds() / 3600)
    [flag] = records(rostered, number, "unanswered_at_shift")
    assert flag.data["pending"] == ["endorse"] and flag.data["rule"] == "L1"
    assert "否则按旷工处理（L1）" in flag.data["note"]
    assert "otherwise as absence (L1)" in flag.data["note"]


def test_L2_a_leave_decided_in_time_raises_no_flag(rostered, people, clock) -> None:
    number = ask_leave(rostered, people["agent01"])
    do(rostered, number, "endorse", people["leader01"], ENDORSE)
    do(rostered, number, "approve_cs_head", people["cshead"], APPROVE)
    fire(rostered, clock, hours=50)
    assert not records(rostered, number, "urged")
    assert not records(rostered, number, "unanswered_at_shift")


# --- Q3: the after-the-fact report to the direct leader --------------------------------------

def test_Q3_with_no_own_leader_the_after_the_fact_report_falls_back_recorded(rostered,
                                                                          people) -> None:
    number = report(rostered, people["qa01"], category="safety", emergency=True,
                    escalate_to="center_director", emergency_reason="机房冒烟")
    after = [t for t in open_tasks(rostered, number) if t.spec_name ==
             "after_report_shift_leader"]
    assert [t.candidate_user for t in after] == ["leader04"]  # leads the shift on duty
    [routed] = [r for r in records(rostered, number, "routed") if r.data["rule"] == "Q3"]
    assert routed.data["skipped"] == [{"link": "own_leader", "reason": "no own team leader"}]


def test_Q3_the_direct_leader_must_hold_the_role_else_the_chain_goes_on(rostered,
                                                                       people) -> None:
    drop_role(rostered, "leader01")
    number = report(rostered, people["agent01"], category="safety", emergency=True,
                    escalate_to="center_director", emergency_reason="机房冒烟")
    after = [t.candidate_user for t in open_tasks(rostered, number)
             if t.spec_name == "after_report_shift_leader"]
    assert after == ["leader04"]


# --- one request at a time per person and shift -----------------------------------------------

def test_L2_a_second_leave_for_the_same_shift_is_refused_while_the_first_is_pending(
        rostered, people) -> None:
    first = ask_leave(rostered, people["agent01"])
    with pytest.raises(FormValidationError) as caught:
        ask_leave(rostered, people["agent01"], kind="special_personal")
    [message] = caught.value.field_errors["start"]
    assert message.startswith("您11月25日白班已有待审批的请假（" + first + "）")
    assert f"Your leave request {first} for the day shift of 25 Nov is still pending" in message
    do(rostered, first, "endorse", people["leader01"],
       {"endorsed": False, "endorsement": "人手不足"})
    assert ask_leave(rostered, people["agent01"], kind="special_personal")  # decided: free


def test_S1_a_swap_of_a_shift_with_a_pending_leave_is_refused(rostered, people) -> None:
    pending = ask_leave(rostered, people["agent01"], start="2026-11-26T08:00:00+08:00",
                        end="2026-11-26T20:00:00+08:00")
    with pytest.raises(FormValidationError) as caught:
        swap(rostered, people["agent01"], date(2026, 11, 26), "agent07", date(2026, 11, 30))
    assert pending in caught.value.field_errors["my_shift_date"][0]


def test_L2_endorsed_in_time_but_undecided_by_the_cs_head_at_the_shift_is_flagged_once(
        rostered, people, clock) -> None:
    number = ask_leave(rostered, people["agent01"])
    do(rostered, number, "endorse", people["leader01"], ENDORSE)
    [task] = open_tasks(rostered, number)
    assert (task.spec_name, task.due_at) == ("approve_cs_head",
                                            datetime(2026, 11, 25, 8, 0, tzinfo=SH))
    fire(rostered, clock, hours=50)
    [flag] = records(rostered, number, "unanswered_at_shift")
    assert flag.data["pending"] == ["approve_cs_head"]
    assert [t.spec_name for t in open_tasks(rostered, number)] == ["approve_cs_head"]


def test_L2_late_endorsement_and_an_undecided_cs_head_flag_the_case_only_once(
        rostered, people, clock) -> None:
    number = ask_leave(rostered, people["agent01"])
    fire(rostered, clock, hours=(datetime(2026, 11, 25, 7, tzinfo=SH) - ACCEPTED)
         .total_seconds() / 3600)  # past the endorsement's due time, before the shift
    do(rostered, number, "endorse", people["leader01"], ENDORSE)
    fire(rostered, clock, hours=50)
    assert len(records(rostered, number, "unanswered_at_shift")) == 1
