"""The JSON API for integrations (the hotline's telephony system creates complaints here).

Token authentication (`Authorization: Bearer kefu_…`, made with `kefu token create USER`):
a token acts as its person, so it can do exactly what that person could do in the inbox.
Errors are JSON: `{code, message, fields}`. The OpenAPI 3 document is /api/openapi.json.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

import engine
from engine import KefuError
from engine.people.roles import may_act
from web.presentation.helpers import now
from web.server import db
from web.server.errors import BadInput, api_error, kefu_api_error
from web.server.security import SAFE_METHODS, is_read_only
from web.views import attachments
from web.views.openapi import document

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def authenticate() -> Any:
    if request.endpoint == "api.openapi":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        response = api_error(401, "unauthorized", "Authorization: Bearer <token> is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="kefu"'
        return response
    try:
        g.actor = engine.actor_for_token(db.session(), token.strip(), now())
    except engine.PermissionDenied as exc:
        return api_error(401, "unauthorized", str(exc))
    if request.method not in SAFE_METHODS and is_read_only(g.actor):
        return api_error(403, "forbidden", "auditors can read every case but change nothing")
    return None


def _body() -> dict[str, Any] | Any:
    """A JSON body that does not parse is a 400 saying why (web.server.jsonbody): Flask's own
    `get_json` hides the reason outside debug mode."""
    if not request.is_json:
        return None
    try:
        body = current_app.json.loads(request.get_data(cache=True))
    except ValueError as exc:
        raise BadInput(f"请求体不是可接受的 JSON / the body is not acceptable JSON: {exc}") \
            from None
    if not isinstance(body, dict):
        return None
    return body


def _task_json(item: Any) -> dict[str, Any]:
    return {"id": item.id, "case": item.case.number, "process": item.process_id,
            "step": item.spec_name, "title": item.title, "role": item.role,
            "department": item.department, "candidate_user": item.candidate_user,
            "candidate_users": engine.candidates(item.candidate_user),
            "assignee": item.assignee, "created_at": item.created_at.isoformat(),
            "due_at": item.due_at.isoformat() if item.due_at else None}


def _case_json(case: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {"number": case.number, "process": case.process_id, "state": case.state,
           "category": case.category, "department": case.department, "owner": case.owner,
           "created_at": case.created_at.isoformat(),
           "closed_at": case.closed_at.isoformat() if case.closed_at else None,
           "open_tasks": [_task_json(t) for t in engine.records.casefile.case_tasks(db.session(),
                                                                             case)]}
    if data is not None:
        out["data"] = data
    return out


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(document())


@bp.post("/cases")
def start_case() -> Any:
    body = _body()
    if body is None or not isinstance(body.get("process"), str):
        return api_error(400, "bad_request", "the body must be a JSON object with 'process'",
                         {"process": ["required"]})
    data = body.get("data", {})
    if not isinstance(data, dict):
        return api_error(422, "form_invalid", "data must be an object",
                         {"data": ["must be an object"]})
    session = db.session()
    try:
        _version, first = engine.catalog.first_task_of(db.kefu(), session, body["process"])
        if not first.may_start(g.actor):
            raise engine.PermissionDenied(f"{g.actor.username} may not start "
                                          f"{body['process']!r}")
        case = db.attempt(engine.start_case, db.kefu(), session, body["process"], g.actor, data)
    except KefuError as exc:
        return kefu_api_error(exc)
    response = jsonify(_case_json(case))
    response.status_code = 201
    response.headers["Location"] = f"/api/cases/{case.number}"
    return response


@bp.post("/messages")
def deliver_message() -> Any:
    body = _body()
    if body is None or not isinstance(body.get("name"), str) or not body["name"]:
        return api_error(400, "bad_request", "the body must be a JSON object with 'name'",
                         {"name": ["required"]})
    fields = {k: ["must be an object"] for k in ("payload", "correlation")
              if not isinstance(body.get(k, {}), dict)}
    if fields:
        return api_error(400, "bad_request", "payload and correlation must be objects", fields)
    try:
        delivery = db.attempt(engine.cases.events.deliver, db.kefu(), db.session(),
                              body.get("kind", "message"), body["name"],
                              body.get("payload", {}), body.get("correlation", {}),
                              g.actor.username)
    except KefuError as exc:
        return kefu_api_error(exc)
    return jsonify(delivery.as_json())


@bp.get("/tasks")
def list_tasks() -> Any:
    session = db.session()
    mine = engine.my_tasks(session, g.actor)
    offered = engine.claimable_tasks(session, g.actor)
    return jsonify({"mine": [_task_json(t) for t in mine],
                    "claimable": [_task_json(t) for t in offered]})


def _task_or_error(task_id: str) -> Any:
    item = db.session().get(engine.models.TaskItem, task_id)
    if item is None:
        return None, api_error(404, "not_found", f"task {task_id} is not open")
    return item, None


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str) -> Any:
    item, error = _task_or_error(task_id)
    if error is not None:
        return error
    try:
        db.attempt(engine.claim_task, db.kefu(), db.session(), task_id, g.actor)
    except KefuError as exc:
        return kefu_api_error(exc)
    return jsonify(_task_json(item))


@bp.post("/tasks/<task_id>/complete")
def complete(task_id: str) -> Any:
    item, error = _task_or_error(task_id)
    if error is not None:
        return error
    body = _body()
    if body is None or not isinstance(body.get("data"), dict):
        return api_error(400, "bad_request", "the body must be a JSON object with 'data'",
                         {"data": ["required"]})
    try:
        case = db.attempt(engine.complete_task, db.kefu(), db.session(), task_id, g.actor,
                          body["data"])
    except KefuError as exc:
        return kefu_api_error(exc)
    return jsonify(_case_json(case))


@bp.post("/tasks/<task_id>/files/<field>")
def upload_for_task(task_id: str, field: str) -> Any:
    """A file for a field of the task's form; the answer is the value to put in `data`."""
    item, error = _task_or_error(task_id)
    if error is not None:
        return error
    if not may_act(g.actor, item.role, item.department, item.candidate_user, item.assignee):
        return api_error(403, "forbidden", f"{g.actor.username} may not do task {item.title!r}")
    schema = db.kefu().version(db.session(), item.case.process_version_id).forms[item.form]
    return _uploaded(schema, field)


@bp.post("/processes/<process>/files/<field>")
def upload_for_start(process: str, field: str) -> Any:
    """A file for a field of a process's first form, before `POST /api/cases`."""
    try:
        version, first = engine.definitions.catalog.first_task_of(db.kefu(), db.session(), process)
    except engine.NotFound:
        return api_error(404, "not_found", f"process {process} is not deployed")
    if not first.may_start(g.actor):
        return api_error(403, "forbidden", f"{g.actor.username} may not start {process}")
    return _uploaded(db.kefu().version(db.session(), version.id).forms[first.form], field)


def _uploaded(schema: dict[str, Any], field: str) -> Any:
    try:
        value = attachments.receive_one(schema, field, request)
    except KefuError as exc:
        return kefu_api_error(exc)
    return jsonify(value), 201


def _readable_case(number: str) -> Any:
    session = db.session()
    case = engine.case_by_number(session, number)
    if case is None:
        return None, api_error(404, "not_found", f"case {number} does not exist")
    if not engine.records.access.may_read_case(session, g.actor, case):
        return None, api_error(403, "forbidden", f"{g.actor.username} may not read {number}")
    return case, None


@bp.get("/cases/<number>")
def read_case(number: str) -> Any:
    case, error = _readable_case(number)
    if error is not None:
        return error
    session = db.session()
    file = engine.records.casefile.case_file(db.kefu(), session, case)
    shown = engine.records.disclosure.disclose(session, case, g.actor, now(), file.data, "api")
    return jsonify(_case_json(case, shown.show(file.data)))


@bp.get("/cases/<number>/history")
def read_history(number: str) -> Any:
    case, error = _readable_case(number)
    if error is not None:
        return error
    session = db.session()
    records = list(engine.case_history(session, case))
    shown = engine.records.disclosure.disclose(session, case, g.actor, now(),
                                       {str(r.seq): r.data for r in records}, "api")
    return jsonify({"case": case.number, "records": [
        {"seq": r.seq, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
         "step": r.task_spec, "title": r.task_title, "data": shown.show(r.data),
         "hash": r.hash} for r in records]})
