"""Process owners: every deployed process and its versions with their running cases, the
diagram of any version, and uploading BPMN, DMN or form files to check and deploy them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

import engine
from engine import DeploymentError, KefuError
from web.presentation.helpers import now
from web.presentation.i18n import bi
from web.server import db
from web.views.auth import roles_required
from web.views.cases import diagram_label

bp = Blueprint("processes", __name__, url_prefix="/processes")


@bp.get("/")
@roles_required("process_owner", "auditor")
def index() -> Any:
    return render_template("processes/list.html",
                           processes=engine.definitions.catalog.processes(db.kefu(), db.session()))


@bp.get("/<process_id>/v<int:version>")
@roles_required("process_owner", "auditor")
def version(process_id: str, version: int) -> Any:
    pv = engine.models.ProcessVersion
    row = db.session().scalar(select(pv).where(pv.process_id == process_id,
                                               pv.version == version))
    if row is None:
        abort(404)
    try:
        svg = Markup(engine.records.casefile.diagram_svg(db.session(), row, label=diagram_label))
    except KefuError as exc:
        svg, problem = None, str(exc)
    else:
        problem = None
    return render_template("processes/version.html", version=row, diagram=svg,
                           problem=problem)


def label(name: str, number: int) -> str:
    """A version as people see it: `投诉处理 第 2 版`, not `complaint v2`."""
    return f"{bi(name)} {_('v%(n)d', n=number)}"


@bp.get("/<process_id>/v<int:version>/files.zip")
@roles_required("process_owner", "auditor")
def download(process_id: str, version: int) -> Any:
    """A version's files as deployed, to open in a modeler or to deploy again."""
    try:
        row = engine.definitions.catalog.version_row(db.session(), process_id, version)
    except engine.NotFound:
        abort(404)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(row.sources.items()):
            archive.writestr(name, text)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True,
                     download_name=f"{process_id}-v{version}.zip")


@bp.post("/<process_id>/v<int:version>/rollback")
@roles_required("process_owner")
def rollback(process_id: str, version: int) -> Any:
    try:
        row = db.attempt(engine.definitions.catalog.roll_back, db.session(), process_id, version,
                         g.actor.username, now())
    except engine.NotFound:
        abort(404)
    except DeploymentError as exc:
        flash("; ".join(p.reason for p in exc.problems), "error")
        return redirect(url_for("processes.index"))
    flash(_("Rolled back: %(new)s is now the newest, the same as %(old)s; running cases "
            "stay on their versions.", new=label(row.name, row.version),
            old=label(row.name, version)), "success")
    return redirect(url_for("processes.index"))


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "process-guide.md"


@bp.get("/guide")
@roles_required("process_owner", "auditor")
def guide() -> Any:
    """The process owners' guide (docs/process-guide.md) that deploy problems link to."""
    if not GUIDE.is_file():
        abort(404)
    return GUIDE.read_text(encoding="utf-8"), 200, {"Content-Type": "text/plain; charset=utf-8"}


def _uploads() -> tuple[dict[str, str], list[engine.Problem]]:
    """Uploaded files, and the files checked a moment ago that the page kept (so a process
    owner checks, reads the result and deploys without choosing the files again)."""
    files: dict[str, str] = dict(zip(request.form.getlist("kept_name"),
                                     request.form.getlist("kept_text"), strict=False))
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
    changes: list[Any] = []
    deployed: list[tuple[Any, bool]] = []
    files: dict[str, str] = {}
    if request.method == "POST":
        files, problems = _uploads()
        if not problems:
            try:
                if request.form.get("action") == "deploy":
                    deployed = db.attempt(engine.definitions.catalog.deploy_upload, db.session(),
                                          files, g.actor.username, now(), db.kefu().settings)
                else:
                    plan = engine.definitions.catalog.check_upload(db.session(), files,
                                                                   db.kefu().settings)
                    changes = engine.definitions.catalog.changes(db.session(), files,
                                                     db.kefu().settings)
            except DeploymentError as exc:
                problems = exc.problems
        if deployed:
            changed = [label(v.name, v.version) for v, created in deployed if created]
            flash(_("Deployed: %(list)s.", list=", ".join(changed)) if changed
                  else _("Nothing changed: every process is already deployed as uploaded."),
                  "success")
            return redirect(url_for("processes.index"))
    status = 422 if problems else 200
    return render_template("processes/upload.html", problems=problems, plan=plan,
                           changes=changes, kept=files if plan else {}, label=label), status
