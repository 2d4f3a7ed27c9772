"""Each step sees its own data (issue 12, item 4), as the people doing the steps see it:
a field cleared is cleared, no form is filled in from another step's answers, every
submission is kept as entered, and the reply shows what will be sent before it is sent."""

from __future__ import annotations

import re

from sqlalchemy import select

import engine
from engine.persistence.models import SmsMessage
from tests.complaints import (
    APPROVE,
    CONTACT,
    JUSTIFIED,
    do,
    open_tasks,
    register,
)
from tests.web.conftest import form, reply_digest, submit_task, text_of

TEN_YUAN = "补偿话费 10 元"
FIRST = {"cause": "计费系统重复扣费", "solutions": ["退还 30 元"], "compensation": TEN_YUAN}
REPLY = {"reply_channel": "sms", "cause": "计费系统重复扣费", "solution": "已退还 30 元",
         "follow_up": "下月账单将再次核对"}


def _task_id(kefu, number: str, spec: str) -> str:
    return next(t.id for t in open_tasks(kefu, number) if t.spec_name == spec)


def _data(kefu, number: str) -> dict:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return dict(engine.case_data(engine.load_case_workflow(kefu, s, case)))


def _field(html: str, name: str) -> str:
    """The HTML of one field's block in the task's form (not the case panel beside it)."""
    task_form = html.split('class="task-form"')[1].split("</form>")[0]
    return task_form.split(f'id="field-{name}"')[1].split('id="field-')[0]


def _sms(kefu, number: str) -> list[SmsMessage]:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return list(s.scalars(select(SmsMessage).where(SmsMessage.case_id == case.id)))


def _returned_once(kefu, people) -> str:
    """A complaint whose head returned the first proposal (with its 10 元 compensation)."""
    number = register(kefu, people["agent01"])
    do(kefu, number, "contact", people["duty01"], CONTACT)
    do(kefu, number, "judge", people["duty01"], JUSTIFIED)
    do(kefu, number, "propose", people["bill01"], FIRST)
    do(kefu, number, "approve", people["billhead"],
       {"approved": False, "return_reasons": "不同意补偿 10 元，退费即可。"})
    return number


def test_C6_C7_a_rejected_compensation_the_handler_cleared_is_not_promised_by_sms(
        client, auth, deployed, people) -> None:
    number = _returned_once(deployed, people)
    auth.as_user("bill01")
    task_id = _task_id(deployed, number, "propose")
    html = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "不同意补偿 10 元" in _field(html, "return_reasons")  # the head's reasons, read-only
    assert TEN_YUAN in _field(html, "compensation")  # the department's own previous proposal
    response = auth.post(f"/tasks/{task_id}", {**form(FIRST), "compensation": ""})  # cleared
    assert response.status_code == 302
    assert _data(deployed, number)["compensation"] is None
    do(deployed, number, "approve", people["billhead"], APPROVE)

    auth.as_user("agent01")
    task_id = _task_id(deployed, number, "reply")
    html = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert TEN_YUAN not in html.split('class="panel case-panel"')[0]  # nowhere in the form
    preview = auth.post(f"/tasks/{task_id}", form(REPLY))
    assert preview.status_code == 200
    assert "10 元" not in text_of(preview).split("客户将收到")[1].split("案件信息")[0]
    assert submit_task(auth, task_id, REPLY).status_code == 302
    [sms] = _sms(deployed, number)
    assert "10 元" not in sms.body and "补偿" not in sms.body


def test_C6_a_cleared_field_is_cleared_and_each_proposal_is_kept_as_entered(
        deployed, people) -> None:
    number = _returned_once(deployed, people)
    # A returned proposal goes back to its author (C6), who now leaves compensation out.
    do(deployed, number, "propose", people["bill01"],
       {"cause": "计费系统重复扣费", "solutions": ["退还 30 元"]})
    assert _data(deployed, number)["compensation"] is None
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        proposals = [p for p in engine.cases.steps.submissions(engine.case_history(s, case))
                     if p.step == "propose"]
    assert [(p.actor, p.data.get("compensation")) for p in proposals] == [
        ("bill01", TEN_YUAN), ("bill01", None)]


def test_C6_the_heads_approval_does_not_carry_the_previous_return_reasons(
        client, auth, deployed, people) -> None:
    number = _returned_once(deployed, people)
    do(deployed, number, "propose", people["bill01"], {**FIRST, "compensation": "退还 30 元"})
    auth.as_user("billhead")
    task_id = _task_id(deployed, number, "approve")
    html = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "不同意补偿" not in _field(html, "return_reasons")
    assert " checked" not in _field(html, "approved")  # the earlier "no" is not ticked
    assert "退还 30 元" in _field(html, "proposed_compensation")  # the proposal under review
    assert auth.post(f"/tasks/{task_id}", form(APPROVE)).status_code == 302
    assert _data(deployed, number)["return_reasons"] is None
    page = text_of(client.get(f"/cases/{number}"))
    steps = page.split("各步骤填写的内容")[1].split("流程图")[0]
    assert steps.count("部门负责人审批") == 2
    assert "不同意补偿 10 元" in steps and APPROVE["instruction"] in steps


def test_C8_the_callback_form_does_not_arrive_ticked_from_the_contact_step(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", FIRST), ("approve", "billhead", APPROVE)]:
        do(deployed, number, step, people[who], data)
    do(deployed, number, "reply", people["agent01"], REPLY)
    assert _data(deployed, number)["reached"] is True  # the contact step's answer
    auth.as_user("agent01")
    html = client.get(f"/tasks/{_task_id(deployed, number, 'callback')}").get_data(as_text=True)
    for decision in ("reached", "satisfied"):
        assert "checked" not in _field(html, decision), decision
    assert "selected" not in _field(html, "satisfaction")
    assert "</textarea>" in _field(html, "notes") and ">已电话联系" not in _field(html, "notes")


def test_C7_the_reply_shows_the_exact_sms_and_its_segments_before_it_is_sent(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", FIRST), ("approve", "billhead", APPROVE)]:
        do(deployed, number, step, people[who], data)
    auth.as_user("agent01")
    task_id = _task_id(deployed, number, "reply")
    html = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "预览答复" in html and "确认发送" not in html
    assert "计费系统重复扣费" in _field(html, "approved_cause")  # the approved proposal
    assert "<li>退还 30 元</li>" in _field(html, "approved_solutions")  # a list, one per line
    long_reply = {**REPLY, "follow_up": "下月账单将再次核对，" * 6}
    shown = auth.post(f"/tasks/{task_id}", form(long_reply))
    assert shown.status_code == 200 and [t.spec_name for t in open_tasks(deployed, number)] \
        == ["reply"]  # nothing sent yet
    page = shown.get_data(as_text=True)
    previewed = re.search(r'<pre class="sms-text" id="preview-sms">(.*?)</pre>', page,
                          re.S).group(1)
    segments = re.search(r"按 (\d+) 条短信发送", page).group(1)
    assert "每条 70 个字符" in page and "每条 67 个字符" in page
    changed = {**long_reply, "solution": "已退还 30 元并致歉"}
    again = auth.post(f"/tasks/{task_id}", {**form(changed),
                                            "reply_digest": reply_digest(page)})
    assert again.status_code == 200 and "内容已有改动" in text_of(again)  # not the text seen
    assert _sms(deployed, number) == []
    previewed_again = auth.post(f"/tasks/{task_id}?do=preview",  # 重新预览, same text
                                {**form(long_reply), "reply_digest": reply_digest(page)})
    assert previewed_again.status_code == 200 and _sms(deployed, number) == []
    action = re.search(r'<form method="post" action="([^"]*)" class="task-form"',
                       previewed_again.get_data(as_text=True)).group(1)
    assert action == f"/tasks/{task_id}"  # 确认发送 from this page sends, not previews again
    confirmed = auth.post(f"/tasks/{task_id}", {**form(long_reply),
                                                "reply_digest": reply_digest(page)})
    assert confirmed.status_code == 302
    [sms] = _sms(deployed, number)
    assert sms.body == previewed.replace("&#34;", '"').replace("&#39;", "'")
    assert sms.segments == int(segments) == -(-len(sms.body) // 67) > 1
    assert "工号1001" in sms.body


def test_C7_a_letter_reply_is_previewed_as_the_letter(client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", FIRST), ("approve", "billhead", APPROVE)]:
        do(deployed, number, step, people[who], data)
    auth.as_user("agent01")
    task_id = _task_id(deployed, number, "reply")
    page = auth.post(f"/tasks/{task_id}", form({**REPLY, "reply_channel": "letter"}))
    html = page.get_data(as_text=True)
    letter = re.search(r'<iframe class="letter-preview"[^>]*srcdoc="([^"]*)"', html).group(1)
    assert "投诉答复函" in letter and "已退还 30 元" in letter and "工号 1001" in letter
    assert 'sandbox=""' in html and 'id="preview-sms"' not in html


def test_S1_two_leaders_opinions_stay_two(client, auth, rostered, people) -> None:
    from tests.rules.test_swap_process import AGREE, ask

    number = ask(rostered, people["agent01"])
    do(rostered, number, "consent", people["agent07"], AGREE)
    do(rostered, number, "approve_requester_leader", people["leader01"],
       {"approved": True, "leader_opinion": "同意，白班人手已核对"})
    auth.as_user("leader03")
    task_id = _task_id(rostered, number, "approve_counterpart_leader")
    html = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "白班人手已核对" not in _field(html, "leader_opinion")
    assert " checked" not in _field(html, "approved")
    assert "可以" in _field(html, "consent_note")  # declared: the consent step's note
    response = auth.post(f"/tasks/{task_id}", form({"approved": True,
                                                    "leader_opinion": "同意，夜班可调"}))
    assert response.status_code == 302
    page = text_of(client.get(f"/cases/{number}"))
    steps = page.split("各步骤填写的内容")[1].split("流程图")[0]
    first = steps.split("申请人班长批准")[1].split("对方班长批准")[0]
    second = steps.split("对方班长批准")[1]
    # each leader by name and staff number (the display layer), each with his own opinion
    assert "张建国（工号 8001）" in first and "白班人手已核对" in first and "夜班可调" not in first
    assert "钱永刚（工号 8003）" in second and "夜班可调" in second
    case_section = page.split("各步骤填写的内容")[0].split("班长意见")
    assert len(case_section) == 1  # no single merged "leader's opinion" for the case


def test_a_form_declaration_kefu_cannot_honour_refuses_the_deployment(deployed) -> None:
    import json

    import pytest

    processes, forms = engine.read_files(deployed.settings.processes_dir,
                                         deployed.settings.forms_dir)
    schema = json.loads(forms["complaint_reply.json"])
    schema["properties"]["cause"]["x-kefu-prefill"] = "propose.cause"
    schema["properties"]["approved_cause"]["x-kefu-source"] = "propose"
    forms["complaint_reply.json"] = json.dumps(schema, ensure_ascii=False)
    with pytest.raises(engine.DeploymentError) as refused:
        engine.build(processes, forms)
    text = str(refused.value)
    assert "complaint_reply.json" in text and "x-kefu-prefill must be one of previous, case" \
        in text and "x-kefu-source must be '<step id>.<field>'" in text


def test_C4_the_explanatory_reply_shows_the_judges_draft_as_context_only(
        client, auth, deployed, people) -> None:
    from tests.complaints import NOT_JUSTIFIED

    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], NOT_JUSTIFIED)
    auth.as_user("agent01")
    html = client.get(f"/tasks/{_task_id(deployed, number, 'explain')}").get_data(as_text=True)
    assert NOT_JUSTIFIED["explanation"] in _field(html, "draft_explanation")
    assert NOT_JUSTIFIED["explanation"] not in _field(html, "explanation")
    assert "预览答复" in html  # the explanation is a reply too: previewed before it is sent


def test_C5_the_judge_starts_from_the_class_the_decision_table_set(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"], category="contract")  # complex (C5)
    do(deployed, number, "contact", people["duty01"], CONTACT)
    auth.as_user("duty01")
    html = client.get(f"/tasks/{_task_id(deployed, number, 'judge')}").get_data(as_text=True)
    assert 'name="complaint_class" value="complex" checked' in _field(html, "complaint_class")
    assert "checked" not in _field(html, "justified")  # the decision itself starts empty
