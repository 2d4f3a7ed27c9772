"""Doing a task: its form (rendered from the task's JSON Schema), the case so far, and the
claim, release and reassign actions; and starting a case of any process one may start."""

from __future__ import annotations

import hashlib
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

import engine
from engine import FormValidationError, KefuError, PermissionDenied, TaskConflict
from engine.people.roles import may_act
from web.presentation.display import person
from web.presentation.forms import fields_for, form_errors, parse
from web.presentation.helpers import case_rows, due, now, step_entries, titles
from web.presentation.i18n import bi
from web.server import db
from web.server.once import earlier_result, once
from web.views import attachments
from web.views.auth import login_required
from web.views.roster import choices

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


def _case_so_far(case: Any) -> tuple[Any, Any]:
    """The case, masked unless the reader handles it: (rows, step entries, file)."""
    session = db.session()
    file = engine.records.casefile.case_file(db.kefu(), session, case)
    shown = engine.records.disclosure.disclose(session, case, g.actor, now(), file.data, "task")
    return (case_rows(file, shown), step_entries(file, shown)), file


def _digest(preview: Any) -> str:
    """What the person saw, so that only a reply they checked is sent."""
    text = "\x00".join(f"{r.channel}\x00{r.text}" for r in preview.replies)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _preview(item: Any, data: dict[str, Any]) -> Any:
    return engine.messages.reply_preview.preview_reply(db.kefu(), db.session(), item.id, data)


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str) -> Any:
    """A reply step (C7) first shows the exact SMS or letter it would send; it is sent only
    when the person confirms the very text they saw (`reply_digest`)."""
    repeated = earlier_result()
    if repeated is not None:
        return repeated
    item = _task(task_id)
    if not _offered(item):
        abort(403)
    schema = _schema(item.case.process_version_id, item.form)
    errors: dict[str, list[str]] = {}
    problem = notice = None
    preview = None
    typed: dict[str, Any] = {}
    if request.method == "POST":
        data = parse(schema, request.form, zone())
        typed = {**dict(request.form), **data}
        seen = request.form.get("reply_digest")
        # In the query too: a script that disables the pressed button drops its value.
        wants_preview = "preview" in (request.form.get("action"), request.args.get("do"))
        try:
            attachments.receive(schema, request, data)
            preview = _preview(item, data)  # None: the step sends no reply
            confirmed = preview is None or (not wants_preview
                                            and seen == _digest(preview))
            if confirmed:
                target = db.attempt(once, lambda: _completed(item, data))
        except FormValidationError as exc:
            errors, preview = exc.field_errors, None
        except TaskConflict:
            flash(_("This task is no longer open: someone completed it first."), "warning")
            return redirect(url_for("inbox.index"))
        except PermissionDenied:
            abort(403)
        except KefuError as exc:
            problem, preview = str(exc), None
        else:
            if confirmed:
                return redirect(target)
            if seen and not wants_preview:
                notice = _("The text changed after your preview: check it again, then "
                           "confirm.")
        item = _task(task_id)
    (rows, steps), file = _case_so_far(item.case)
    values = {**engine.cases.steps.form_values(schema, item.spec_name, file.data, file.submissions),
              **typed}
    return render_template(
        "tasks/task.html", item=item, case=item.case, schema=schema,
        fields=fields_for(schema, values, errors, zone(), choices(schema, values)),
        top_errors=form_errors(errors, schema), problem=problem, notice=notice, rows=rows,
        steps=steps,
        titles=titles(item.case.process_version_id), due=due(item.due_at),
        held=item.assignee == g.actor.username, preview=preview,
        reply_digest=_digest(preview) if preview else "",
        sends_reply=engine.messages.reply_preview.sends_reply(db.kefu(), db.session(), item.id),
    ), 422 if errors or problem else 200


def _completed(item: Any, data: dict[str, Any]) -> str:
    """Complete the task; where the person goes next."""
    engine.complete_task(db.kefu(), db.session(), item.id, g.actor, data)
    flash(_("Done: %(task)s, case %(number)s.", task=bi(item.title), number=item.case.number),
          "success")
    return url_for("inbox.index")


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
    startable = engine.definitions.catalog.startable(db.kefu(), db.session(), g.actor)
    return render_template("tasks/start_list.html", startable=startable)


@bp.route("/start/<process_id>", methods=["GET", "POST"])
@login_required
def start(process_id: str) -> Any:
    repeated = earlier_result()
    if repeated is not None:
        return repeated
    session = db.session()
    try:
        version, first = engine.definitions.catalog.first_task_of(db.kefu(), session, process_id)
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
            attachments.receive(schema, request, data)
            target = db.attempt(once, lambda: _started(process_id, data))
        except FormValidationError as exc:
            errors = exc.field_errors
        except PermissionDenied:
            abort(403)
        except KefuError as exc:
            problem = str(exc)
        else:
            return redirect(target)
        values = {**dict(request.form), **data}
    status = 422 if errors or problem else 200
    return render_template(
        "tasks/start.html", version=version, first=first, schema=schema,
        fields=fields_for(schema, values, errors, zone(), choices(schema, values)),
        top_errors=form_errors(errors, schema), problem=problem), status


def _started(process_id: str, data: dict[str, Any]) -> str:
    """Start the case; where its receipt (or its page) is shown."""
    case = engine.start_case(db.kefu(), db.session(), process_id, g.actor, data)
    flash(_("Case %(number)s registered.", number=case.number), "success")
    return url_for("cases.receipt", number=case.number) if _has_receipt(case) \
        else url_for("cases.show", number=case.number)


def _has_receipt(case: Any) -> bool:
    workflow = engine.load_case_workflow(db.kefu(), db.session(), case)
    return bool(engine.case_data(workflow).get("receipt_issued"))
