"""Auditors (A2): search cases, export a result or one case's full history as CSV, and see
the result of the history-chain check. Auditors open cases on the ordinary (read-only for
them) case page; every write route refuses them on the server (web.server.security)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, g, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

import engine
from web.presentation.display import action, department, person, record_rows, state, text, when
from web.presentation.helpers import now, process_names, titles
from web.presentation.i18n import bi
from web.server import db
from web.server.errors import BadInput
from web.views.auth import roles_required
from web.views.worklists import category_codes

bp = Blueprint("audit", __name__, url_prefix="/audit")
FIELDS = ("number", "phone", "category", "department", "state", "process")
PARAMETERS = frozenset({*FIELDS, "date_from", "date_to", "all"})
#: A cell starting with one of these is a formula to a spreadsheet: customers' text is not;
#: spreadsheets skip leading blanks and line breaks first, so the guard does too.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BLANKS = " \t\r\n\u3000\u00a0"


def _criteria(errors: dict[str, str]) -> Any:
    """The search's fields: a phone number comes only in a POST body, so that a customer's
    full number never stands in a URL, an access log or a browser's history (C12)."""
    if request.method == "POST":
        return request.form
    if request.args.get("phone"):
        errors["phone"] = _("Search by phone with the form: a phone number is never put in "
                            "a web address.")
    return request.args


def _date(given: Any, name: str, errors: dict[str, str]) -> datetime | None:
    raw = given.get(name, "").strip()
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time(0), zone)


def _search() -> tuple[list[Any], dict[str, str], dict[str, str]]:
    unknown = sorted(set(request.args) - PARAMETERS)
    if unknown:  # a typo'd criterion must not silently widen the search (or break a link)
        raise BadInput(_("Unknown search parameter: %(names)s. Kefu searches by: "
                         "%(known)s.", names=", ".join(unknown),
                         known=", ".join(sorted(PARAMETERS))))
    errors: dict[str, str] = {}
    given = _criteria(errors)
    criteria = {k: given.get(k, "").strip() for k in FIELDS}
    start = _date(given, "date_from", errors)
    end = _date(given, "date_to", errors)
    if end is not None:
        end += timedelta(days=1)  # the whole last day
    if errors or not any(criteria.values()) and not (start or end) \
            and "all" not in given:
        return [], criteria, errors
    cases = engine.search_cases(
        db.session(), number=criteria["number"] or None, phone=criteria["phone"] or None,
        category=_category_code(criteria["category"]), department=criteria["department"] or None,
        state=criteria["state"] or None, process_id=criteria["process"] or None,
        created_from=start, created_to=end)
    return list(cases), criteria, errors


@bp.route("/", methods=["GET", "POST"])
@roles_required("auditor")
def search() -> Any:
    cases, criteria, errors = _search()
    department = engine.models.Department
    departments = db.session().scalars(select(department).order_by(department.code)).all()
    given = request.form if request.method == "POST" else request.args
    return render_template(
        "audit/search.html", cases=cases, criteria=criteria, errors=errors,
        args={k: v for k, v in given.items() if k != "csrf_token"},
        processes=process_names(), departments=departments, mask=engine.records.disclosure.mask,
        category_titles=_category_titles(cases), searched=bool(request.values)
    ), 400 if "phone" in errors else 200


def _category_code(typed: str) -> str | None:
    """The category as typed: its code, or its label (资费 finds `fee`)."""
    codes = category_codes(typed) if typed else set()
    return next(iter(codes)) if len(codes) == 1 else (typed or None)


def _category_titles(cases: list[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for version_id in {c.process_version_id for c in cases}:
        out.update(titles(version_id).get("category", {}))
    return out


def _csv(rows: list[list[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    formula = text.startswith(FORMULA_START) or text.lstrip(_BLANKS).startswith(FORMULA_START)
    return "'" + text if formula else text


@bp.route("/export.csv", methods=["GET", "POST"])
@roles_required("auditor")
def export() -> Any:
    """The search result as CSV; phone numbers masked (a list needs no full number, C12)."""
    cases, _criteria, errors = _search()
    if errors:
        abort(400)
    names = process_names()
    rows = [[_("Case number"), _("Process"), _("State"), _("Category"), _("Department"),
             _("Customer phone"), _("Title"), _("Owner"), _("Opened"), _("Closed")]]
    for case in cases:
        rows.append([case.number, bi(names.get(case.process_id, case.process_id)),
                     state(case.state), text(_category_titles([case]).get(case.category or "",
                                                                     case.category)),
                     department(case.department),
                     engine.records.disclosure.mask(case.complainant_phone or ""), case.title,
                     person(case.owner), when(case.created_at, year=True),
                     when(case.closed_at, year=True)])
    return _csv(rows, f"kefu-cases-{now():%Y%m%d%H%M}.csv")


@bp.get("/cases/<number>/history.csv")
@roles_required("auditor")
def history(number: str) -> Any:
    """One case's full history (A1): who, when, what and the data entered, unmasked for the
    auditor, and the export itself is recorded as a full view (C12)."""
    session = db.session()
    case = engine.case_by_number(session, number)
    if case is None:
        abort(404)
    if not engine.records.access.may_read_case(session, g.actor, case):
        abort(403)
    records = list(engine.case_history(session, case))
    everything = {f"{r.seq}": r.data for r in records}
    engine.records.disclosure.disclose(session, case, g.actor, now(), everything, "export")
    rows = [[_("No."), _("Time"), _("Who"), _("Action"), _("Step"), _("Data"), _("Hash")]]
    options = titles(case.process_version_id)
    fields = engine.records.casefile.field_titles(db.kefu(), session, case.process_version_id)
    for r in records:
        data = "；".join(f"{title}：{v if isinstance(v, str) else '、'.join(map(str, v))}"
                        for title, v in record_rows(r, r.data, options, fields))
        rows.append([r.seq, when(r.at, seconds=True, year=True), person(r.actor),
                     action(r.action), text(r.task_title), data, r.hash])
    return _csv(rows, f"kefu-{case.number}-history.csv")


@bp.get("/verify")
@roles_required("auditor")
def verify() -> Any:
    """`kefu audit verify`, run now: every case's hash chain checked."""
    count, findings = engine.verify_all(db.session())
    return render_template("audit/verify.html", count=count, findings=findings, at=now())


@bp.post("/verify")
@roles_required("auditor")
def verify_upload() -> Any:
    """`kefu audit verify --checkpoint`: the chains, and what was lost or rewritten since a
    checkpoint the auditor kept (a read: nothing is written)."""
    session = db.session()
    upload = request.files.get("checkpoint")
    doc, problem = None, None
    if upload is None or not upload.filename:
        problem = _("Choose the checkpoint file you downloaded earlier.")
    else:
        try:
            doc = json.loads(upload.read().decode("utf-8"))
        except UnicodeDecodeError:
            problem = _("%(file)s is not a checkpoint: it is not a text file.",
                        file=upload.filename)
        except json.JSONDecodeError as exc:
            problem = _("%(file)s is not a checkpoint: it is not JSON (line %(line)d).",
                        file=upload.filename, line=exc.lineno)
    count, findings = engine.verify_all(session)
    if doc is not None:
        findings = findings + engine.records.checkpoints.verify_checkpoint(
            session, db.kefu().history_key, doc)
    made = doc.get("created_at") if isinstance(doc, dict) else None
    return render_template("audit/verify.html", count=count, findings=findings, at=now(),
                           problem=problem, checkpoint_file=upload.filename if upload else None,
                           checkpoint_at=made if isinstance(made, str) else None,
                           ), 422 if problem else 200


@bp.get("/checkpoint.json")
@roles_required("auditor")
def checkpoint() -> Any:
    """`kefu audit checkpoint`: every case's history count and head, signed with the
    history key, for the auditor to keep away from the server (docs/security.md)."""
    kefu = db.kefu()
    doc = engine.records.checkpoints.make_checkpoint(db.session(), kefu.history_key,
                                                     kefu.clock.now())
    body = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True)
    local = now().astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    name = f"kefu-checkpoint-{local:%Y%m%d-%H%M}.json"
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@bp.get("/logins")
@roles_required("auditor")
def logins() -> Any:
    """Failed and refused sign-ins of the last day (engine.people.signin), for the security
    review."""
    attempts = engine.people.signin.recent_failures(db.session(), now())
    return render_template("audit/logins.html", attempts=attempts, at=now(),
                           outcomes={"wrong": _("Wrong username or password"),
                                     "locked": _("Refused: locked out")})
