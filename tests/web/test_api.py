"""The JSON API for integrations: token authentication, start a case, list, claim and
complete tasks, read a case and its history; JSON errors; an OpenAPI 3 document (issue 5)."""

from __future__ import annotations

import hashlib

from click.testing import CliRunner
from openapi_spec_validator import validate
from sqlalchemy import select

import engine
from engine.persistence.token_models import ApiToken
from tests.complaints import CONTACT, INTAKE, register
from web.cli import main


def _token(kefu, username: str) -> dict[str, str]:
    with kefu.session() as s:
        return {"Authorization": f"Bearer {engine.create_token(s, username, kefu.clock.now())}"}


def test_openapi_document_is_valid_openapi_3(client) -> None:
    document = client.get("/api/openapi.json").get_json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert {"/api/cases", "/api/tasks", "/api/tasks/{task_id}/claim",
            "/api/tasks/{task_id}/complete", "/api/cases/{number}",
            "/api/cases/{number}/history"} <= set(document["paths"])


def test_requests_without_a_valid_token_get_a_json_401(client, deployed) -> None:
    response = client.get("/api/tasks")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"]
    assert response.get_json() == {"code": "unauthorized", "fields": {},
                                   "message": "Authorization: Bearer <token> is required"}
    response = client.get("/api/tasks", headers={"Authorization": "Bearer kefu_guess"})
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
    assert client.get("/api/nothing", headers=_token(deployed, "agent01")).get_json()[
        "code"] == "not_found"


def test_C1_telephony_starts_a_complaint_and_gets_json_errors_per_field(
        client, deployed) -> None:
    headers = _token(deployed, "agent01")
    bad = client.post("/api/cases", json={"process": "complaint",
                                          "data": {**INTAKE, "complainant_phone": "110"}},
                      headers=headers)
    assert bad.status_code == 422
    body = bad.get_json()
    assert body["code"] == "form_invalid" and list(body["fields"]) == ["complainant_phone"]
    created = client.post("/api/cases", json={"process": "complaint", "data": INTAKE},
                          headers=headers)
    assert created.status_code == 201
    case = created.get_json()
    assert case["number"].startswith("TS") and case["owner"] == "agent01"
    assert [t["step"] for t in case["open_tasks"]] == ["contact"]
    assert created.headers["Location"] == f"/api/cases/{case['number']}"
    refused = client.post("/api/cases", json={"process": "complaint", "data": INTAKE},
                          headers=_token(deployed, "bill01"))
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    assert client.post("/api/cases", data="x", headers=headers).status_code == 400


def test_C3_list_claim_and_complete_tasks_through_the_api(client, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    headers = _token(deployed, "duty01")
    tasks = client.get("/api/tasks", headers=headers).get_json()
    [task] = [t for t in tasks["claimable"] if t["case"] == number]
    assert tasks["mine"] == [] and task["step"] == "contact"
    claimed = client.post(f"/api/tasks/{task['id']}/claim", headers=headers)
    assert claimed.status_code == 200 and claimed.get_json()["assignee"] == "duty01"
    again = client.post(f"/api/tasks/{task['id']}/claim", headers=_token(deployed, "leader01"))
    assert again.status_code == 409 and again.get_json()["code"] == "conflict"
    invalid = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"reached": 1}},
                          headers=headers)
    assert invalid.status_code == 422
    assert set(invalid.get_json()["fields"]) == {"reached", "contact_notes"}
    done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": CONTACT},
                       headers=headers)
    assert done.status_code == 200
    assert [t["step"] for t in done.get_json()["open_tasks"]] == ["judge"]
    gone = client.post(f"/api/tasks/{task['id']}/complete", json={"data": CONTACT},
                       headers=headers)
    assert gone.status_code == 404


def test_C12_read_a_case_and_its_history_masked_unless_handling_it(
        client, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    owner = client.get(f"/api/cases/{number}", headers=_token(deployed, "agent01")).get_json()
    assert owner["data"]["complainant_phone"] == "138****8000"
    handler = _token(deployed, "duty01")
    full = client.get(f"/api/cases/{number}", headers=handler).get_json()
    assert full["data"]["complainant_phone"] == "13800138000"
    history = client.get(f"/api/cases/{number}/history", headers=handler).get_json()
    actions = [r["action"] for r in history["records"]]
    assert actions[:2] == ["started", "completed"] and "viewed_customer_data" in actions
    assert history["records"][1]["data"]["complainant_phone"] == "13800138000"
    outsider = client.get(f"/api/cases/{number}", headers=_token(deployed, "bill01"))
    assert outsider.status_code == 403


def test_A2_an_auditors_token_reads_but_cannot_write(client, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    headers = _token(deployed, "audit01")
    assert client.get(f"/api/cases/{number}", headers=headers).status_code == 200
    refused = client.post("/api/cases", json={"process": "complaint", "data": INTAKE},
                          headers=headers)
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"


def test_kefu_token_create_prints_a_token_that_works_and_revoke_stops_it(
        client, deployed) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--database-url", deployed.db.url, "token", "create",
                                  "agent01", "--name", "telephony"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("kefu_") and len(secret) > 40
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/tasks", headers=headers).status_code == 200
    with deployed.session() as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hashlib.sha256(secret.encode()).hexdigest()]  # only its hash is kept
    result = runner.invoke(main, ["--database-url", deployed.db.url, "token", "revoke",
                                  "agent01"])
    assert result.exit_code == 0 and "revoked 1 token(s)" in result.output
    assert client.get("/api/tasks", headers=headers).status_code == 401
    unknown = runner.invoke(main, ["--database-url", deployed.db.url, "token", "create", "x"])
    assert unknown.exit_code == 1 and "no active person" in unknown.output


def test_L4_rule_refusal_through_the_api_names_the_rule_and_the_facts(client, rostered) -> None:
    from tests.rules.test_leave_process import DAY_25

    data = {"kind": "general_personal", "reason": "家中有事", **DAY_25, "employee": "agent01"}
    response = client.post("/api/cases", json={"process": "leave", "data": data},
                           headers=_token(rostered, "agent02"))
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "rule_violation" and body["message"].endswith("(L4)")
    [violation] = body["violations"]
    assert violation["rule"] == "L4"
    assert violation["rule_zh"] == "事假须本人办理，不得由他人代请，病假除外。"
    assert "刘洋 (1001)" in violation["facts_en"] and violation["rule_en"]


def test_S1_a_swap_through_the_api_may_name_the_colleague_by_name_and_stores_the_username(
        client, rostered) -> None:
    data = {"my_shift_date": "2026-11-26", "my_shift_kind": "day", "counterpart": "曹宇",
            "their_shift_date": "2026-11-30", "their_shift_kind": "day", "reason": "家中有事"}
    headers = _token(rostered, "agent01")
    response = client.post("/api/cases", json={"process": "shift_swap", "data": data},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    unknown = client.post("/api/cases", headers=headers, json={
        "process": "shift_swap", "data": {**data, "counterpart": "王小明",
                                          "their_shift_date": "2026-11-29"}})
    assert unknown.status_code == 422
    errors = unknown.get_json()["fields"]
    assert errors["counterpart"] == ["没有此人 / no active person '王小明'"]
