"""Attachments (issue 15 item 6): evidence (C1), medical certificates (L5) and a
department's documents are uploaded in the form, checked by their content, stored by their
SHA-256 outside the database, shown to those who may see the case, purged with it (C10)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

import engine
from engine.messages.attachments import _too_big, path_of, sweep_unreferenced
from engine.persistence.notice_models import Attachment
from engine.records.retention import purge_expired
from tests.attachments import PDF, PNG, certificate_file
from tests.complaints import (
    CONTACT,
    INTAKE,
    JUSTIFIED,
    PROPOSAL,
    do,
    open_tasks,
    register,
    run_to_archive,
)
from tests.web.conftest import form, text_of
from tests.web.test_api import _token

SHA_PNG = hashlib.sha256(PNG).hexdigest()


def upload(auth, url: str, data: dict, files: dict[str, list[tuple[bytes, str]]]):
    body = dict(data)
    for name, items in files.items():
        body[name] = [(io.BytesIO(content), filename) for content, filename in items]
    return auth.post(url, body, content_type="multipart/form-data")


def number_of(response) -> str:
    return response.headers["Location"].split("/cases/")[1].split("/")[0]


def history_of(kefu, number: str, action: str = "completed"):
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return [r for r in engine.case_history(s, case) if r.action == action]


def test_C1_evidence_is_uploaded_with_the_complaint_stored_by_sha256_and_in_the_history(
        client, auth, deployed) -> None:
    auth.as_user("agent01")
    response = upload(auth, "/start/complaint", INTAKE,
                      {"evidence": [(PNG, "截图.png"), (PDF, "发票.pdf")]})
    assert response.status_code == 302, text_of(response)
    number = number_of(response)
    [intake] = history_of(deployed, number)
    assert [e["sha256"] for e in intake.data["evidence"]] == [
        SHA_PNG, hashlib.sha256(PDF).hexdigest()]  # A1: the step's record holds each hash
    assert path_of(deployed, SHA_PNG).read_bytes() == PNG  # outside the database
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "截图.png" in page and SHA_PNG in page
    got = client.get(f"/cases/{number}/files/{SHA_PNG}")
    assert got.status_code == 200 and got.data == PNG and got.mimetype == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    got.close()
    pdf = client.get(f"/cases/{number}/files/{hashlib.sha256(PDF).hexdigest()}")
    assert pdf.headers["Content-Disposition"].startswith("attachment")  # never rendered here
    pdf.close()


def test_C1_a_file_is_judged_by_its_content_not_its_name(client, auth, deployed) -> None:
    auth.as_user("agent01")
    script = b"<html><script>alert(1)</script></html>"
    response = upload(auth, "/start/complaint", INTAKE, {"evidence": [(script, "receipt.png")]})
    assert response.status_code == 422
    page = text_of(response)
    assert "文件类型不允许，只接受 JPEG、PNG、PDF" in page
    assert "尚未保存任何内容" in page
    with deployed.session() as s:
        assert s.scalar(select(Attachment.id)) is None


def test_C1_a_file_over_the_forms_limit_is_refused(client, auth, deployed) -> None:
    assert "文件过大，最大 5.0 MB" in _too_big(5 * 1024 * 1024)  # the form's own limit
    deployed.settings = replace(deployed.settings, attachment_max_bytes=40 * 1024)
    auth.as_user("agent01")  # the installation's limit is below the form's: it wins
    big = PNG + b"\0" * (40 * 1024)
    response = upload(auth, "/start/complaint", INTAKE, {"evidence": [(big, "big.png")]})
    assert response.status_code == 422
    assert "文件过大，最大 40 KB" in text_of(response)


def test_C1_a_file_kept_through_a_form_error_is_not_chosen_again(client, auth, deployed) -> None:
    auth.as_user("agent01")
    response = upload(auth, "/start/complaint", {**INTAKE, "complainant_phone": "123"},
                      {"evidence": [(PNG, "截图.png")]})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    token = html.split('name="evidence__kept" value="')[1].split('"')[0]
    again = auth.post("/start/complaint", {**INTAKE, "evidence__kept": token})
    assert again.status_code == 302
    [intake] = history_of(deployed, number_of(again))
    assert intake.data["evidence"][0]["sha256"] == SHA_PNG
    forged = auth.post("/start/complaint", {**INTAKE, "evidence__kept": token + "x"})
    assert forged.status_code == 302  # a forged token is ignored: no file, not another's
    [second] = history_of(deployed, number_of(forged))
    assert "evidence" not in second.data


def test_C1_only_those_who_may_see_the_case_get_its_files(client, auth, deployed) -> None:
    auth.as_user("agent01")
    number = number_of(upload(auth, "/start/complaint", INTAKE,
                              {"evidence": [(PNG, "截图.png")]}))
    other = number_of(auth.post("/start/complaint", INTAKE))
    auth.as_user("agent02")  # another agent, not involved in the case
    assert client.get(f"/cases/{number}/files/{SHA_PNG}").status_code == 403
    auth.as_user("agent01")  # a case that does not hold the file does not serve it
    assert client.get(f"/cases/{other}/files/{SHA_PNG}").status_code == 404
    assert client.get(f"/cases/{number}/files/..%2F..%2Fsecret_key").status_code == 404
    auth.as_user("audit01")
    seen = client.get(f"/cases/{number}/files/{SHA_PNG}")
    assert seen.status_code == 200
    seen.close()


def test_L5_medical_certificate_is_uploaded_with_sick_leave(client, auth, rostered) -> None:
    auth.as_user("agent01")
    response = upload(auth, "/start/leave", {
        "kind": "sick", "start": "2026-11-25T08:00", "end": "2026-11-26T20:00",
        "reason": "发烧", "certificate_from": "2026-11-25", "certificate_to": "2026-11-26"},
        {"certificate_file": [(PDF, "病假证明.pdf")]})
    assert response.status_code == 302, text_of(response)
    number = number_of(response)
    [request] = history_of(rostered, number)
    assert request.data["certificate_file"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    with rostered.session() as s:
        case = engine.case_by_number(s, number)
        data = engine.case_data(engine.load_case_workflow(rostered, s, case))
    assert data["certificate_required"] is False  # L5: it came with the request
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "病假证明.pdf" in page


def test_L5_certificate_form_takes_a_file_not_a_checkbox(client, auth, deployed) -> None:
    auth.as_user("agent01")
    html = client.get("/start/leave").get_data(as_text=True)
    assert 'name="certificate_file" type="file"' in html
    assert 'accept="image/jpeg,image/png,application/pdf"' in html
    assert 'name="has_certificate"' not in html and 'enctype="multipart/form-data"' in html


def test_C10_files_are_kept_with_the_case_and_purged_with_it(deployed, people) -> None:
    shared = certificate_file(deployed, PNG, "截图.png")
    only = certificate_file(deployed, PDF, "发票.pdf")
    archived = run_to_archive(deployed, people, evidence=[shared, only])
    keeps = register(deployed, people["agent02"], evidence=[shared])  # the same content
    directory = deployed.settings.attachments_dir
    with deployed.session() as s:  # C10: before the retention date nothing is touched
        assert purge_expired(s, deployed.clock.now(), "admin", attachments_dir=directory) == []
    assert path_of(deployed, only["sha256"]).exists()
    later = deployed.clock.now() + timedelta(days=3 * 366)
    with deployed.session() as s:
        purged = purge_expired(s, later, "admin", attachments_dir=directory)
    assert [p.case_number for p in purged] == [archived]
    assert not path_of(deployed, only["sha256"]).exists()  # gone with its case
    assert path_of(deployed, shared["sha256"]).exists()  # another case still holds it
    with deployed.session() as s:
        held = s.scalars(select(Attachment.case_id)).all()
        assert held == [engine.case_by_number(s, keeps).id]


def test_C1_telephony_uploads_evidence_through_the_api_then_starts_the_complaint(
        client, deployed) -> None:
    headers = _token(deployed, "agent01")
    refused = client.post("/api/processes/complaint/files/evidence", headers=headers,
                          data={"file": (io.BytesIO(b"MZ\x90\x00" * 10), "receipt.png")})
    assert refused.status_code == 422
    assert "file type not allowed" in refused.get_json()["fields"]["evidence"][0]
    sent = client.post("/api/processes/complaint/files/evidence", headers=headers,
                       data={"file": (io.BytesIO(PNG), "截图.png")})
    assert sent.status_code == 201
    value = sent.get_json()
    assert value == {"sha256": SHA_PNG, "name": "截图.png", "media_type": "image/png",
                     "size": len(PNG)}
    created = client.post("/api/cases", json={"process": "complaint",
                                              "data": {**INTAKE, "evidence": [value]}},
                          headers=headers)
    assert created.status_code == 201
    [intake] = history_of(deployed, created.get_json()["number"])
    assert intake.data["evidence"] == [value]
    unknown = dict(value, sha256="0" * 64)  # a file never uploaded cannot be named
    bad = client.post("/api/cases", json={"process": "complaint",
                                          "data": {**INTAKE, "evidence": [unknown]}},
                      headers=headers)
    assert bad.status_code == 422 and "evidence/0" in bad.get_json()["fields"]
    not_a_file = client.post("/api/processes/complaint/files/content", headers=headers,
                             data={"file": (io.BytesIO(PNG), "x.png")})
    assert not_a_file.status_code == 422
    other = _token(deployed, "bill01")  # may not start a complaint: may not upload for one
    assert client.post("/api/processes/complaint/files/evidence", headers=other,
                       data={"file": (io.BytesIO(PNG), "x.png")}).status_code == 403


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as docx:
        docx.writestr("[Content_Types].xml", "<Types/>")
        docx.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_C6_the_department_attaches_its_supporting_documents_to_the_proposal(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], JUSTIFIED)
    [task] = [t for t in open_tasks(deployed, number) if t.spec_name == "propose"]
    auth.as_user("bill01")
    response = upload(auth, f"/tasks/{task.id}", form(PROPOSAL),
                      {"supporting_documents": [(_docx(), "扣费明细.docx"), (PDF, "账单.pdf")]})
    assert response.status_code == 302, text_of(response)
    [proposal] = [r for r in history_of(deployed, number) if r.task_spec == "propose"]
    assert [d["media_type"] for d in proposal.data["supporting_documents"]] == [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/pdf"]
    auth.as_user("audit01")
    assert "扣费明细.docx" in text_of(client.get(f"/cases/{number}"))


def test_C10_an_upload_no_case_holds_is_swept_after_a_day_not_before(deployed, people) -> None:
    held = certificate_file(deployed, PNG, "截图.png")
    register(deployed, people["agent01"], evidence=[held])
    orphan = certificate_file(deployed, PDF, "没提交的.pdf")  # its form was never sent
    directory = deployed.settings.attachments_dir
    real_now = datetime.now(UTC)
    with deployed.session() as s:
        assert sweep_unreferenced(directory, s, real_now) == 0  # may be a step in progress
        assert sweep_unreferenced(directory, s, real_now + timedelta(days=2)) == 1
    assert not path_of(deployed, orphan["sha256"]).exists()
    assert path_of(deployed, held["sha256"]).exists()
