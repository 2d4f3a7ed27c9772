"""Messages and signals from outside through POST /api/messages: the cases waiting for them
take them, matched by correlation keys, and their history says so (issue 14); the SMS
gateway's delivery receipts come in the same way and are recorded on the SMS (C7)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

import engine
from engine.persistence.models import SmsMessage
from engine.persistence.notice_models import Notification
from tests.complaints import open_tasks, run_to_archive
from tests.web.conftest import text_of

DATA = Path(__file__).resolve().parent.parent / "data" / "modeler"


def _token(kefu, username: str) -> dict[str, str]:
    with kefu.session() as s:
        return {"Authorization": f"Bearer {engine.create_token(s, username, kefu.clock.now())}"}


def _deploy(kefu, name: str) -> None:
    built = engine.build({name: (DATA / name).read_text(encoding="utf-8")}, {})
    with kefu.session() as s:
        engine.deploy(s, built, "owner01", kefu.clock.now())


def _start(kefu, process: str, actor, data: dict | None = None) -> str:
    with kefu.session() as s:
        return engine.start_case(kefu, s, process, actor, data).number


def _history(kefu, number: str) -> list:
    with kefu.session() as s:
        return list(engine.case_history(s, engine.case_by_number(s, number)))


def _steps(kefu, number: str) -> list[str]:
    return [t.spec_name for t in open_tasks(kefu, number)]


def test_message_reaches_only_the_correlated_case_through_an_event_based_gateway(
        client, deployed, people) -> None:
    _deploy(deployed, "event_gateway.bpmn")
    first = _start(deployed, "event_gateway", people["agent01"], {})
    second = _start(deployed, "event_gateway", people["agent01"], {})
    response = client.post("/api/messages", headers=_token(deployed, "agent01"), json={
        "name": "customer_reply", "payload": {"reply_text": "已收到，谢谢"},
        "correlation": {"case_number": first}})
    assert response.status_code == 200
    assert response.get_json() == {"kind": "message", "name": "customer_reply",
                                   "matched": [first], "not_waiting": []}
    assert _steps(deployed, first) == ["read_reply"]
    assert _steps(deployed, second) == []  # still waiting for its reply or its timer
    [record] = [r for r in _history(deployed, first) if r.action == "message_received"]
    assert record.data["payload"] == {"reply_text": "已收到，谢谢"}
    with deployed.session() as s:
        case = engine.case_by_number(s, first)
        data = engine.case_data(engine.load_case_workflow(deployed, s, case))
        assert data["reply_text"] == "已收到，谢谢"
    assert not [r for r in _history(deployed, second) if r.action == "message_received"]


def test_message_nobody_waits_for_is_answered_with_no_match(client, deployed) -> None:
    response = client.post("/api/messages", headers=_token(deployed, "agent01"),
                           json={"name": "nobody_listens", "payload": {}})
    assert response.get_json()["matched"] == []
    response = client.post("/api/messages", headers=_token(deployed, "agent01"),
                           json={"payload": {}})
    assert response.status_code == 400 and response.get_json()["fields"] == {
        "name": ["required"]}


def test_receive_task_signal_to_every_case_and_message_boundary_event(
        client, deployed, people) -> None:
    _deploy(deployed, "receive_and_signal.bpmn")
    token = _token(deployed, "agent01")
    cases = [_start(deployed, "receive_and_signal", people["agent01"]) for _ in range(2)]
    for number in cases:  # the receive task takes the SMS gateway's receipt
        reply = client.post("/api/messages", headers=token, json={
            "name": "sms_receipt", "payload": {"delivered": True},
            "correlation": {"case_number": number}}).get_json()
        assert reply["matched"] == [number]
    reply = client.post("/api/messages", headers=token, json={
        "kind": "signal", "name": "network_outage_over"}).get_json()
    assert sorted(reply["matched"]) == sorted(cases)
    assert all(_steps(deployed, n) == ["confirm"] for n in cases)
    reply = client.post("/api/messages", headers=token, json={
        "name": "customer_cancelled", "correlation": {"case_number": cases[0]}}).get_json()
    assert reply["matched"] == [cases[0]]
    with deployed.session() as s:
        assert engine.case_by_number(s, cases[0]).state == "closed"
        assert engine.case_by_number(s, cases[1]).state == "running"


def test_message_thrown_by_one_case_reaches_the_case_its_payload_names(deployed, people) -> None:
    built = engine.build({"between_cases.bpmn": (DATA / "between_cases.bpmn").read_text()},
                         {"repair.json": (DATA / "repair.json").read_text()})
    with deployed.session() as s:
        engine.deploy(s, built, "owner01", deployed.clock.now())
    agent = people["agent01"]
    waiting = [_start(deployed, "repair_request", agent) for _ in range(2)]
    report = _start(deployed, "repair_report", agent,
                    {"request_case": waiting[1], "note": "光猫已更换"})
    assert _steps(deployed, waiting[1]) == ["tell_customer"]
    assert _steps(deployed, waiting[0]) == []
    [record] = [r for r in _history(deployed, waiting[1]) if r.action == "message_received"]
    assert record.actor == f"case {report}"
    assert record.data["payload"] == {"case_number": waiting[1], "repair_note": "光猫已更换"}


def test_a_plain_task_is_a_done_step_in_the_browser(client, auth, deployed, people) -> None:
    """bpmn.io's default task used to crash every save (KeyError 'properties'): now the
    inbox shows it with the done form, and submitting it completes the step."""
    _deploy(deployed, "plain_tasks.bpmn")
    number = _start(deployed, "plain_tasks", people["agent01"], {})
    [item] = open_tasks(deployed, number)
    auth.as_user("agent01")
    page = client.get(f"/tasks/{item.id}")
    assert page.status_code == 200 and "完成" in page.get_data(as_text=True)
    assert auth.post(f"/tasks/{item.id}", {}).status_code == 302
    assert _steps(deployed, number) == ["note"]


# --- the SMS gateway's delivery receipts (C7) -------------------------------------------------

def _sms_of(kefu, number: str) -> SmsMessage:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return s.scalars(select(SmsMessage).where(SmsMessage.case_id == case.id)).one()


def _receipt(client, kefu, sms_id, status, **more):
    """The gateway posts with a token of its own (here the process owner's)."""
    return client.post("/api/messages", headers=_token(kefu, "owner01"), json={
        "name": "sms_receipt", "payload": {"status": status, **more},
        "correlation": {"sms_id": sms_id}})


def test_C7_delivered_receipt_is_recorded_on_the_reply_and_the_case_page_says_delivered(
        client, auth, deployed, people) -> None:
    number = run_to_archive(deployed, people)
    sms = _sms_of(deployed, number)
    assert sms.status == "queued"
    answer = _receipt(client, deployed, sms.id, "delivered")
    assert answer.status_code == 200
    assert answer.get_json()["receipt"] == {"sms_id": sms.id, "status": "delivered"}
    assert _sms_of(deployed, number).status == "delivered"
    again = _receipt(client, deployed, sms.id, "delivered")  # gateways repeat receipts
    assert again.status_code == 200
    assert [r.data for r in _history(deployed, number) if r.action == "sms_receipt"] == [
        {"sms_id": sms.id, "status": "delivered"}]
    auth.as_user("agent01")
    page = text_of(client.get(f"/cases/{number}"))
    assert "已送达" in page and "短信回执" in page
    with deployed.session() as s:  # nobody is told of a delivered SMS
        assert not s.scalars(select(Notification).where(Notification.kind == "sms_failed")).all()


def test_C7_failed_sms_is_shown_on_the_case_and_told_to_its_owner(
        client, auth, deployed, people) -> None:
    """The owner (C2) signed the reply and answers to the customer: they are told, in the
    app, that the customer has not had it."""
    number = run_to_archive(deployed, people)
    sms = _sms_of(deployed, number)
    answer = _receipt(client, deployed, sms.id, "failed", error="号码已停机")
    assert answer.get_json()["receipt"] == {"sms_id": sms.id, "status": "failed"}
    auth.as_user("agent01")
    page = text_of(client.get(f"/cases/{number}"))
    assert "发送失败" in page and "号码已停机" in page
    notices = text_of(client.get("/notifications"))
    assert f"答复短信未送达：案件 {number} 的客户没有收到答复" in notices
    with deployed.session() as s:
        told = s.scalars(select(Notification.recipient)
                         .where(Notification.kind == "sms_failed")).all()
    assert told == ["agent01"]


def test_C7_failed_sms_of_a_case_with_no_active_owner_goes_to_the_duty_supervisors(
        client, deployed, people) -> None:
    number = run_to_archive(deployed, people)
    with deployed.session() as s:
        engine.people.signin.deactivate(s, "agent01", deployed.clock.now())
    _receipt(client, deployed, _sms_of(deployed, number).id, "failed")
    with deployed.session() as s:
        told = s.scalars(select(Notification.recipient)
                         .where(Notification.kind == "sms_failed")).all()
    assert told == ["duty01"]


def test_C7_sms_receipt_reaches_the_case_waiting_for_it_by_sms_id(deployed, people) -> None:
    _deploy(deployed, "receive_and_signal.bpmn")
    waiting = [_start(deployed, "receive_and_signal", people["agent01"]) for _ in range(2)]
    with deployed.session() as s:
        case = engine.case_by_number(s, waiting[1])
        sms = SmsMessage(case_id=case.id, phone="13800138000", body="您好", segments=1,
                         status="queued", created_at=deployed.clock.now())
        s.add(sms)
        s.flush()
        sms_id = sms.id
        delivery = engine.cases.events.deliver(
            deployed, s, "message", "sms_receipt", {"status": "delivered"},
            {"sms_id": sms_id}, "gateway")
    assert delivery.matched == [waiting[1]] and delivery.receipt["status"] == "delivered"
    assert [r.action for r in _history(deployed, waiting[1])][-2:] == [
        "sms_receipt", "message_received"]
    assert not [r for r in _history(deployed, waiting[0]) if r.action == "message_received"]


def test_C7_a_receipt_naming_no_sms_or_no_status_is_refused_naming_the_field(
        client, deployed, people) -> None:
    number = run_to_archive(deployed, people)
    sms = _sms_of(deployed, number)
    unknown = _receipt(client, deployed, sms.id + 100, "delivered")
    assert unknown.status_code == 404 and "correlation.sms_id" in unknown.get_json()["message"]
    bad = _receipt(client, deployed, sms.id, "read")
    assert bad.status_code == 422 and "payload.status" in bad.get_json()["message"]
    assert _sms_of(deployed, number).status == "queued"  # nothing half-saved
