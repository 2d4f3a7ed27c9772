"""processes/shift_swap.bpmn: the swap rules S1–S7 through the engine API (issue 4).

Demo roster: team leader01 (agent01, agent02, agent03, vip01) works the days of 25–26 Nov
and the nights of 27–28; team leader03 (agent07, agent08, vip03, outbound01) the days of
29–30 Nov and the nights of 1–2 Dec. agent01's day of 26 Nov for agent07's day of 30 Nov
breaks no rule.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import engine
from engine import FormValidationError, RuleViolation
from engine.demo.roster import generate_roster
from engine.persistence.models import Case, HistoryRecord, Person
from engine.persistence.roster_models import Shift, ShiftAssignment, SwapRecord
from tests.complaints import do, open_tasks

SH = ZoneInfo("Asia/Shanghai")
VALID = {"my_shift_date": "2026-11-26", "my_shift_kind": "day", "counterpart": "agent07",
         "their_shift_date": "2026-11-30", "their_shift_kind": "day",
         "reason": "孩子学校开家长会 / parents' evening"}
AGREE = {"agreed": True, "consent_note": "可以"}
APPROVE = {"approved": True, "leader_opinion": "同意"}


def ask(kefu, actor, **changes) -> str:
    with kefu.session() as s:
        return engine.start_case(kefu, s, "shift_swap", actor, {**VALID, **changes}).number


def refused(kefu, actor, **changes) -> RuleViolation:
    with kefu.session() as s:
        before = s.scalar(select(func.count()).select_from(Case))
    with pytest.raises(RuleViolation) as caught:
        ask(kefu, actor, **changes)
    with kefu.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before, "nothing saved"
    return caught.value


def waiting(kefu, number: str) -> list[tuple[str, str | None, str]]:
    return sorted((t.spec_name, t.candidate_user, t.role) for t in open_tasks(kefu, number))


def rostered_on(kefu, day: date, kind: str = "day") -> dict[str, str]:
    """username -> origin of everyone on a shift."""
    with kefu.session() as s:
        rows = s.scalars(select(ShiftAssignment).join(Shift).where(Shift.day == day,
                                                                   Shift.kind == kind))
        return {a.person.username: a.origin for a in rows}


def earlier_swaps(kefu, username: str, count: int, month: str = "2026-11") -> None:
    """Enter `count` earlier swaps of `username` in the register (shifts of 1 Nov)."""
    with kefu.session() as s:
        person = s.scalars(select(Person).where(Person.username == username)).one()
        other = s.scalars(select(Person).where(Person.username == "agent02")).one()
        shifts = s.scalars(select(Shift).order_by(Shift.starts_at).limit(2)).all()
        for _ in range(count):
            s.add(SwapRecord(month=month, requester_id=person.id, counterpart_id=other.id,
                             requester_shift_id=shifts[0].id, counterpart_shift_id=shifts[1].id,
                             approved_at=kefu.clock.now(), approved_by="leader01, leader02"))


def approve_leave(kefu, people, username: str, day: int) -> None:
    """An approved one-day leave (the leave process, end to end)."""
    data = {"kind": "general_personal", "reason": "事假",
            "start": datetime(2026, 11, day, 8, tzinfo=SH).isoformat(),
            "end": datetime(2026, 11, day, 20, tzinfo=SH).isoformat()}
    with kefu.session() as s:
        number = engine.start_case(kefu, s, "leave", people[username], data).number
    [task] = open_tasks(kefu, number)
    do(kefu, number, "endorse", people[task.candidate_user], {"endorsed": True})
    do(kefu, number, "approve_cs_head", people["cshead"], {"approved": True})


def to_leaders(kefu, people, number: str) -> None:
    do(kefu, number, "consent", people["agent07"], AGREE)
    do(kefu, number, "approve_requester_leader", people["leader01"], APPROVE)


# --- S1, S5 --------------------------------------------------------------------------------

def test_S1_consent_then_both_shift_leaders_then_the_roster_changes_at_once(rostered,
                                                                            people) -> None:
    number = ask(rostered, people["agent01"])
    assert waiting(rostered, number) == [("consent", "agent07", "agent")]
    do(rostered, number, "consent", people["agent07"], AGREE)
    assert waiting(rostered, number) == [("approve_requester_leader", "leader01",
                                          "shift_leader")]
    do(rostered, number, "approve_requester_leader", people["leader01"], APPROVE)
    assert waiting(rostered, number) == [("approve_counterpart_leader", "leader03",
                                          "shift_leader")]
    assert "agent01" in rostered_on(rostered, date(2026, 11, 26)), "not before both approve"
    do(rostered, number, "approve_counterpart_leader", people["leader03"], APPROVE)
    day_26, day_30 = rostered_on(rostered, date(2026, 11, 26)), rostered_on(rostered,
                                                                            date(2026, 11, 30))
    assert day_26["agent07"] == "swapped" and "agent01" not in day_26
    assert day_30["agent01"] == "returned" and "agent07" not in day_30
    with rostered.session() as s:
        record = s.scalars(select(SwapRecord)).one()
        case = engine.case_by_number(s, number)
        actions = [h.action for h in s.scalars(select(HistoryRecord).where(
            HistoryRecord.case_id == case.id))]
    assert (record.month, record.approved_by, record.case_number) == (
        "2026-11", "leader01, leader03", number)
    assert "roster_swapped" in actions


def test_S1_only_the_counterpart_consents(rostered, people) -> None:
    number = ask(rostered, people["agent01"])
    [task] = open_tasks(rostered, number)
    with rostered.session() as s, pytest.raises(engine.PermissionDenied):
        engine.complete_task(rostered, s, task.id, people["agent02"], AGREE)


def test_S1_a_declined_or_refused_swap_changes_nothing(rostered, people) -> None:
    declined = ask(rostered, people["agent01"])
    do(rostered, declined, "consent", people["agent07"], {"agreed": False})
    refused_by_leader = ask(rostered, people["agent01"])
    do(rostered, refused_by_leader, "consent", people["agent07"], AGREE)
    do(rostered, refused_by_leader, "approve_requester_leader", people["leader01"],
       {"approved": False, "leader_opinion": "当天有培训"})
    with rostered.session() as s:
        states = {engine.case_by_number(s, n).state for n in (declined, refused_by_leader)}
        assert s.scalar(select(func.count()).select_from(SwapRecord)) == 0
    assert states == {"closed"}
    assert rostered_on(rostered, date(2026, 11, 26))["agent01"] == "regular"


def test_S5_both_parties_record_the_handover_in_the_register(rostered, people) -> None:
    number = ask(rostered, people["agent01"])
    to_leaders(rostered, people, number)
    do(rostered, number, "approve_counterpart_leader", people["leader03"], APPROVE)
    assert waiting(rostered, number) == [("handover_counterpart", "agent07", "agent"),
                                         ("handover_requester", "agent01", "agent")]
    with pytest.raises(FormValidationError) as caught:
        do(rostered, number, "handover_requester", people["agent01"], {"handover": ""})
    assert "handover" in caught.value.field_errors
    do(rostered, number, "handover_requester", people["agent01"],
       {"handover": "26日白班：VIP 客户王先生回电，工单 TS001 待跟进。"})
    with rostered.session() as s:
        assert engine.case_by_number(s, number).state == "running"
    do(rostered, number, "handover_counterpart", people["agent07"],
       {"handover": "30日白班无遗留事项。"})
    with rostered.session() as s:
        record = s.scalars(select(SwapRecord)).one()
        assert engine.case_by_number(s, number).state == "closed"
    assert record.requester_handover.startswith("26日白班")
    assert record.counterpart_handover == "30日白班无遗留事项。"
    assert record.requester_handover_at and record.counterpart_handover_at


def test_S1_holds_even_if_a_process_owner_drops_an_approval_from_the_diagram(
        rostered, people) -> None:
    files, forms = engine.read_files(rostered.settings.processes_dir,
                                     rostered.settings.forms_dir)
    files["shift_swap.bpmn"] = files["shift_swap.bpmn"].replace(
        "two_leaders == True", "two_leaders == 'never'").replace(
        "two_leaders != True", "two_leaders != 'never'")
    with rostered.session() as s:
        engine.deploy(s, engine.build(files, forms), "owner01", rostered.clock.now())
    number = ask(rostered, people["agent01"])
    do(rostered, number, "consent", people["agent07"], AGREE)
    with pytest.raises(RuleViolation) as caught:
        do(rostered, number, "approve_requester_leader", people["leader01"], APPROVE)
    assert caught.value.rules == ["S1"]
    assert "both parties' shift leaders must approve" in str(caught.value)
    assert rostered_on(rostered, date(2026, 11, 26))["agent01"] == "regular"


def test_C10_purging_an_expired_swap_case_keeps_the_roster_as_swapped(rostered,
                                                                      people) -> None:
    from engine.records.retention import purge_expired

    number = ask(rostered, people["agent01"])
    to_leaders(rostered, people, number)
    do(rostered, number, "approve_counterpart_leader", people["leader03"], APPROVE)
    do(rostered, number, "handover_requester", people["agent01"], {"handover": "无遗留"})
    do(rostered, number, "handover_counterpart", people["agent07"], {"handover": "无遗留"})
    with rostered.session() as s:
        purged = purge_expired(s, datetime(2030, 1, 1, tzinfo=SH), "system")
        assert [p.case_number for p in purged] == [number]
        assert s.scalar(select(func.count()).select_from(SwapRecord)) == 0
        assert s.scalar(select(func.count()).select_from(ShiftAssignment).where(
            ShiftAssignment.swap_id.is_not(None))) == 0
    assert rostered_on(rostered, date(2026, 11, 26))["agent07"] == "swapped"


# --- S2 ------------------------------------------------------------------------------------

def test_S2_a_third_swap_in_a_month_is_refused(rostered, people) -> None:
    earlier_swaps(rostered, "agent01", 2)
    refusal = refused(rostered, people["agent01"])
    assert refusal.rules == ["S2"]
    [breach] = refusal.as_dict()["violations"]
    assert breach["facts_en"] == "this would be your 3rd swap in November; at most 2 are allowed"
    assert breach["facts_zh"] == "这将是您11月的第 3 次换班，每月最多 2 次"
    assert breach["rule_zh"] and breach["rule_en"]
    assert str(refusal).endswith("(S2)")


def test_S2_counts_the_counterparts_swaps_too_and_the_limit_is_a_setting(rostered,
                                                                         people) -> None:
    earlier_swaps(rostered, "agent07", 2)
    refusal = refused(rostered, people["agent01"])
    assert refusal.breaches[0].facts_en == ("this would be 曹宇 (1007)'s 3rd swap in November; "
                                            "at most 2 are allowed")
    rostered.settings = rostered.settings.with_overrides({"swap_max_per_month": 3})
    assert waiting(rostered, ask(rostered, people["agent01"]))[0][0] == "consent"


def test_S2_is_checked_again_when_the_last_leader_approves(rostered, people) -> None:
    number = ask(rostered, people["agent01"])
    to_leaders(rostered, people, number)
    earlier_swaps(rostered, "agent07", 2)  # approved elsewhere in the meantime
    with pytest.raises(RuleViolation) as caught:
        do(rostered, number, "approve_counterpart_leader", people["leader03"], APPROVE)
    assert caught.value.rules == ["S2"]
    assert waiting(rostered, number) == [("approve_counterpart_leader", "leader03",
                                          "shift_leader")]
    assert rostered_on(rostered, date(2026, 11, 26))["agent01"] == "regular"


# --- S3 ------------------------------------------------------------------------------------

def test_S3_neither_party_may_end_up_working_back_to_back(rostered, people) -> None:
    refusal = refused(rostered, people["agent01"], their_shift_date="2026-11-29")
    assert refusal.rules == ["S3"]
    assert refusal.breaches[0].facts_en == (
        "you would work the night shift of 28 Nov and the day shift of 29 Nov back to back "
        "(0 h rest; at least 8 h needed)")


def test_S3_a_shift_got_by_a_swap_is_not_swapped_again(rostered, people, record_swap) -> None:
    record_swap("agent01", date(2026, 11, 26), "agent07", date(2026, 11, 30))
    refusal = refused(rostered, people["agent07"], counterpart="agent08")
    assert refusal.rules == ["S3"]
    assert refusal.breaches[0].facts_en == (
        "your day shift of 26 Nov came from an earlier swap; no swap right after a swap")


def test_S3_no_swap_right_next_to_a_swap_shift(rostered, people, record_swap) -> None:
    record_swap("agent01", date(2026, 11, 26), "agent07", date(2026, 11, 30))
    refusal = refused(rostered, people["agent01"], my_shift_date="2026-12-04",
                      counterpart="agent08", their_shift_date="2026-12-01",
                      their_shift_kind="night")
    assert refusal.rules == ["S3"]
    assert refusal.breaches[0].facts_en == (
        "your day shift of 30 Nov, next to it, is already a swap shift; no swap right after "
        "a swap")


# --- S4 ------------------------------------------------------------------------------------

def test_S4_different_job_types_do_not_swap(rostered, people) -> None:
    refusal = refused(rostered, people["agent01"], counterpart="vip03")
    assert refusal.rules == ["S4"]
    assert refusal.breaches[0].facts_en == ("刘洋 is a hotline agent and 唐婧 a VIP agent; the "
                                            "job types differ")


def test_S4_skill_levels_too_far_apart_do_not_swap(rostered, people) -> None:
    refusal = refused(rostered, people["agent06"], my_shift_date="2026-11-28",
                      counterpart="agent10", their_shift_date="2026-12-02")
    assert refusal.rules == ["S4"]
    assert refusal.breaches[0].facts_en == "skill levels 3 and 1 differ by 2; at most 1 is " \
                                           "allowed"


# --- S6 ------------------------------------------------------------------------------------

def test_S6_no_swap_of_a_public_holiday_shift(rostered, people) -> None:
    with rostered.session() as s:
        generate_roster(s, date(2026, 9, 20), date(2026, 10, 20), tz=SH)
    rostered.clock.set(datetime(2026, 9, 20, 9, 0, tzinfo=SH))
    refusal = refused(rostered, people["agent01"], my_shift_date="2026-10-01",
                      their_shift_date="2026-10-13")
    assert refusal.rules == ["S6"]
    assert refusal.breaches[0].facts_en == ("the day shift of 1 Oct falls on a public holiday "
                                            "(National Day); staff on holiday duty may not swap")


# --- S7 ------------------------------------------------------------------------------------

def test_S7_a_swap_leaving_a_shift_below_minimum_staffing_is_refused(rostered, people) -> None:
    approve_leave(rostered, people, "agent02", 26)
    refusal = refused(rostered, people["agent01"])
    assert refusal.rules == ["S7"]
    assert refusal.breaches[0].facts_en == ("the day shift of 26 Nov would have 3 staff on "
                                            "duty; at least 4 are needed")


def test_S7_is_checked_again_when_the_last_leader_approves(rostered, people) -> None:
    number = ask(rostered, people["agent01"])
    to_leaders(rostered, people, number)
    approve_leave(rostered, people, "agent02", 26)  # the roster changed in between
    with pytest.raises(RuleViolation) as caught:
        do(rostered, number, "approve_counterpart_leader", people["leader03"], APPROVE)
    assert caught.value.rules == ["S7"]
    with rostered.session() as s:
        assert s.scalar(select(func.count()).select_from(SwapRecord)) == 0
    assert rostered_on(rostered, date(2026, 11, 26))["agent01"] == "regular"


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "field"), [
    ({"my_shift_date": "2026-11-27"}, "my_shift_date"),        # agent01 is off that day
    ({"counterpart": "nobody"}, "counterpart"),
    ({"their_shift_date": "26 Nov"}, "their_shift_date"),
    ({"counterpart": "agent02", "their_shift_date": "2026-11-25"}, "counterpart"),  # same team
])
def test_a_swap_naming_no_real_rostered_shift_is_a_form_error(rostered, people, changes,
                                                               field) -> None:
    with pytest.raises(FormValidationError) as caught:
        ask(rostered, people["agent01"], **changes)
    assert field in caught.value.field_errors
