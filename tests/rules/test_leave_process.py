"""processes/leave.bpmn: every leave rule L1–L8 through the engine API (issue 4).

The demo roster rotates four teams (two days, two nights, four off). Team leader01
(agent01…) works the day shifts of 25 and 26 November and the nights of 27 and 28; the
clock starts on Monday 23 November 09:00, when leader04's team is on the day shift.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import engine
from engine import RuleViolation
from engine.demo.roster import generate_roster
from engine.persistence.models import Case
from engine.persistence.roster_models import LeaveRecord, ShiftAssignment
from tests.attachments import certificate_file
from tests.complaints import do, open_tasks

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> str:
    return datetime(2026, month, day, hour, minute, tzinfo=SH).isoformat()


DAY_25 = {"start": at(25, 8), "end": at(25, 20)}
DAYS_25_26 = {"start": at(25, 8), "end": at(26, 20)}


def ask(kefu, actor, **fields) -> str:
    data = {"kind": "general_personal", "reason": "家中有事 / family matter", **DAY_25, **fields}
    with kefu.session() as s:
        return engine.start_case(kefu, s, "leave", actor, data).number


def data_of(kefu, number: str) -> dict:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return dict(engine.case_data(engine.load_case_workflow(kefu, s, case)))


def waiting(kefu, number: str) -> list[tuple[str, str | None, str]]:
    return sorted((t.spec_name, t.candidate_user, t.role) for t in open_tasks(kefu, number))


def state(kefu, number: str) -> str:
    with kefu.session() as s:
        return engine.case_by_number(s, number).state


def leave_cases(kefu) -> int:
    with kefu.session() as s:
        return s.scalar(select(func.count()).select_from(Case).where(Case.process_id == "leave"))


def refused(kefu, actor, **fields) -> RuleViolation:
    before = leave_cases(kefu)
    with pytest.raises(RuleViolation) as caught:
        ask(kefu, actor, **fields)
    assert leave_cases(kefu) == before, "a refused request saves nothing"
    return caught.value


ENDORSE = {"endorsed": True, "endorsement": "同意"}
APPROVE = {"approved": True, "cs_head_opinion": "同意"}
DIRECTOR = {"approved": True, "director_opinion": "同意"}


def approve_one_day(kefu, people, number: str, endorser: str = "leader01") -> None:
    do(kefu, number, "endorse", people[endorser], ENDORSE)
    do(kefu, number, "approve_cs_head", people["cshead"], APPROVE)


def leave_marks(kefu, username: str) -> list[tuple[str, str, str | None]]:
    with kefu.session() as s:
        rows = s.scalars(select(ShiftAssignment).where(ShiftAssignment.leave_status.is_not(None)))
        return sorted((a.shift.day.isoformat(), a.shift.kind, a.leave_status) for a in rows
                      if a.person.username == username)


# --- L1 ------------------------------------------------------------------------------------

def test_L1_general_leave_asked_a_day_ahead_is_not_flagged(rostered, people) -> None:
    number = ask(rostered, people["agent01"])
    data = data_of(rostered, number)
    assert data["late_request"] is False and data["late_note"] == ""


def test_L1_late_general_leave_is_flagged_for_the_approver_not_refused(rostered, people) -> None:
    rostered.clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=SH))  # 23 h before the shift
    number = ask(rostered, people["agent01"])
    data = data_of(rostered, number)
    assert data["late_request"] is True
    assert "须经管理人员批准方可生效，否则按旷工处理" in data["late_note"]
    assert "valid only if a manager approves it, otherwise it counts as absence" in \
        data["late_note"]
    assert "24 Nov 08:00" in data["late_note"] and "24 Nov 09:00" in data["late_note"]
    with rostered.session() as s:
        case = engine.case_by_number(s, number)
        forms = rostered.version(s, case.process_version_id).forms
    for form in ("leave_endorse.json", "leave_approve.json", "leave_approve_director.json"):
        assert forms[form]["properties"]["late_note"]["readOnly"] is True
    approve_one_day(rostered, people, number)
    with rostered.session() as s:
        record = s.scalars(select(LeaveRecord)).one()
    assert record.late is True and record.approved_by == "leader01, cshead"


def test_L1_special_leave_needs_an_hour_and_the_notice_is_a_setting(rostered, people) -> None:
    rostered.clock.set(datetime(2026, 11, 25, 7, 30, tzinfo=SH))
    late = ask(rostered, people["agent01"], kind="special_personal")
    assert data_of(rostered, late)["late_request"] is True
    rostered.clock.set(datetime(2026, 11, 25, 6, 30, tzinfo=SH))
    assert data_of(rostered, ask(rostered, people["agent02"], kind="special_personal"))[
        "late_request"] is False
    rostered.settings = rostered.settings.with_overrides({"leave_special_notice_hours": 2})
    assert data_of(rostered, ask(rostered, people["agent03"], kind="special_personal"))[
        "late_request"] is True


# --- L2 ------------------------------------------------------------------------------------

def test_L2_endorsement_goes_to_the_employees_own_shift_leader_then_level_by_level(
        rostered, people) -> None:
    number = ask(rostered, people["agent01"])  # 09:00 Monday: leader04 is on duty
    assert waiting(rostered, number) == [("endorse", "leader01", "shift_leader")]
    [task] = open_tasks(rostered, number)
    with rostered.session() as s, pytest.raises(engine.PermissionDenied):
        engine.complete_task(rostered, s, task.id, people["leader04"], ENDORSE)  # 交叉请假
    with rostered.session() as s:
        assert engine.claimable_tasks(s, people["cshead"]) == []
    do(rostered, number, "endorse", people["leader01"], ENDORSE)
    assert waiting(rostered, number) == [("approve_cs_head", None, "cs_head")]
    with rostered.session() as s:
        assert engine.claimable_tasks(s, people["director"]) == []


def test_L2_own_shift_leader_endorses_when_nobody_is_rostered(deployed, people) -> None:
    number = ask(deployed, people["agent01"], start=at(25, 9), end=at(25, 18))
    assert waiting(deployed, number) == [("endorse", "leader01", "shift_leader")]


def test_L2_nobody_approves_their_own_leave(rostered, people) -> None:
    number = ask(rostered, people["cshead"], start=at(25, 9), end=at(25, 18))
    do(rostered, number, "endorse", people["leader04"], ENDORSE)
    with pytest.raises(RuleViolation) as caught:
        do(rostered, number, "approve_cs_head", people["cshead"], APPROVE)
    assert caught.value.rules == ["L2"]
    assert "may not approve their own leave" in str(caught.value)
    assert waiting(rostered, number) == [("approve_cs_head", None, "cs_head")]


def test_L2_not_endorsed_ends_the_request_without_touching_the_roster(rostered, people) -> None:
    number = ask(rostered, people["agent01"])
    do(rostered, number, "endorse", people["leader01"],
       {"endorsed": False, "endorsement": "当天人手不足"})
    assert state(rostered, number) == "closed"
    assert leave_marks(rostered, "agent01") == []


# --- L3 ------------------------------------------------------------------------------------

def test_L3_up_to_one_day_the_cs_head_approves_and_the_roster_is_marked(rostered, people) -> None:
    number = ask(rostered, people["agent01"])
    assert data_of(rostered, number)["final_approver"] == "cs_head"
    approve_one_day(rostered, people, number)
    assert state(rostered, number) == "closed"
    assert data_of(rostered, number)["outcome"] == "approved"
    assert leave_marks(rostered, "agent01") == [("2026-11-25", "day", "approved")]


def test_L3_over_one_day_the_centre_director_approves(rostered, people) -> None:
    number = ask(rostered, people["agent01"], **DAYS_25_26)
    data = data_of(rostered, number)
    assert data["leave_days"] == 2.0 and data["final_approver"] == "center_director"
    approve_one_day(rostered, people, number)
    assert waiting(rostered, number) == [("approve_director", None, "center_director")]
    do(rostered, number, "approve_director", people["director"], DIRECTOR)
    assert state(rostered, number) == "closed"
    assert leave_marks(rostered, "agent01") == [("2026-11-25", "day", "approved"),
                                                ("2026-11-26", "day", "approved")]


def test_L3_official_leave_goes_to_the_centre_director_however_short(rostered, people) -> None:
    number = ask(rostered, people["agent01"], kind="official", start=at(25, 14), end=at(25, 20))
    data = data_of(rostered, number)
    assert data["leave_days"] == 0.5 and data["final_approver"] == "center_director"
    approve_one_day(rostered, people, number)
    assert waiting(rostered, number) == [("approve_director", None, "center_director")]


def test_L3_a_process_owner_changes_the_authority_in_the_dmn_table(rostered, people) -> None:
    files, forms = engine.read_files(rostered.settings.processes_dir,
                                     rostered.settings.forms_dir)
    table = files["leave_approval.dmn"]
    files["leave_approval.dmn"] = table.replace("&lt;= 1", "&lt;= 2").replace("&gt; 1", "&gt; 2")
    with rostered.session() as s:
        results = engine.deploy(s, engine.build(files, forms), "owner01", rostered.clock.now())
    assert {(v.process_id, v.version, created) for v, created in results} >= {("leave", 2, True)}
    number = ask(rostered, people["agent01"], **DAYS_25_26)
    assert data_of(rostered, number)["final_approver"] == "cs_head"
    approve_one_day(rostered, people, number)
    assert state(rostered, number) == "closed"


# --- L4 ------------------------------------------------------------------------------------

def test_L4_personal_leave_asked_for_someone_else_is_refused(rostered, people) -> None:
    refusal = refused(rostered, people["agent02"], employee="agent01")
    assert refusal.rules == ["L4"]
    [breach] = refusal.as_dict()["violations"]
    assert breach["rule_zh"] == "事假须本人办理，不得由他人代请，病假除外。"
    assert breach["facts_en"] == ("you may not request general personal leave for 刘洋 (1001); "
                                  "only sick leave may be requested on someone's behalf")


def test_L4_sick_leave_may_be_asked_on_someones_behalf(rostered, people) -> None:
    number = ask(rostered, people["agent02"], employee="agent01", kind="sick",
                 certificate_file=certificate_file(rostered), certificate_from="2026-11-25",
                 certificate_to="2026-11-25")
    data = data_of(rostered, number)
    assert (data["employee"], data["request_by"]) == ("agent01", "agent02")
    assert waiting(rostered, number) == [("endorse", "leader01", "shift_leader")]


# --- L5 ------------------------------------------------------------------------------------

def test_L5_sick_day_without_certificate_owes_it_on_the_first_day_back(rostered, people) -> None:
    number = ask(rostered, people["agent01"], kind="sick")
    approve_one_day(rostered, people, number)
    assert waiting(rostered, number) == [("certificate", "agent01", "agent")]
    data = data_of(rostered, number)
    assert data["certificate_due"] == "2026-11-26T20:00:00+08:00"  # end of the day shift of 26th
    [task] = open_tasks(rostered, number)
    assert task.due_at == datetime(2026, 11, 26, 20, 0, tzinfo=SH)  # the inbox shows it due
    with pytest.raises(RuleViolation) as caught:
        do(rostered, number, "certificate", people["agent01"],
           {"certificate_from": "2026-11-26", "certificate_to": "2026-11-26",
            "issuer": "市第一人民医院", "certificate_file": certificate_file(rostered)})
    assert caught.value.rules == ["L5"] and "without gaps" in str(caught.value)
    do(rostered, number, "certificate", people["agent01"],
       {"certificate_from": "2026-11-25", "certificate_to": "2026-11-26",
        "issuer": "市第一人民医院", "certificate_file": certificate_file(rostered)})
    assert state(rostered, number) == "closed"
    with rostered.session() as s:
        record = s.scalars(select(LeaveRecord)).one()
    assert record.certificate_required and record.certificate_received_at is not None


def test_L5_off_the_roster_the_certificate_is_due_the_next_working_day(deployed,
                                                                       people) -> None:
    number = ask(deployed, people["qa01"], kind="sick", start=at(27, 9), end=at(27, 18))
    # qa01 has no team leader and no shift: the chain falls back to the CS head (recorded).
    assert waiting(deployed, number) == [("endorse", "cshead", "shift_leader")]
    approve_one_day(deployed, people, number, endorser="cshead")
    assert waiting(deployed, number) == [("certificate", "qa01", "agent")]
    assert data_of(deployed, number)["certificate_due"] == "2026-11-30T18:00:00+08:00"  # Monday


def test_L5_certificate_given_with_the_request_must_cover_it(rostered, people) -> None:
    refusal = refused(rostered, people["agent01"], kind="sick", **DAYS_25_26,
                      certificate_file=certificate_file(rostered),
                      certificate_from="2026-11-25", certificate_to="2026-11-25")
    assert refusal.rules == ["L5"]
    number = ask(rostered, people["agent01"], kind="sick", **DAYS_25_26,
                 certificate_file=certificate_file(rostered),
                 certificate_from="2026-11-24", certificate_to="2026-11-27")
    assert data_of(rostered, number)["certificate_required"] is False


def test_L5_emergency_phoned_to_the_shift_leader_needs_no_certificate(rostered, people) -> None:
    rostered.clock.set(datetime(2026, 11, 25, 7, 40, tzinfo=SH))  # leader03's night shift
    number = ask(rostered, people["leader03"], employee="agent01", kind="sick",
                 emergency=True, phoned_at=at(25, 7, 20), reason="急性肠胃炎，电话请假")
    data = data_of(rostered, number)
    assert data["late_request"] is False and data["certificate_required"] is False
    assert any("L5" in note for note in data["rule_notes"])
    approve_one_day(rostered, people, number)  # agent01's own leader endorses (L2)
    assert state(rostered, number) == "closed"


def test_L5_only_a_shift_leader_records_an_emergency(rostered, people) -> None:
    refusal = refused(rostered, people["agent02"], employee="agent01", kind="sick",
                      emergency=True, phoned_at=at(23, 8, 50))
    assert refusal.rules == ["L5"] and "is not a shift leader" in str(refusal)


# --- L6 ------------------------------------------------------------------------------------

NIGHT_27 = {"start": at(27, 20), "end": at(28, 8)}


def test_L6_night_shift_leave_is_refused_after_noon_that_day(rostered, people) -> None:
    rostered.clock.set(datetime(2026, 11, 27, 12, 30, tzinfo=SH))
    refusal = refused(rostered, people["agent01"], kind="special_personal", **NIGHT_27)
    assert refusal.rules == ["L6"]
    assert refusal.breaches[0].facts_en == (
        "leave for your night shift of 27 Nov was asked at 27 Nov 12:30, after 12:00 that day")


def test_L6_night_shift_leave_before_noon_needs_management(rostered, people) -> None:
    rostered.clock.set(datetime(2026, 11, 27, 11, 0, tzinfo=SH))
    number = ask(rostered, people["agent01"], kind="special_personal", **NIGHT_27)
    assert any(note.startswith("L6") for note in data_of(rostered, number)["rule_notes"])


# --- L7 ------------------------------------------------------------------------------------

@pytest.fixture
def october(rostered):
    with rostered.session() as s:
        generate_roster(s, date(2026, 9, 20), date(2026, 10, 20), tz=SH)
    return rostered


NATIONAL_DAY = {"start": at(1, 8, month=10), "end": at(1, 20, month=10)}


def test_L7_public_holiday_leave_asked_two_days_ahead_goes_to_management(october,
                                                                         people) -> None:
    october.clock.set(datetime(2026, 9, 28, 9, 0, tzinfo=SH))
    number = ask(october, people["agent01"], **NATIONAL_DAY)
    assert any(note.startswith("L7") for note in data_of(october, number)["rule_notes"])


def test_L7_public_holiday_leave_asked_later_is_refused(october, people) -> None:
    october.clock.set(datetime(2026, 9, 29, 9, 0, tzinfo=SH))
    refusal = refused(october, people["agent01"], **NATIONAL_DAY)
    assert refusal.rules == ["L7"]
    assert refusal.breaches[0].facts_en == (
        "the day shift of 1 Oct is a public-holiday shift (National Day); leave had to be "
        "asked by 29 Sep 08:00, it was asked at 29 Sep 09:00")


# --- L8 ------------------------------------------------------------------------------------

def test_L8_no_leave_on_a_swapped_or_returned_shift(rostered, people, record_swap) -> None:
    record_swap("agent01", date(2026, 11, 26), "agent07", date(2026, 11, 30))
    returned = refused(rostered, people["agent01"], start=at(30, 8), end=at(30, 20))
    assert returned.rules == ["L8"]
    assert returned.breaches[0].facts_en == "your day shift of 30 Nov is a returned shift; " \
                                            "no leave on it"
    swapped = refused(rostered, people["agent07"], start=at(26, 8), end=at(26, 20))
    assert swapped.rules == ["L8"] and "swapped shift" in str(swapped)


def test_L8_rules_are_checked_again_at_approval(rostered, people, record_swap) -> None:
    number = ask(rostered, people["agent01"], start=at(25, 8), end=at(30, 20))
    approve_one_day(rostered, people, number)
    record_swap("agent01", date(2026, 11, 26), "agent07", date(2026, 11, 30))
    with pytest.raises(RuleViolation) as caught:
        do(rostered, number, "approve_director", people["director"], DIRECTOR)
    assert caught.value.rules == ["L8"]
    assert waiting(rostered, number) == [("approve_director", None, "center_director")]
    assert leave_marks(rostered, "agent01") == []


# --- deployment ----------------------------------------------------------------------------

def test_leave_bpmn_and_its_dmn_table_deploy_through_validation(settings) -> None:
    built = {b.process_id: b for b in engine.build(*engine.read_files(
        settings.processes_dir, settings.forms_dir))}
    assert {"leave.bpmn", "leave_approval.dmn", "leave_request.json"} <= set(
        built["leave"].sources)
