"""Process owners: every deployed process and its versions with their running cases, the
diagram of any version, and uploading BPMN, DMN or form files to check and deploy them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

import engine
from engine import DeploymentError, KefuError
from web import db
from web.auth import roles_required
from web.cases import diagram_label
from web.helpers import now

bp = Blueprint("processes", __name__, url_prefix="/processes")


@bp.get("/")
@roles_required("process_owner", "auditor")
def index() -> Any:
    return render_template("processes/list.html",
                           processes=engine.catalog.processes(db.kefu(), db.session()))


@bp.get("/<process_id>/v<int:version>")
@roles_required("process_owner", "auditor")
def version(process_id: str, version: int) -> Any:
    pv = engine.models.ProcessVersion
    row = db.session().scalar(select(pv).where(pv.process_id == process_id,
                                               pv.version == version))
    if row is None:
        abort(404)
    try:
        svg = Markup(engine.casefile.diagram_svg(db.session(), row, label=diagram_label))
    except KefuError as exc:
        svg, problem = None, str(exc)
    else:
        problem = None
    return render_template("processes/version.html", version=row, diagram=svg,
                           problem=problem)


def _uploads() -> tuple[dict[str, str], list[engine.Problem]]:
    files: dict[str, str] = {}
    problems: list[engine.Problem] = []
    for upload in request.files.getlist("files"):
        if not upload or not upload.filename:
            continue
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
        try:
            files[name] = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            problems.append(engine.Problem(file=name, reason=_("not UTF-8 text")))
    if not files and not problems:
        problems.append(engine.Problem(file="-", reason=_("choose at least one file")))
    return files, problems


@bp.route("/upload", methods=["GET", "POST"])
@roles_required("process_owner")
def upload() -> Any:
    problems: list[engine.Problem] = []
    plan: list[tuple[Any, bool]] = []
    deployed: list[tuple[Any, bool]] = []
    names: list[str] = []
    if request.method == "POST":
        files, problems = _uploads()
        names = sorted(files)
        if not problems:
            try:
                if request.form.get("action") == "deploy":
                    deployed = db.attempt(engine.catalog.deploy_upload, db.session(), files,
                                          g.actor.username, now())
                else:
                    plan = engine.catalog.check_upload(db.session(), files)
            except DeploymentError as exc:
                problems = exc.problems
        if deployed:
            changed = [f"{v.process_id} v{v.version}" for v, created in deployed if created]
            flash(_("Deployed: %(list)s.", list=", ".join(changed)) if changed
                  else _("Nothing changed: every process is already deployed as uploaded."),
                  "success")
            return redirect(url_for("processes.index"))
    status = 422 if problems else 200
    return render_template("processes/upload.html", problems=problems, plan=plan,
                           names=names), status
