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
    intake = next(r for r in rows if r[4] == "受理投诉")  # words, not codes (issue 15)
    assert intake[2] == "刘洋（工号 1001）" and "13800138000" in intake[5]  # full, for the auditor
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
    assert "发现 1 个问题" in page and number in page and "记录内容被改动过" in page
    assert "edited" not in page


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
    allowed = {"/login", "/logout", "/language", "/audit/", "/audit/export.csv",
               "/audit/verify"}  # uploading a checkpoint to verify against
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


# --- checkpoints in the web (A3) -------------------------------------------------------------

def _download(client) -> tuple[dict, str]:
    import json

    response = client.get("/audit/checkpoint.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="kefu-checkpoint-')
    return json.loads(response.get_data(as_text=True)), disposition


def _upload(auth, doc=None, raw: bytes | None = None, name: str = "kefu-checkpoint.json"):
    import json

    body = raw if raw is not None else json.dumps(doc).encode("utf-8")
    return auth.post("/audit/verify", {"checkpoint": (io.BytesIO(body), name)},
                     content_type="multipart/form-data")


def test_A3_an_auditor_downloads_a_signed_checkpoint_and_verifies_against_it(
        client, auth, deployed, people, clock) -> None:
    number = register(deployed, people["agent01"])
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        backup = (case.history_seq, case.history_head)
    auth.as_user("audit01")
    page = text_of(client.get("/audit/verify"))
    assert "立即下载检查点" in page and "与此检查点比对" in page
    clock.advance(hours=1)
    do(deployed, number, "contact", people["duty01"], CONTACT)
    saved, _ = _download(client)
    with deployed.session() as s:
        assert engine.records.checkpoints.verify_checkpoint(s, deployed.history_key,
                                                            saved) == []
    fine = text_of(_upload(auth, saved))
    assert "同时与" in fine and "的检查点做了比对" in fine and "发现 0 个问题" in fine
    with deployed.db.session() as s:  # the database put back to the earlier copy
        from sqlalchemy import delete

        from engine.persistence.models import Case

        case_id = s.scalar(select(Case.id).where(Case.number == number))
        s.execute(delete(HistoryRecord).where(HistoryRecord.case_id == case_id,
                                              HistoryRecord.seq > backup[0]))
        s.execute(update(Case).where(Case.id == case_id)
                  .values(history_seq=backup[0], history_head=backup[1]))
    response = _upload(auth, saved)
    assert response.status_code == 200
    page = text_of(response)
    assert "发现 2 个问题" in page and number in page
    assert f"被回退：数据库里有 {backup[0]} 条记录，" in page
    assert "数据库最新的记录早于" in page and "检查点：数据库被回退了" in page
    assert "rolled back" not in page and not re.search(r"\d{4}-\d{2}-\d{2}T", page)


def test_A3_an_edited_or_unreadable_checkpoint_is_explained_in_chinese(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    auth.as_user("audit01")
    saved, _ = _download(client)
    forged = {**saved, "cases": {number: {"seq": 1, "head": "0" * 64}}, "signature": "签名"}
    page = text_of(_upload(auth, forged))
    assert "签名不符：检查点被改动过，或是用另一把历史密钥生成的" in page and "检查点" in page
    broken = _upload(auth, raw=b'{"format": ', name="checkpoint.json")
    assert broken.status_code == 422
    assert "checkpoint.json 不是检查点：它不是 JSON 格式（第 1 行）。" in text_of(broken)
    missing = auth.post("/audit/verify", {})
    assert missing.status_code == 422 and "请选择之前下载的检查点文件。" in text_of(missing)


def test_A3_only_auditors_download_or_verify_checkpoints(client, auth, deployed) -> None:
    for username in ("agent01", "leader01", "director", "owner01"):
        auth.as_user(username)
        assert client.get("/audit/checkpoint.json").status_code == 403, username
        response = _upload(auth, {"format": "kefu-checkpoint/1"})
        assert response.status_code == 403, username
