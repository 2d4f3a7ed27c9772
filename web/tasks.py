"""Doing a task: its form (rendered from the task's JSON Schema), the case so far, and the
claim, release and reassign actions; and starting a case of any process one may start."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

import engine
from engine import FormValidationError, KefuError, PermissionDenied, TaskConflict
from engine.roles import may_act
from web import db
from web.auth import login_required
from web.display import person
from web.forms import fields_for, form_errors, parse
from web.helpers import due, now, titles
from web.i18n import bi

bp = Blueprint("tasks", __name__)


def zone() -> ZoneInfo:
    return ZoneInfo(db.kefu().settings.timezone)


def _task(task_id: str) -> Any:
    item = db.session().get(engine.models.TaskItem, task_id)
    if item is None:
        flash(_("This task is no longer open: someone completed it first."), "warning")
        abort(redirect(url_for("inbox.index")))
    return item


def _offered(item: Any) -> bool:
    return may_act(g.actor, item.role, item.department, item.candidate_user, item.assignee)


def _schema(version_id: int, form: str) -> dict[str, Any]:
    return db.kefu().version(db.session(), version_id).forms[form]


def _case_so_far(case: Any) -> tuple[list[tuple[str, str, Any]], Any]:
    """The case data as (field, title, value) rows, masked unless the reader handles it."""
    session = db.session()
    file = engine.casefile.case_file(db.kefu(), session, case)
    shown = engine.disclosure.disclose(session, case, g.actor, now(), file.data, "task")
    rows = [(name, file.field_titles.get(name, name), value)
            for name, value in shown.show(file.data).items()
            if name in file.field_titles and value not in (None, "", [])]
    return rows, file


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str) -> Any:
    item = _task(task_id)
    if not _offered(item):
        abort(403)
    schema = _schema(item.case.process_version_id, item.form)
    errors: dict[str, list[str]] = {}
    problem = None
    if request.method == "POST":
        data = parse(schema, request.form, zone())
        try:
            db.attempt(engine.complete_task, db.kefu(), db.session(), item.id, g.actor, data)
        except FormValidationError as exc:
            errors = exc.field_errors
        except TaskConflict:
            flash(_("This task is no longer open: someone completed it first."), "warning")
            return redirect(url_for("inbox.index"))
        except PermissionDenied:
            abort(403)
        except KefuError as exc:
            problem = str(exc)
        else:
            flash(_("Done: %(task)s, case %(number)s.", task=bi(item.title),
                    number=item.case.number), "success")
            return redirect(url_for("inbox.index"))
        item = _task(task_id)
        values: dict[str, Any] = dict(request.form)
        values.update(data)
    else:
        values = {}
    rows, file = _case_so_far(item.case)
    if request.method == "GET":
        values = {k: v for k, v in file.data.items() if k in schema.get("properties", {})}
    status = 422 if errors or problem else 200
    return render_template(
        "tasks/task.html", item=item, case=item.case, schema=schema,
        fields=fields_for(schema, values, errors, zone()), top_errors=form_errors(errors, schema),
        problem=problem, rows=rows, titles=titles(item.case.process_version_id),
        due=due(item.due_at), held=item.assignee == g.actor.username), status


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str) -> Any:
    item = _task(task_id)
    try:
        db.attempt(engine.claim_task, db.kefu(), db.session(), item.id, g.actor)
    except PermissionDenied:
        abort(403)
    except TaskConflict as exc:
        flash(_("Could not claim: %(reason)s", reason=str(exc)), "warning")
        return redirect(url_for("inbox.index"))
    flash(_("Claimed: %(task)s.", task=bi(item.title)), "success")
    return redirect(request.form.get("next") == "task" and url_for("tasks.task", task_id=item.id)
                    or url_for("inbox.index"))


@bp.post("/tasks/<task_id>/release")
@login_required
def release(task_id: str) -> Any:
    item = _task(task_id)
    try:
        db.attempt(engine.release_task, db.kefu(), db.session(), item.id, g.actor)
    except PermissionDenied:
        abort(403)
    flash(_("Released: %(task)s.", task=bi(item.title)), "info")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<task_id>/reassign")
@login_required
def reassign(task_id: str) -> Any:
    item = _task(task_id)
    session = db.session()
    team = engine.team_of(session, g.person)
    try:
        to = engine.find_actor(session, request.form.get("to", ""))
        db.attempt(engine.reassign_task, db.kefu(), session, item.id, g.actor, to, team)
    except (PermissionDenied, engine.NotFound):
        abort(403)
    flash(_("Handed on to %(user)s: %(task)s.", user=person(to.username),
            task=bi(item.title)), "success")
    return redirect(url_for("inbox.index"))


@bp.get("/start")
@login_required
def start_list() -> Any:
    startable = engine.catalog.startable(db.kefu(), db.session(), g.actor)
    return render_template("tasks/start_list.html", startable=startable)


@bp.route("/start/<process_id>", methods=["GET", "POST"])
@login_required
def start(process_id: str) -> Any:
    session = db.session()
    try:
        version, first = engine.catalog.first_task_of(db.kefu(), session, process_id)
    except engine.NotFound:
        abort(404)
    if not first.may_start(g.actor):
        abort(403)
    schema = _schema(version.id, first.form)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    problem = None
    if request.method == "POST":
        data = parse(schema, request.form, zone())
        try:
            case = db.attempt(engine.start_case, db.kefu(), session, process_id, g.actor, data)
        except FormValidationError as exc:
            errors = exc.field_errors
        except PermissionDenied:
            abort(403)
        except KefuError as exc:
            problem = str(exc)
        else:
            flash(_("Case %(number)s registered.", number=case.number), "success")
            return redirect(url_for("cases.receipt", number=case.number)
                            if _has_receipt(case) else url_for("cases.show", number=case.number))
        values = {**dict(request.form), **data}
    status = 422 if errors or problem else 200
    return render_template(
        "tasks/start.html", version=version, first=first, schema=schema,
        fields=fields_for(schema, values, errors, zone()), top_errors=form_errors(errors, schema),
        problem=problem), status


def _has_receipt(case: Any) -> bool:
    workflow = engine.load_case_workflow(db.kefu(), db.session(), case)
    return bool(engine.case_data(workflow).get("receipt_issued"))
