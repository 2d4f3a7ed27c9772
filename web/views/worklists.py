"""Finding work that has left the inbox: cases I started, steps I did, my team's open work,
the cases behind a dashboard figure, and a caller lookup by case number or phone.

Every list is the same query with different filters (`filters`), paged, and only shows
cases the reader may open (engine.records.access.may_read_case); phone numbers are masked in
lists (C12). Search terms: a category's label finds its code (资费 finds `fee`), digits find
a phone by its last digits, other words search the case title and content.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, g, render_template, request
from sqlalchemy import Select, exists, or_, select

import engine
from web.presentation.helpers import now, process_names, titles
from web.presentation.i18n import bi
from web.presentation.summaries import summaries
from web.server import db
from web.views.auth import login_required

bp = Blueprint("work", __name__, url_prefix="/work")
PAGE = 20
Case = engine.models.Case
TaskItem = engine.models.TaskItem
History = engine.models.HistoryRecord
LEADERS = frozenset({"shift_leader", "duty_supervisor", "dept_head", "dept_manager",
                     "cs_head", "center_director"})


def day_bounds(moment: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(moment.date(), time(0), moment.tzinfo)
    return start, start + timedelta(days=1)


def category_codes(label: str) -> set[str]:
    """Codes whose title (either language) contains `label`: 资费 -> {"fee"}."""
    codes: set[str] = set()
    for version in engine.definitions.catalog.newest_versions(db.session()):
        for code, title in titles(version.id).get("category", {}).items():
            if label.lower() in str(title).lower() or label == code:
                codes.add(code)
    return codes


def filters(query: Select[Any], args: Any, moment: datetime) -> Select[Any]:
    me = g.actor.username
    open_task = select(TaskItem.id).where(TaskItem.case_id == Case.id)
    if args.get("mine") == "started":
        query = query.where(or_(Case.created_by == me, Case.owner == me))
    if args.get("mine") == "done":
        query = query.where(exists(select(History.id).where(
            History.case_id == Case.id, History.actor == me, History.action == "completed")))
    if args.get("mine") == "team":
        team = engine.team_of(db.session(), g.person) - {me}
        query = query.where(exists(open_task.where(TaskItem.assignee.in_(sorted(team)))))
    if args.get("step"):
        process, _sep, spec = args["step"].partition(":")
        query = query.where(exists(open_task.where(TaskItem.process_id == process,
                                                   TaskItem.spec_name == spec)))
    if args.get("overdue"):
        late = open_task.where(TaskItem.due_at < moment)
        # The dashboard's overdue-by-team bars: the late step is held in that team, or by
        # no one yet (unclaimed=1).
        if args.get("team"):
            late = late.where(TaskItem.assignee.in_(sorted(_team(args["team"]))))
        elif args.get("unclaimed"):
            late = late.where(TaskItem.assignee.is_(None))
        query = query.where(exists(late))
    if args.get("due") == "today":
        start, end = day_bounds(moment)
        query = query.where(exists(open_task.where(TaskItem.due_at >= start,
                                                   TaskItem.due_at < end)))
    if args.get("escalated"):
        query = query.where(Case.state == "running", exists(select(History.id).where(
            History.case_id == Case.id, History.action == "escalated")))
    if args.get("department"):
        query = query.where(or_(Case.department == args["department"], exists(
            open_task.where(TaskItem.department == args["department"]))))
    if args.get("state") in ("running", "closed"):
        query = query.where(Case.state == args["state"])
    if args.get("process"):
        query = query.where(Case.process_id == args["process"])
    if args.get("category"):
        query = query.where(Case.category == args["category"])
    if args.get("month"):
        try:
            first = datetime.strptime(args["month"], "%Y-%m").replace(tzinfo=moment.tzinfo)
        except ValueError:
            abort(400)
        following = (first + timedelta(days=32)).replace(day=1)
        query = query.where(Case.created_at >= first, Case.created_at < following)
    words = (args.get("q") or "").strip()
    if words:
        query = query.where(matches(words))
    return query


def _team(leader: str) -> set[str]:
    """A shift leader's team, as the dashboard counts it: the people they lead, and
    themselves."""
    person = engine.models.Person
    found = db.session().scalar(select(person).where(person.username == leader))
    if found is None:
        return set()
    return {leader} | set(db.session().scalars(
        select(person.username).where(person.shift_leader_id == found.id)))


def matches(words: str) -> Any:
    """A case number, the last digits of a phone, a category label, or words of who and
    what the case is about (Case.search_text)."""
    terms = [Case.number == words.upper(), Case.title.contains(words, autoescape=True),
             Case.search_text.contains(words, autoescape=True)]
    if words.isdigit() and len(words) >= 4:
        terms.append(Case.complainant_phone.endswith(words, autoescape=True))
    codes = category_codes(words)
    if codes:
        terms.append(Case.category.in_(sorted(codes)))
    return or_(*terms)


def _page(query: Select[Any]) -> tuple[list[Any], int, int]:
    session = db.session()
    visible = [c for c in session.scalars(query.order_by(Case.created_at.desc(), Case.id.desc()))
               if engine.records.access.may_read_case(session, g.actor, c)]
    page = max(1, request.args.get("page", 1, type=int))
    pages = max(1, -(-len(visible) // PAGE))
    return visible[(page - 1) * PAGE: page * PAGE], page, pages


def rows(cases: list[Any], moment: datetime) -> list[dict[str, Any]]:
    session = db.session()
    ids = [c.id for c in cases]
    steps: dict[int, list[Any]] = {}
    for item in session.scalars(select(TaskItem).where(TaskItem.case_id.in_(ids))):
        steps.setdefault(item.case_id, []).append(item)
    mine: dict[int, Any] = {}
    for record in session.scalars(select(History).where(
            History.case_id.in_(ids), History.actor == g.actor.username,
            History.action == "completed").order_by(History.seq)):
        mine[record.case_id] = record
    about = summaries(cases)
    return [{"case": c, "steps": steps.get(c.id, []), "my_last": mine.get(c.id),
             "about": about.get(c.id),
             "viewable": engine.records.access.may_read_case(session, g.actor, c),
             "category": titles(c.process_version_id).get("category", {}).get(
                 c.category or "", c.category or ""),
             "overdue": any(i.due_at and i.due_at < moment for i in steps.get(c.id, []))}
            for c in cases]


TITLES = {"started": "我发起的 / Cases I started", "done": "我已办 / Steps I did",
          "team": "我的班组在办 / My team's open work"}


@bp.get("/cases")
@login_required
def cases() -> Any:
    moment = now()
    found, page, pages = _page(filters(select(Case), request.args, moment))
    title = bi(TITLES.get(request.args.get("mine", ""), "案件列表 / Cases"))
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("work/cases.html", rows=rows(found, moment), page=page,
                           pages=pages, args=args, title=title, processes=process_names(),
                           mask=engine.records.disclosure.mask,
                           leader=bool(g.actor.roles & LEADERS))


@bp.route("/lookup", methods=["GET", "POST"])
@login_required
def lookup() -> Any:
    """For the agent taking a customer's follow-up call: the case by its number or the
    caller's full phone number, shown masked; the lookup itself is recorded (C12). The
    number is posted, so that a phone never stands in a URL or an access log."""
    words = (request.form.get("q") or "").strip() if request.method == "POST" else ""
    found: list[Any] = []
    if words:
        session = db.session()
        # Customers' cases only: a colleague's leave or report is not a caller's business.
        found = list(session.scalars(select(Case).where(Case.complainant_phone.is_not(None), or_(
            Case.number == words.upper(), Case.complainant_phone == words))
            .order_by(Case.created_at.desc()).limit(PAGE)))
        for case in found:
            engine.record_lookup(session, case, g.actor, now(),
                                            "number" if case.number == words.upper()
                                            else "phone")
    return render_template("work/lookup.html", q=words, rows=rows(found, now()),
                           mask=engine.records.disclosure.mask, searched=bool(words),
                           processes=process_names())
