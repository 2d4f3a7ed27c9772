"""The case page (data, timeline, replies, deadlines, escalation, diagram with the path
taken), the printable acceptance receipt (C1) and the printable letters (C7)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, render_template
from markupsafe import Markup

import engine
from engine.definitions.diagram import NoDiagram
from web.presentation.display import folded, role_name
from web.presentation.helpers import case_rows, due, now, step_entries, titles
from web.presentation.i18n import bi
from web.server import db
from web.server.security import LETTER_CSP
from web.views.auth import login_required

bp = Blueprint("cases", __name__)


def _case(number: str) -> Any:
    case = engine.case_by_number(db.session(), number)
    if case is None:
        abort(404)
    if not engine.records.access.may_read_case(db.session(), g.actor, case):
        abort(403)
    return case


def diagram_label(kind: str, name: str) -> str:
    """Lanes are role ids: show the role's name; everything else its own bilingual name."""
    return role_name(name) if kind == "lane" else bi(name)


@bp.get("/cases/<number>")
@login_required
def show(number: str) -> Any:
    session = db.session()
    case = _case(number)
    file = engine.records.casefile.case_file(db.kefu(), session, case)
    shown = engine.disclosure.disclose(session, case, g.actor, now(), file.data, "case_page")
    try:
        svg, no_diagram = Markup(engine.records.casefile.diagram_svg(
            session, file.version, file.path, diagram_label)), None
    except NoDiagram as exc:
        svg, no_diagram = None, str(exc)
    return render_template(
        "cases/case.html", case=case, file=file, shown=shown, data_rows=case_rows(file, shown),
        steps=step_entries(file, shown),
        history=folded((r, shown.show(r.data)) for r in engine.case_history(session, case)),
        tasks=[(t, due(t.due_at)) for t in file.open_tasks],
        sms=[(m, shown.value("phone", m.phone)) for m in file.sms],
        titles=titles(case.process_version_id), diagram=svg, no_diagram=no_diagram,
        feedback_due=file.data.get("feedback_due"))


@bp.get("/cases/<number>/receipt")
@login_required
def receipt(number: str) -> Any:
    """The acceptance receipt (投诉受理回执): the customer's copy, so the phone is masked."""
    case = _case(number)
    workflow = engine.load_case_workflow(db.kefu(), db.session(), case)
    data = engine.records.disclosure.mask_data(dict(engine.case_data(workflow)))
    if not data.get("receipt_issued"):
        abort(404)
    return render_template("cases/receipt.html", case=case, data=data,
                           titles=titles(case.process_version_id))


@bp.get("/cases/<number>/letters/<int:letter_id>")
@login_required
def letter(number: str, letter_id: int) -> Any:
    case = _case(number)
    row = db.session().get(engine.models.Letter, letter_id)
    if row is None or row.case_id != case.id:
        abort(404)
    response = Response(row.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = LETTER_CSP
    return response
