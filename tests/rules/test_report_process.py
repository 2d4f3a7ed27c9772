"""processes/request_report.bpmn: the reporting rules Q1–Q4 through the engine API (issue 4).

At the test clock (Monday 23 November 09:00) leader04 leads the day shift, so an agent's
report goes to leader04 whoever the agent's own shift leader is.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import engine
from engine import FormValidationError, RuleViolation
from engine.persistence.models import Case, HistoryRecord
from tests.complaints import do, open_tasks

REPORT = {"category": "major_error", "title": "计费系统批量重复扣费",
          "description": "今天上午接到 12 通电话反映本月套餐费被扣两次。",
          "proposed_handling": "暂停自动扣费并通知计费部核查。"}
INSTRUCTION = ("立即通知计费部暂停当月批量扣费任务；对已重复扣费的用户在 24 小时内退费并短信致歉；"
               "由值班主管统计受影响号码，下班前报客服部主任。")


def report(kefu, actor, **changes) -> str:
    with kefu.session() as s:
        return engine.start_case(kefu, s, "request_report", actor, {**REPORT, **changes}).number


def waiting(kefu, number: str) -> list[tuple[str, str | None, str]]:
    return sorted((t.spec_name, t.candidate_user, t.role) for t in open_tasks(kefu, number))


def data_of(kefu, number: str) -> dict:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return dict(engine.case_data(engine.load_case_workflow(kefu, s, case)))


def state(kefu, number: str) -> str:
    with kefu.session() as s:
        return engine.case_by_number(s, number).state


def refused(kefu, actor, **changes) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        report(kefu, actor, **changes)
    with kefu.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0, "nothing saved"
    return caught.value


def history_of(kefu, number: str) -> list[HistoryRecord]:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return list(engine.case_history(s, case))


RESOLVE = {"decision": "resolve", "instruction": INSTRUCTION}
CARRY_OUT = {"will_execute": True}


# --- Q1 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("category", ["gossip", None])
def test_Q1_a_report_names_one_of_the_categories_to_report(rostered, people, category) -> None:
    data = {**REPORT, "category": category}
    if category is None:
        del data["category"]
    with rostered.session() as s, pytest.raises(FormValidationError) as caught:
        engine.start_case(rostered, s, "request_report", people["agent01"], data)
    assert "category" in caught.value.field_errors


def test_Q1_a_customer_making_trouble_is_resolved_by_the_shift_leader(rostered, people) -> None:
    number = report(rostered, people["agent01"], category="customer_trouble",
                    title="用户反复辱骂坐席")
    with pytest.raises(RuleViolation) as caught:
        do(rostered, number, "handle_shift_leader", people["leader04"],
           {"decision": "pass_up", "opinion": "请主任处理"})
    assert caught.value.rules == ["Q1"]
    do(rostered, number, "handle_shift_leader", people["leader04"], RESOLVE)
    assert waiting(rostered, number) == [("acknowledge", "agent01", "agent")]


def test_Q1_a_customer_making_trouble_is_not_sent_over_the_shift_leader(rostered,
                                                                        people) -> None:
    refusal = refused(rostered, people["agent01"], category="customer_trouble", emergency=True,
                      escalate_to="cs_head", emergency_reason="用户威胁投诉媒体")
    assert refusal.rules == ["Q1"]


# --- Q2 ------------------------------------------------------------------------------------

def test_Q2_each_level_resolves_or_passes_up_with_its_opinion(rostered, people) -> None:
    number = report(rostered, people["agent01"])
    assert waiting(rostered, number) == [("handle_shift_leader", "leader04", "shift_leader")]
    with rostered.session() as s:
        assert engine.claimable_tasks(s, people["cshead"]) == []
    do(rostered, number, "handle_shift_leader", people["leader04"],
       {"decision": "pass_up", "opinion": "涉及计费系统，超出班组权限。"})
    assert waiting(rostered, number) == [("handle_cs_head", None, "cs_head")]
    do(rostered, number, "handle_cs_head", people["cshead"],
       {"decision": "pass_up", "opinion": "影响面大，建议中心统一部署。"})
    assert waiting(rostered, number) == [("handle_director", None, "center_director")]
    do(rostered, number, "handle_director", people["director"], {"instruction": INSTRUCTION})
    do(rostered, number, "acknowledge", people["agent01"], CARRY_OUT)
    assert state(rostered, number) == "closed"
    trail = data_of(rostered, number)["trail"]
    assert [(t["level"], t["by"], t["decision"]) for t in trail] == [
        ("shift_leader", "leader04", "pass_up"), ("cs_head", "cshead", "pass_up"),
        ("center_director", "director", "resolve")]
    assert trail[0]["text"] == "涉及计费系统，超出班组权限。"


def test_Q2_a_shift_leaders_report_goes_to_the_cs_head(rostered, people) -> None:
    number = report(rostered, people["leader01"])
    assert waiting(rostered, number) == [("handle_cs_head", None, "cs_head")]


def test_Q2_passing_up_needs_an_opinion(rostered, people) -> None:
    number = report(rostered, people["agent01"])
    with pytest.raises(FormValidationError) as caught:
        do(rostered, number, "handle_shift_leader", people["leader04"], {"decision": "pass_up"})
    assert "opinion" in caught.value.field_errors


def test_Q2_only_an_emergency_skips_a_level(rostered, people) -> None:
    refusal = refused(rostered, people["agent01"], escalate_to="center_director")
    assert refusal.rules == ["Q2"]
    assert refusal.breaches[0].facts_en == (
        "a report that is not an emergency goes level by level: first to the shift leader, "
        "not straight to the centre director")


# --- Q3 ------------------------------------------------------------------------------------

def test_Q3_an_emergency_goes_up_at_once_and_the_direct_leader_is_told(rostered,
                                                                       people) -> None:
    number = report(rostered, people["agent01"], category="safety", emergency=True,
                    escalate_to="center_director", emergency_reason="机房冒烟")
    # The direct leader is agent01's own leader01, not leader04 who leads the shift on duty.
    assert waiting(rostered, number) == [
        ("after_report_shift_leader", "leader01", "shift_leader"),
        ("handle_director", None, "center_director")]
    do(rostered, number, "handle_director", people["director"], {"instruction": "立即疏散并报警。"})
    do(rostered, number, "acknowledge", people["agent01"], CARRY_OUT)
    assert state(rostered, number) == "running", "not closed before the direct leader knows"
    do(rostered, number, "after_report_shift_leader", people["leader01"], {"acknowledged": True})
    assert state(rostered, number) == "closed"


def test_Q3_a_shift_leader_skipping_the_cs_head_tells_the_cs_head(rostered, people) -> None:
    number = report(rostered, people["leader01"], emergency=True,
                    escalate_to="center_director", emergency_reason="系统全面中断")
    assert waiting(rostered, number) == [("after_report_cs_head", None, "cs_head"),
                                         ("handle_director", None, "center_director")]


def test_Q3_no_after_the_fact_report_when_no_level_is_skipped(rostered, people) -> None:
    number = report(rostered, people["agent01"], emergency=True, escalate_to="shift_leader",
                    emergency_reason="大量来电")
    assert waiting(rostered, number) == [("handle_shift_leader", "leader04", "shift_leader")]


# --- Q4 ------------------------------------------------------------------------------------

def test_Q4_the_instruction_is_recorded_in_full_and_an_objection_leaves_it_in_force(
        rostered, people) -> None:
    number = report(rostered, people["agent01"])
    do(rostered, number, "handle_shift_leader", people["leader04"], RESOLVE)
    objection = "退费应先由计费部核实，24 小时内难以完成。"
    do(rostered, number, "acknowledge", people["agent01"],
       {"will_execute": True, "objection": objection})
    assert state(rostered, number) == "closed"
    records = history_of(rostered, number)
    handled = next(r for r in records if r.task_spec == "handle_shift_leader")
    assert handled.data["instruction"] == INSTRUCTION and handled.actor == "leader04"
    [objected] = [r for r in records if r.action == "objection_recorded"]
    assert objected.actor == "agent01"
    assert objected.data == {"objection": objection, "instruction": INSTRUCTION,
                             "instructed_by": "leader04", "instruction_in_force": True}
    data = data_of(rostered, number)
    assert data["instruction"] == INSTRUCTION and data["instruction_in_force"] is True


def test_Q4_the_reporter_carries_the_instruction_out_first(rostered, people) -> None:
    number = report(rostered, people["agent01"])
    do(rostered, number, "handle_shift_leader", people["leader04"], RESOLVE)
    with pytest.raises(FormValidationError) as caught:
        do(rostered, number, "acknowledge", people["agent01"],
           {"will_execute": False, "objection": "不同意"})
    assert "will_execute" in caught.value.field_errors
    do(rostered, number, "acknowledge", people["agent01"],  # read-only: not the reporter's
       {"will_execute": True, "instruction": "改为下周处理"})
    assert data_of(rostered, number)["instruction"] == INSTRUCTION
