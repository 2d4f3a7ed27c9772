"""Bad input gets a clear 4xx, never a 500 (issue 12, item 5): deeply nested JSON, a lone
surrogate, unknown audit search parameters, and the API's own 404/405 under /api."""

from __future__ import annotations

import json

import pytest

import engine
from tests.complaints import INTAKE
from tests.web.conftest import text_of


def _token(kefu, username: str) -> dict[str, str]:
    with kefu.session() as s:
        return {"Authorization": f"Bearer {engine.create_token(s, username, kefu.clock.now())}"}


def test_a_deeply_nested_json_body_is_a_400_that_says_so(client, deployed) -> None:
    body = '{"process": "complaint", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post("/api/cases", data=body, content_type="application/json",
                           headers=_token(deployed, "agent01"))
    assert response.status_code == 400
    assert response.get_json()["code"] == "bad_request"
    assert "嵌套过深" in response.get_json()["message"]


def test_json_nested_beyond_the_limit_names_where(client, deployed) -> None:
    data = {"content": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    response = client.post("/api/cases", json={"process": "complaint", "data": data},
                           headers=_token(deployed, "agent01"))
    assert response.status_code == 400
    assert "nested deeper than 32 levels at data/content/0/0" in response.get_json()["message"]


@pytest.mark.parametrize("where", ["data", "process"])
def test_a_lone_surrogate_in_json_is_a_400_naming_the_field(client, deployed, where) -> None:
    body = {"process": "complaint", "data": {**INTAKE}}
    if where == "data":
        body["data"]["content"] = "话费\ud800多扣"
    else:
        body["process"] = "complaint\ud800"
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the text \ud800
    assert "\\ud800" in raw
    response = client.post("/api/cases", data=raw, content_type="application/json",
                           headers=_token(deployed, "agent01"))
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert "孤立的代理项" in message and ("data/content" if where == "data" else "process") \
        in message
    with deployed.session() as s:
        assert engine.search_cases(s, phone=INTAKE["complainant_phone"]) == []


def test_a_lone_surrogate_in_engine_form_data_is_refused_by_field(deployed, people) -> None:
    with deployed.session() as s, pytest.raises(engine.FormValidationError) as refused:
        engine.start_case(deployed, s, "complaint", people["agent01"],
                          {**INTAKE, "content": "话费\ud800多扣"})
    assert "content" in refused.value.field_errors


def test_invalid_utf8_in_a_form_is_replaced_not_a_500(client, auth, deployed) -> None:
    """Browsers send form data as bytes: a lone surrogate's UTF-8 bytes cannot be decoded,
    so the text keeps a replacement character and the case is registered."""
    from urllib.parse import urlencode

    auth.as_user("agent01")
    body = urlencode({**{k: v for k, v in INTAKE.items() if k != "content"},
                      "is_vip": "false", "csrf_token": auth.csrf()}) + "&content=%ED%A0%80"
    response = client.post("/start/complaint", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302


@pytest.mark.parametrize("parameter", ["_method=PUT", "_anchor=top", "phnoe=138"])
def test_A2_an_unknown_audit_search_parameter_is_a_400_naming_it(
        client, auth, deployed, people, parameter) -> None:
    from tests.complaints import register

    register(deployed, people["agent01"])  # a result, so the page would build export links
    auth.as_user("audit01")
    for path in ("/audit/", "/audit/export.csv"):
        response = client.get(f"{path}?all=1&{parameter}")
        assert response.status_code == 400
        page = text_of(response)
        assert "未知的查询参数" in page and parameter.split("=")[0] in page
    assert client.get("/audit/?all=1").status_code == 200


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_an_unknown_api_path_is_a_json_404_never_csrf(client, deployed, method) -> None:
    response = getattr(client, method)("/api/no/such/thing", headers=_token(deployed, "agent01"))
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("delete", "/api/cases", {"POST", "OPTIONS"}),
    ("get", "/api/cases", {"POST", "OPTIONS"}),
    ("put", "/api/tasks", {"GET", "HEAD", "OPTIONS"}),
])
def test_a_wrong_method_under_api_is_a_json_405_with_allow(
        client, deployed, method, path, allowed) -> None:
    response = getattr(client, method)(path, headers=_token(deployed, "agent01"))
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == allowed


def test_a_wrong_method_on_a_page_is_405_with_allow_not_csrf(client, auth) -> None:
    auth.as_user("agent01")
    response = client.post("/inbox")
    assert response.status_code == 405 and "Allow" in response.headers
    assert client.post("/no/such/page").status_code == 404
