"""Auditors (A2, A3): search cases, open any case read-only, export as CSV, see the history
check; and every write refused to them on the server, route by route."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qsl

from sqlalchemy import select, update

import engine
from engine.persistence.models import HistoryRecord
from tests.complaints import CONTACT, JUSTIFIED, do, open_tasks, register, run_to_archive
from tests.web.conftest import text_of

SAFE = {"GET", "HEAD", "OPTIONS"}


def _rows(response) -> list[list[str]]:
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel opens UTF-8 Chinese correctly
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_A2_search_by_number_phone_category_department_state_and_dates(
        client, auth, deployed, people, clock) -> None:
    closed = run_to_archive(deployed, people)
    clock.advance(days=2)
    network = register(deployed, people["agent02"], category="network",
                       complainant_phone="13912345678")
    do(deployed, network, "contact", people["duty01"], CONTACT)
    do(deployed, network, "judge", people["duty01"], {**JUSTIFIED, "department": "network"})
    auth.as_user("audit01")
    cases = {
        "number=" + network: {network},
        "phone=13912345678": {network},
        "category=fee": {closed},
        "department=network": {network},
        "state=closed": {closed},
        "state=running": {network},
        "date_from=2026-11-24": {network},
        "date_to=2026-11-23": {closed},
        "date_from=2026-11-23&date_to=2026-11-25&process=complaint": {closed, network},
    }
    for query, expected in cases.items():
        html = auth.post("/audit/", dict(parse_qsl(query))).get_data(as_text=True)
        found = set(re.findall(r'href="/cases/(TS\d+)"', html))
        assert found == expected, query
    bad = client.get("/audit/?date_from=23.11.2026")
    assert "请按 YYYY-MM-DD 格式输入日期" in text_of(bad)


def test_A2_search_result_exported_as_csv_with_phones_masked(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"], content="=HYPERLINK(\"x\")")
    auth.as_user("audit01")
    rows = _rows(client.get("/audit/export.csv?state=running"))
    assert rows[0][:3] == ["案件编号", "流程", "状态"]
    assert rows[1][0] == number and rows[1][2] == "处理中" and rows[1][5] == "138****8000"


def test_A1_one_cases_full_history_exported_and_the_export_recorded(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"], content="=1+1 <b>")
    auth.as_user("audit01")
    rows = _rows(client.get(f"/audit/cases/{number}/history.csv"))
    assert rows[0] == ["序号", "时间", "操作人", "操作", "环节", "数据", "哈希"]
    intake = next(r for r in rows if r[4] == "intake")
    assert intake[2] == "agent01" and "13800138000" in intake[5]  # full, for the auditor
    with deployed.session() as s:
        last = s.scalars(select(HistoryRecord).order_by(HistoryRecord.id.desc())).first()
    assert (last.action, last.actor, last.data["purpose"]) == ("viewed_customer_data",
                                                               "audit01", "export")


def test_A2_csv_cells_never_start_a_spreadsheet_formula(client, auth, deployed, people) -> None:
    register(deployed, people["agent01"], content="=cmd|' /C calc'!A0")
    auth.as_user("audit01")
    number = re.findall(r"TS\d+", client.get("/audit/?all=1").get_data(as_text=True))[0]
    rows = _rows(client.get(f"/audit/cases/{number}/history.csv"))
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_A2_history_check_is_visible_and_shows_tampering(client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    auth.as_user("audit01")
    assert "发现 0 个问题" in text_of(client.get("/audit/verify"))
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        s.execute(update(HistoryRecord).where(HistoryRecord.case_id == case.id,
                                              HistoryRecord.seq == 2)
                  .values(actor="mallory"))
    page = text_of(client.get("/audit/verify"))
    assert "发现 1 个问题" in page and number in page and "record content was edited" in page


def test_A2_only_auditors_search(client, auth, deployed) -> None:
    auth.as_user("agent01")
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def _write_routes(app) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - SAFE):
            values = {arg: "x" for arg in rule.arguments}
            if "letter_id" in values or "version" in values:
                values = {k: (1 if k in ("letter_id", "version") else v)
                          for k, v in values.items()}
            with app.test_request_context():
                from flask import url_for

                routes.append((method, url_for(rule.endpoint, **values)))
    return routes


def test_A2_an_auditor_is_refused_every_write_on_the_server(client, auth, app, deployed,
                                                           people) -> None:
    number = register(deployed, people["agent01"])
    task_id = open_tasks(deployed, number)[0].id
    auth.as_user("audit01")
    with deployed.session() as s:
        token = engine.create_token(s, "audit01", deployed.clock.now())
    routes = _write_routes(app)
    assert len(routes) >= 8
    # the audit search and export are reads, posted to keep phone numbers out of URLs
    allowed = {"/login", "/logout", "/language", "/audit/", "/audit/export.csv"}
    for method, url in routes:
        if url in allowed:
            continue
        url = url.replace("/x", f"/{task_id}") if url.startswith("/tasks/") else url
        if url.startswith("/api/"):
            response = client.open(url, method=method, json={"process": "complaint",
                                                              "data": CONTACT},
                                   headers={"Authorization": f"Bearer {token}"})
        else:
            response = client.open(url, method=method, data={"csrf_token": auth.csrf(),
                                                             **CONTACT, "to": "agent01"})
        assert response.status_code == 403, (method, url)
    assert [t.assignee for t in open_tasks(deployed, number)] == [None]  # nothing changed
    with deployed.session() as s:
        assert engine.case_by_number(s, number).history_seq == 2


def test_A2_an_auditors_case_page_offers_no_action(client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    auth.as_user("audit01")
    html = client.get(f"/cases/{number}").get_data(as_text=True)
    actions = re.findall(r'<form method="post" action="([^"]+)"', html)
    assert sorted(actions) == ["/language", "/logout"]
