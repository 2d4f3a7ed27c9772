"""Task pages: one generic form renderer from the task's JSON Schema, the engine's errors
beside the fields with what was typed kept, and starting cases (issue 5)."""

from __future__ import annotations

import re

from tests.complaints import CONTACT, INTAKE, JUSTIFIED, PROPOSAL, RETURN, do, open_tasks, register
from tests.web.conftest import text_of


def _task_id(kefu, number: str, spec: str) -> str:
    return next(t.id for t in open_tasks(kefu, number) if t.spec_name == spec)


def _case_data(kefu, number):
    import engine

    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return engine.case_data(engine.load_case_workflow(kefu, s, case)), case


def test_C4_judge_form_is_rendered_from_its_schema(client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    auth.as_user("duty01")
    html = client.get(f"/tasks/{_task_id(deployed, number, 'judge')}").get_data(as_text=True)
    assert re.search(r'type="radio" name="justified" value="true"', html)  # required yes/no
    assert re.search(r'type="radio" name="department" value="billing"', html)  # 3 choices
    assert re.search(r'<textarea id="in-judgement_notes" name="judgement_notes"', html)
    assert "责任部门" in html and "计费部" in html and "Responsible department" not in html
    assert "联系投诉人" not in text_of(client.get("/inbox"))  # contact is done


def test_C4_conditional_rule_error_beside_the_field_and_typed_values_kept(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    auth.as_user("duty01")
    task_id = _task_id(deployed, number, "judge")
    response = auth.post(f"/tasks/{task_id}", {"justified": "true",
                                               "judgement_notes": "计费错误 <b>成立</b>"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    department = html.split('id="field-department"')[1].split('id="field-')[0]
    assert "必填" in department and "has-error" in html.split('id="field-department"')[0][-40:]
    assert "计费错误 &lt;b&gt;成立&lt;/b&gt;</textarea>" in html  # kept, and escaped
    assert 'name="justified" value="true" checked' in html
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["judge"]  # nothing saved


def test_C4_type_and_format_errors_are_explained_in_the_readers_language(
        client, auth, deployed, people) -> None:
    auth.as_user("agent01")
    response = auth.post("/start/complaint", {**INTAKE, "complainant_phone": "12345",
                                               "is_vip": "true"})
    assert response.status_code == 422
    phone = response.get_data(as_text=True).split('id="field-complainant_phone"')[1]
    assert "格式不正确" in phone.split('id="field-')[0]
    assert 'value="12345"' in phone.split('id="field-')[0]


def test_C6_returned_proposal_shows_the_heads_reasons_read_only(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", PROPOSAL), ("approve", "billhead", RETURN)]:
        do(deployed, number, step, people[who], data)
    auth.as_user("bill01")  # the proposal goes back to its author (issue 15)
    task_id = _task_id(deployed, number, "propose")
    html = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    reasons = html.split('id="field-return_reasons"')[1].split('id="field-')[0]
    assert RETURN["return_reasons"] in reasons and "<textarea" not in reasons
    response = auth.post(f"/tasks/{task_id}", {"return_reasons": "已改", "cause": "重复扣费",
                                               "solutions": "退还 30 元\n\n赠送 1GB 流量\n"})
    assert response.status_code == 302
    data, _case = _case_data(deployed, number)
    assert data["solutions"] == ["退还 30 元", "赠送 1GB 流量"]  # one per line
    assert data["return_reasons"] == RETURN["return_reasons"]  # not overwritten


def test_only_the_forms_own_fields_are_submitted(client, auth, deployed, people) -> None:
    auth.as_user("agent01")
    response = auth.post("/start/complaint", {**INTAKE, "is_vip": "", "owner": "mallory",
                                              "case_number": "X1"})
    assert response.status_code == 302
    number = response.headers["Location"].split("/cases/")[1].split("/")[0]
    data, case = _case_data(deployed, number)
    assert case.owner == "agent01" and data["case_number"] == number
    assert data["is_vip"] is False


def test_C1_start_offers_the_processes_whose_first_task_my_roles_may_do(
        client, auth, deployed) -> None:
    auth.as_user("agent01")
    assert "投诉处理" in text_of(client.get("/start"))
    auth.as_user("bill01")
    page = text_of(client.get("/start"))
    assert "投诉处理" not in page
    assert client.get("/start/complaint").status_code == 403
    assert client.get("/start/no_such_process").status_code == 404


def test_C1_register_a_complaint_and_print_its_receipt(client, auth, deployed) -> None:
    auth.as_user("agent01")
    response = auth.post("/start/complaint", {**INTAKE, "category": "contract"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/receipt")
    receipt = text_of(client.get(response.headers["Location"]))
    number = response.headers["Location"].split("/cases/")[1].split("/")[0]
    assert "投诉受理回执" in receipt and number in receipt
    assert "受理时间 11月23日 09:00" in receipt
    assert "答复时限 11月26日 09:00" in receipt  # complex: 72 h (C5)
    assert "138****8000" in receipt and "13800138000" not in receipt
    assert "受理人工号 1001" in receipt and "刘洋" not in receipt.split("投诉受理回执", 1)[1]
    assert 'data-print' in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_task_completed_by_someone_else_first_says_so(client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    task_id = _task_id(deployed, number, "contact")
    auth.as_user("duty01")
    assert client.get(f"/tasks/{task_id}").status_code == 200
    do(deployed, number, "contact", people["duty01"], CONTACT)
    response = auth.post(f"/tasks/{task_id}", CONTACT)
    assert response.status_code == 302
    assert "已被他人先行完成" in text_of(client.get("/inbox"))


def test_date_and_time_fields_are_in_the_centres_time_zone(app) -> None:
    from zoneinfo import ZoneInfo

    from web.presentation.forms import fields_for, parse

    shanghai = ZoneInfo("Asia/Shanghai")
    schema = {"properties": {"start": {"type": "string", "format": "date-time"},
                             "day": {"type": "string", "format": "date"}}}
    data = parse(schema, {"start": "2026-11-25T08:00", "day": "2026-11-25"}, shanghai)
    assert data == {"start": "2026-11-25T08:00:00+08:00", "day": "2026-11-25"}
    with app.test_request_context():
        start, day = fields_for(schema, {"start": "2026-11-25T00:00:00+00:00",
                                         "day": "2026-11-25"}, zone=shanghai)
    assert (start.kind, start.text) == ("datetime", "2026-11-25T08:00")
    assert (day.kind, day.text) == ("date", "2026-11-25")


def test_a_step_the_sandbox_stops_is_explained_on_the_task_page_in_the_readers_language(
        client, auth, deployed, people, monkeypatch) -> None:
    """Issue 13: a post-task script killed at the time limit (one C call the sandbox's own
    ticks cannot stop) refuses the step with the element named, Chinese only by default,
    English only for a reader who chose English; the task stays open with nothing saved."""
    import dataclasses

    import engine
    from tests.definitions.test_sandbox import SELF_SHARING, _deploy_unchecked, _places

    _deploy_unchecked(deployed, monkeypatch, _places(SCRIPT=SELF_SHARING + "text = str(x)"))
    deployed.settings = dataclasses.replace(deployed.settings, script_timeout_seconds=0.2)
    with deployed.session() as s:
        number = engine.start_case(deployed, s, "sandbox_places", people["agent01"]).number
    task_id = _task_id(deployed, number, "fill")
    auth.as_user("agent01")
    chinese = auth.post(f"/tasks/{task_id}", {"path": "/tmp/x"})
    assert chinese.status_code == 422
    page = text_of(chinese)
    assert "流程元素的脚本「compute（计算）」已被停止：它运行超过了 0.2 秒的时限" in page
    assert "ran longer" not in page and "Compute" not in page
    assert [t.spec_name for t in open_tasks(deployed, number)] == ["fill"]
    auth.post("/language", {"lang": "en", "next": "/inbox"})
    english = text_of(auth.post(f"/tasks/{task_id}", {"path": "/tmp/x"}))
    assert "the script of compute (Compute) was stopped: it ran longer than the limit of " \
           "0.2 s" in english
    assert "已被停止" not in english
