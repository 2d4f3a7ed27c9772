"""Process owners: deployed processes and versions with running cases, uploading files to
check and deploy them, errors with line numbers, and any version's diagram (issue 5)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tests.complaints import register
from tests.web.conftest import text_of

ROOT = Path(__file__).resolve().parents[2]


def _upload(auth, files: dict[str, str], action: str):
    data = {"action": action, "files": [(io.BytesIO(text.encode()), name)
                                        for name, text in files.items()]}
    return auth.post("/processes/upload", data, content_type="multipart/form-data")


def _changed_contact_form() -> str:
    form = json.loads((ROOT / "forms" / "complaint_contact.json").read_text(encoding="utf-8"))
    form["properties"]["contact_notes"]["maxLength"] = 3000
    return json.dumps(form, ensure_ascii=False)


def test_processes_list_versions_with_running_cases(client, auth, deployed, people) -> None:
    register(deployed, people["agent01"])
    register(deployed, people["agent02"])
    auth.as_user("owner01")
    html = client.get("/processes/").get_data(as_text=True)
    complaint = html.split("<small><code>complaint</code></small>")[1].split("</section>")[0]
    assert '<td data-label="处理中案件" class="num">2</td>' in complaint
    assert "发起角色：业务代表（受理投诉）" in text_of_html(complaint)


def text_of_html(html: str) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_check_only_validates_without_deploying(client, auth, deployed) -> None:
    auth.as_user("owner01")
    response = _upload(auth, {"complaint_contact.json": _changed_contact_form()}, "check")
    assert response.status_code == 200
    page = text_of(response)
    assert "文件校验通过" in page and "投诉处理 complaint : 将成为新版本" in page
    assert "第 2 版" not in text_of(client.get("/processes/"))


def test_uploaded_form_deploys_a_new_version_and_running_cases_stay(
        client, auth, deployed, people) -> None:
    register(deployed, people["agent01"])
    auth.as_user("owner01")
    response = _upload(auth, {"complaint_contact.json": _changed_contact_form()}, "deploy")
    assert response.status_code == 302
    html = client.get("/processes/").get_data(as_text=True)
    assert "已部署：投诉处理 第 2 版" in text_of_html(html)
    v2 = html.split("第 2 版")[-1].split("</tr>")[0]  # after the flash that names it
    v1 = html.split("第 1 版")[1].split("</tr>")[0]
    assert 'class="num">0<' in v2 and 'class="num">1<' in v1  # the case stays on v1
    again = _upload(auth, {"complaint_contact.json": _changed_contact_form()}, "deploy")
    assert "没有变化" in text_of(client.get(again.headers["Location"]))


def test_a_bad_file_is_refused_with_file_line_and_element(client, auth, deployed) -> None:
    bpmn = (ROOT / "processes" / "complaint.bpmn").read_text(encoding="utf-8")
    bad_lane = bpmn.replace('<bpmn:lane id="lane_dept_head" name="dept_head">',
                            '<bpmn:lane id="lane_dept_head" name="boss">')
    auth.as_user("owner01")
    response = _upload(auth, {"complaint.bpmn": bad_lane}, "deploy")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "未部署：" in text_of(response) and "泳道 &#39;boss&#39; 既不是角色也不是部门" in html
    row = html.split("既不是角色也不是部门")[0].rsplit("<tr>", 1)[1]
    line = next(n for n, text in enumerate(bad_lane.splitlines(), start=1)
                if 'name="boss"' in text)
    assert "complaint.bpmn" in row and f'class="num">{line}<' in row
    assert 'class="mono">lane_dept_head<' in row
    broken = _upload(auth, {"complaint_judge.json": '{"type": "object",\n  "title": }'},
                     "check")
    assert broken.status_code == 422
    assert 'data-label="行" class="num">2<' in broken.get_data(as_text=True)
    assert "第 2 版" not in text_of(client.get("/processes/"))


def test_only_bpmn_dmn_and_form_files_are_accepted(client, auth, deployed) -> None:
    auth.as_user("owner01")
    response = _upload(auth, {"evil.py": "print(1)"}, "check")
    assert response.status_code == 422 and "evil.py" in text_of(response)
    assert _upload(auth, {}, "check").status_code == 422


def test_any_versions_diagram_is_shown(client, auth, deployed) -> None:
    auth.as_user("owner01")
    html = client.get("/processes/complaint/v1").get_data(as_text=True)
    assert "<svg" in html and 'data-id="intake"' in html and "受理投诉" in html
    assert client.get("/processes/complaint/v9").status_code == 404


def test_only_process_owners_upload(client, auth, deployed) -> None:
    auth.as_user("agent01")
    assert client.get("/processes/").status_code == 403
    assert client.get("/processes/upload").status_code == 403
    auth.as_user("audit01")
    assert client.get("/processes/").status_code == 200  # auditors trace paths (A2)
    assert client.get("/processes/upload").status_code == 403


def test_check_shows_a_readable_diff_and_deploys_the_kept_files_in_one_step(
        client, auth, deployed, people) -> None:
    register(deployed, people["agent01"])
    auth.as_user("owner01")
    form = json.loads(_changed_contact_form())
    form["properties"]["contact_notes"]["title"] = "联系记录（新）/ Contact notes (new)"
    response = _upload(auth, {"complaint_contact.json": json.dumps(form, ensure_ascii=False)},
                       "check")
    page = text_of(response)
    assert "投诉处理 第 2 版" in page
    assert "1 个处理中的案件仍按开始时的版本进行" in page
    field = "表单 / form complaint_contact.json 字段 / field contact_notes"
    assert f"+ {field} 「联系记录（新）" in page
    assert "− 表单 / form complaint_contact.json 字段 / field contact_notes" in page
    html = response.get_data(as_text=True)
    assert 'name="kept_name" value="complaint_contact.json"' in html
    kept = html.split('name="kept_text" value="')[1].split('"')[0]
    deployed_now = auth.post("/processes/upload", {
        "action": "deploy", "kept_name": "complaint_contact.json",
        "kept_text": json.dumps(form, ensure_ascii=False)})
    assert deployed_now.status_code == 302 and kept  # no file chosen again
    assert "已部署：投诉处理 第 2 版" in text_of(client.get("/processes/"))


def test_download_a_version_and_roll_back_to_it(client, auth, deployed) -> None:
    import zipfile

    auth.as_user("owner01")
    _upload(auth, {"complaint_contact.json": _changed_contact_form()}, "deploy")
    archive = client.get("/processes/complaint/v1/files.zip")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert "complaint.bpmn" in names and "complaint_contact.json" in names
    original = zipfile.ZipFile(io.BytesIO(archive.data)).read("complaint_contact.json")
    assert b"3000" not in original
    back = auth.post("/processes/complaint/v1/rollback", {})
    assert back.status_code == 302
    page = text_of(client.get("/processes/"))
    assert "已回滚：投诉处理 第 3 版 现为最新版本，与 投诉处理 第 1 版 相同" in page
    v3 = zipfile.ZipFile(io.BytesIO(client.get("/processes/complaint/v3/files.zip").data))
    assert v3.read("complaint_contact.json") == original
    assert auth.post("/processes/complaint/v3/rollback", {}).status_code == 302
    assert "无需回滚" in text_of(client.get("/processes/"))


def test_uploading_an_earlier_versions_files_is_checked_as_a_new_version(
        client, auth, deployed) -> None:
    auth.as_user("owner01")
    _upload(auth, {"complaint_contact.json": _changed_contact_form()}, "deploy")
    original = (ROOT / "forms" / "complaint_contact.json").read_text(encoding="utf-8")
    page = text_of(_upload(auth, {"complaint_contact.json": original}, "check"))
    assert "投诉处理 complaint : 将成为新版本" in page and "投诉处理 第 3 版" in page


def test_a_process_the_dry_run_refuses_is_shown_in_the_readers_language_only(
        client, auth, deployed) -> None:
    """Issue 14: the gateway reads `priority`, which no form asks for; the page names file,
    line and element, and the reason and fix in one language, with the guide's section."""
    data = ROOT / "tests" / "data" / "modeler"
    files = {name: (data / name).read_text(encoding="utf-8")
             for name in ("dry_run_unknown_variable.bpmn", "approve.json")}
    auth.as_user("owner01")
    chinese = _upload(auth, files, "check")
    assert chinese.status_code == 422
    html = chinese.get_data(as_text=True)
    row = html.split("的条件出错")[0].rsplit("<tr>", 1)[1]
    assert "dry_run_unknown_variable.bpmn" in row and 'class="num">6<' in row
    assert 'class="mono">urgent<' in row
    assert "网关「urgent」的条件出错" in html and "只用表单字段" in html
    assert "a condition of gateway" not in html and "use only variables" not in html
    assert 'href="/processes/guide#conditions"' in html
    auth.post("/language", {"lang": "en", "next": "/processes/upload"})
    english = _upload(auth, files, "deploy").get_data(as_text=True)
    assert "a condition of gateway “urgent” fails" in english and "use only variables" in english
    assert "网关「urgent」" not in english and "只用表单字段" not in english
    assert "dry_run_unknown_variable" not in text_of(client.get("/processes/"))
