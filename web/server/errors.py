"""Error pages in the reader's language, and JSON errors for the API.

Every refusal says what was wrong; the API's errors are `{code, message, fields}`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, HTTPException

from engine import (
    FormValidationError,
    KefuError,
    NotFound,
    PermissionDenied,
    RuleViolation,
    TaskConflict,
)

STATUS = {NotFound: 404, PermissionDenied: 403, TaskConflict: 409, FormValidationError: 422}


def status_of(error: KefuError) -> int:
    for cls, status in STATUS.items():
        if isinstance(error, cls):
            return status
    return 422


def api_error(status: int, code: str, message: str,
              fields: dict[str, list[str]] | None = None,
              violations: list[dict[str, Any]] | None = None) -> Any:
    """`violations` lists each broken rule of a refusal: id, sentence (zh, en) and facts."""
    body: dict[str, Any] = {"code": code, "message": message, "fields": fields or {}}
    if violations:
        body["violations"] = violations
    response = jsonify(body)
    response.status_code = status
    return response


class BadInput(BadRequest):
    """A 400 whose description says what was wrong, shown on the page as well."""


def _wants_json() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


def _messages() -> dict[int, str]:
    return {
        400: _("The request was not accepted. Reload the page and try again."),
        403: _("You may not do this."),
        404: _("Not found."),
        405: _("This action is not available here."),
        409: _("Someone else changed this first; nothing of yours was saved."),
        413: _("The upload is too large."),
        422: _("The data was not accepted."),
        500: _("Something went wrong; nothing was saved."),
    }


def _http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if _wants_json():
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large",
                415: "unsupported_media_type"}.get(status, "error")
        return _with_allow(api_error(status, code, error.description or error.name), error)
    message = _messages().get(status, error.name)
    if status >= 500 and g.get("kefu_saved"):
        message = _("What you did was saved, but this page could not be shown. Reload it.")
    detail = error.description if isinstance(error, BadInput) else None
    if error.description == "csrf":
        message = _("The form expired or did not come from Kefu. Reload the page and try "
                    "again.")
    elif error.description == "read-only":
        message = _("Auditors can read every case but change nothing.")
    page = render_template("errors.html", status=status, message=message, detail=detail)
    return _with_allow(make_response(page, status), error)


def _with_allow(response: Any, error: HTTPException) -> Any:
    """A 405 says which methods the path takes (RFC 9110 requires `Allow`)."""
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers["Allow"] = value
    return response


def kefu_api_error(error: KefuError) -> Any:
    fields = error.field_errors if isinstance(error, FormValidationError) else {}
    violations = error.as_dict()["violations"] if isinstance(error, RuleViolation) else None
    return api_error(status_of(error), error.code, str(error), fields, violations)


def _kefu_error(error: KefuError) -> Any:
    status = status_of(error)
    if _wants_json():
        return kefu_api_error(error)
    return render_template("errors.html", status=status,
                           message=_messages().get(status, ""), detail=str(error)), status


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(KefuError, _kefu_error)
