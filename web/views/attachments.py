"""Uploading files in a form and downloading them from the case page.

The checks and the store are the engine's (engine.messages.attachments); this module only moves
bytes between the request and it. A file chosen in a form that then had an error is kept
as a signed token, so the person need not choose it again and cannot slip in a file of
another case by its SHA-256.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Request, abort, current_app, send_file
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import FileStorage

import engine
from engine import FormValidationError
from web.server import db
from web.views.auth import login_required
from web.views.cases import _case

bp = Blueprint("attachments", __name__)
KEPT = "__kept"
#: Shown in the page; anything else (a PDF, a Word file) is downloaded, never rendered.
INLINE = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kefu-attachment")


@bp.app_template_filter("attachment_token")
def attachment_token(value: Mapping[str, Any]) -> str:
    return _signer().dumps(dict(value))


def _kept(request: Request, name: str) -> list[dict[str, Any]]:
    out = []
    for token in request.form.getlist(name + KEPT):
        try:
            out.append(_signer().loads(token))
        except BadSignature:
            continue
    return out


def _store_all(name: str, prop: Mapping[str, Any], uploads: list[FileStorage],
               errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    kefu = db.kefu()
    _, limit = engine.messages.attachments.limits(kefu, prop)
    values = []
    for upload in uploads:
        if not upload.filename:
            continue
        try:
            content = upload.stream.read(limit + 1)
        finally:  # Werkzeug spools a large part to a temporary file
            upload.close()
        try:
            values.append(engine.attachments.store(kefu, name, prop, upload.filename, content))
        except FormValidationError as exc:
            for field, messages in exc.field_errors.items():
                errors.setdefault(field, []).extend(messages)
    return values


def receive(schema: Mapping[str, Any], request: Request, data: dict[str, Any]) -> None:
    """Store the files of the schema's attachment fields and put their values in `data`;
    raises FormValidationError naming each field whose file was refused (size, type)."""
    errors: dict[str, list[str]] = {}
    for name, (prop, many) in engine.messages.attachments.attachment_fields(schema).items():
        values = _kept(request, name) + _store_all(name, prop, request.files.getlist(name),
                                                   errors)
        if values:
            data[name] = values if many else values[-1]
    if errors:
        raise FormValidationError(errors)


def receive_one(schema: Mapping[str, Any], field: str, request: Request) -> dict[str, Any]:
    """One file for a form's field, sent alone as the part `file` (the API): its value,
    for the client to put in the form's data."""
    fields = engine.messages.attachments.attachment_fields(schema)
    if field not in fields:
        raise FormValidationError({field: ["此字段不接受文件 / this field takes no file"]})
    uploads = [u for u in request.files.getlist("file") if u.filename]
    if len(uploads) != 1:
        raise FormValidationError({field: ["请以 file 上传一个文件 / send one file as 'file'"]})
    errors: dict[str, list[str]] = {}
    values = _store_all(field, fields[field][0], uploads, errors)
    if errors:
        raise FormValidationError(errors)
    return values[0]


@bp.app_template_global()
def case_attachments(case: Any) -> list[Any]:
    return engine.messages.attachments.of_case(db.session(), case)


@bp.get("/cases/<number>/files/<sha256>")
@login_required
def download(number: str, sha256: str) -> Any:
    """Only through a case the reader may see (the same check as the case page)."""
    case = _case(number)
    row = engine.messages.attachments.find(db.session(), case, sha256)  # None for any other name
    path = engine.messages.attachments.path_of(db.kefu(), row.sha256) if row is not None else None
    if path is None or not path.is_file():
        abort(404)
    response = send_file(path, mimetype=row.media_type, download_name=row.name,
                         as_attachment=row.media_type not in INLINE, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
