"""The case page: data, timeline, replies, deadlines and escalation, and the diagram with the
path taken; masking of customer numbers with every full view recorded (C12, A1, A2)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

import engine
from engine.persistence.models import HistoryRecord
from tests.complaints import (
    APPROVE,
    CONTACT,
    JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    do,
    register,
    run_to_archive,
)
from tests.web.conftest import text_of

ROOT = Path(__file__).resolve().parents[3]


def _views(kefu, number: str) -> list[HistoryRecord]:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return list(s.scalars(select(HistoryRecord).where(
            HistoryRecord.case_id == case.id,
            HistoryRecord.action == "viewed_customer_data")))


def test_A1_timeline_shows_who_when_what_and_the_data_entered(
        client, auth, deployed, people) -> None:
    number = run_to_archive(deployed, people)
    auth.as_user("audit01")
    html = client.get(f"/cases/{number}").get_data(as_text=True)
    timeline = text_of_html(html.split('<ol class="timeline">')[1].split("</ol>")[0])
    for who, step in [("刘洋（工号 1001）", "受理投诉"), ("王志强（工号 8101）", "投诉判断"),
                      ("马超（工号 3001）", "部门处理方案"),
                      ("胡伟（工号 3100）", "部门负责人审批"), ("刘洋（工号 1001）", "回访")]:
        assert f"已完成 · {step} · {who}" in timeline
    assert "判断意见 计费错误，投诉成立。" in timeline and "11月23日 09:00:00" in timeline
    assert "已结案" in timeline and "已发送答复" in timeline


def text_of_html(html: str) -> str:
    class R:
        def get_data(self, as_text: bool) -> str:
            return html
    return text_of(R())


def test_C7_case_page_shows_the_sms_and_a_printable_letter(
        client, auth, deployed, people) -> None:
    number = run_to_archive(deployed, people)
    auth.as_user("agent01")
    page = text_of(client.get(f"/cases/{number}"))
    assert "已发短信" in page and "工号1001" in page and "待发送" in page
    letter_case = register(deployed, people["agent01"], complainant_name="<b>陈</b>")
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
                            ("reply", "agent01", {**REPLY_SMS, "reply_channel": "letter"})]:
        do(deployed, letter_case, step, people[who], data)
    html = client.get(f"/cases/{letter_case}").get_data(as_text=True)
    link = html.split('href="/cases/' + letter_case + '/letters/')[1].split('"')[0]
    letter = client.get(f"/cases/{letter_case}/letters/{link}")
    assert letter.mimetype == "text/html" and "投诉答复函" in letter.get_data(as_text=True)
    assert "&lt;b&gt;陈&lt;/b&gt;" in letter.get_data(as_text=True)
    assert "default-src 'none'" in letter.headers["Content-Security-Policy"]


def test_A2_diagram_marks_the_path_taken_and_the_current_step(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    auth.as_user("agent01")
    html = client.get(f"/cases/{number}").get_data(as_text=True)
    svg = html.split('<div class="diagram"')[1].split("</svg>")[0]
    assert 'class="node activity userTask done" data-id="intake"' in svg
    assert 'class="node activity userTask done" data-id="contact"' in svg
    assert 'class="node activity userTask ready" data-id="judge"' in svg
    assert 'class="node activity userTask" data-id="propose"' in svg  # not reached
    assert 'class="flow taken" data-id="flow_contact_judge"' in svg
    assert 'class="flow" data-id="flow_judge_is_justified"' in svg
    assert "<rect" in svg and "<polyline" in svg and "业务代表" in svg  # lane: role name


def test_C8_a_step_done_twice_shows_how_often(client, auth, deployed, people) -> None:
    from tests.complaints import RETURN

    number = register(deployed, people["agent01"])
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", PROPOSAL), ("approve", "billhead", RETURN),
                            ("propose", "bill01", PROPOSAL)]:
        do(deployed, number, step, people[who], data)
    auth.as_user("billhead")
    svg = client.get(f"/cases/{number}").get_data(as_text=True).split("<svg")[1]
    propose = svg.split('data-id="propose"')[1].split("</g>")[0]
    assert "×2" in propose


def test_C12_customer_text_is_escaped_on_every_page(client, auth, deployed, people) -> None:
    attack = "<script>alert(1)</script>"
    number = register(deployed, people["agent01"], complainant_name=attack, content=attack)
    auth.as_user("duty01")
    task_id = client.get("/inbox").get_data(as_text=True).split("/tasks/")[1].split('"')[0]
    for url in (f"/cases/{number}", f"/tasks/{task_id}", f"/cases/{number}/receipt"):
        html = client.get(url).get_data(as_text=True)
        assert attack not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_C12_phone_masked_unless_handling_the_step_and_full_views_recorded(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    auth.as_user("agent01")  # the owner, but the current step is the duty supervisor's
    page = text_of(client.get(f"/cases/{number}"))
    assert "138****8000" in page and "13800138000" not in page
    assert _views(deployed, number) == []
    auth.as_user("duty01")  # offered the current step: contact the complainant
    page = text_of(client.get(f"/cases/{number}"))
    assert "13800138000" in page and "已记入案件历史" in page
    [view] = _views(deployed, number)
    assert view.actor == "duty01" and view.data == {"fields": ["complainant_phone"],
                                                    "purpose": "case_page"}
    auth.as_user("audit01")
    assert "13800138000" in text_of(client.get(f"/cases/{number}"))
    assert [v.actor for v in _views(deployed, number)] == ["duty01", "audit01"]
    with deployed.session() as s:
        assert engine.verify_case(s, engine.case_by_number(s, number)) == []


def test_C12_uninvolved_staff_cannot_open_a_case(client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    for username in ("agent02", "bill01", "owner01"):
        auth.as_user(username)
        assert client.get(f"/cases/{number}").status_code == 403, username
    assert client.get("/cases/TS000").status_code == 404


def test_C9_case_page_shows_the_escalation_level_it_reached(
        client, auth, deployed, people, clock) -> None:
    number = register(deployed, people["agent01"])
    auth.as_user("agent01")
    assert "升级级别" not in text_of(client.get(f"/cases/{number}"))
    clock.advance(hours=49)
    engine.fire_due(deployed, clock.now())
    auth.as_user("agent01")  # two days later the idle session has ended: a new one
    assert "升级级别 二级：部门经理" in text_of(client.get(f"/cases/{number}"))


def test_a_case_of_a_process_drawn_without_a_layout_opens_with_a_note_for_the_diagram(
        client, auth, deployed, people) -> None:
    """Files written by hand or by tools that keep no BPMNDI run; their case page still
    opens, saying why there is no drawing, instead of failing the whole page."""
    source = (ROOT / "tests" / "data" / "modeler" / "plain_tasks.bpmn").read_text("utf-8")
    built = engine.build({"plain_tasks.bpmn": source}, {})
    with deployed.session() as s:
        engine.deploy(s, built, "owner01", deployed.clock.now())
        number = engine.start_case(deployed, s, "plain_tasks", people["agent01"]).number
    auth.as_user("agent01")
    response = client.get(f"/cases/{number}")
    page = text_of(response)
    assert response.status_code == 200 and number in page
    assert "没有图形布局" in page and "BPMNDI" in page and "open and save" not in page
