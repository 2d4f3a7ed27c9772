"""The case page (data, timeline, replies, deadlines, escalation, diagram with the path
taken), the printable acceptance receipt (C1) and the printable letters (C7)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, render_template
from flask_babel import gettext as _
from markupsafe import Markup

import engine
from web import db
from web.auth import login_required
from web.helpers import case_rows, due, now, step_entries, titles
from web.i18n import bi, role_name
from web.inbox import deadline_kinds
from web.security import LETTER_CSP

bp = Blueprint("cases", __name__)


def _case(number: str) -> Any:
    case = engine.case_by_number(db.session(), number)
    if case is None:
        abort(404)
    if not engine.access.may_read_case(db.session(), g.actor, case):
        abort(403)
    return case


def action_names() -> dict[str, str]:
    """History actions as people read them; an action another feature adds shows as is."""
    return {"started": _("Started"), "completed": _("Completed"), "claimed": _("Claimed"),
            "released": _("Released"), "reassigned": _("Handed on"),
            "reply_sent": _("Reply sent"), "closed": _("Closed"),
            "viewed_customer_data": _("Viewed customer data in full")}


def record_titles() -> dict[str, str]:
    """Names of the data the engine itself writes into history records."""
    return {"process": _("Process"), "version": _("Version"), "to": _("Handed on to"),
            "retain_until": _("Kept until"), "fields": _("Fields"), "purpose": _("Where"),
            "channel": _("Channel"), "sms_id": _("SMS"), "segments": _("Segments"),
            "status": _("Status"), "letter_id": _("Letter")}


def escalation_names() -> dict[int, str]:
    return {0: _("Not escalated"), 1: _("Level 1: duty shift leader"),
            2: _("Level 2: department manager")}


def diagram_label(kind: str, name: str) -> str:
    """Lanes are role ids: show the role's name; everything else its own bilingual name."""
    return role_name(name) if kind == "lane" else bi(name)


@bp.get("/cases/<number>")
@login_required
def show(number: str) -> Any:
    session = db.session()
    case = _case(number)
    file = engine.casefile.case_file(db.kefu(), session, case)
    shown = engine.disclosure.disclose(session, case, g.actor, now(), file.data, "case_page")
    svg = engine.casefile.diagram_svg(session, file.version, file.path, diagram_label)
    return render_template(
        "cases/case.html", case=case, file=file, shown=shown, data_rows=case_rows(file, shown),
        steps=step_entries(file, shown),
        history=[(r, shown.show(r.data)) for r in engine.case_history(session, case)],
        tasks=[(t, due(t.due_at)) for t in file.open_tasks],
        sms=[(m, shown.value("phone", m.phone)) for m in file.sms],
        titles=titles(case.process_version_id), diagram=Markup(svg), actions=action_names(),
        deadline_kinds=deadline_kinds(), record_titles={**record_titles(), **file.field_titles},
        escalation_names=escalation_names(),
        feedback_due=file.data.get("feedback_due"))


@bp.get("/cases/<number>/receipt")
@login_required
def receipt(number: str) -> Any:
    """The acceptance receipt (投诉受理回执): the customer's copy, so the phone is masked."""
    case = _case(number)
    workflow = engine.load_case_workflow(db.kefu(), db.session(), case)
    data = engine.disclosure.mask_data(dict(engine.case_data(workflow)))
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
