"""The inbox: my tasks, tasks I may claim, and (for leaders) my team's tasks to hand on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, g, render_template, request
from sqlalchemy import select

import engine
from web.presentation.helpers import now, process_names, task_row
from web.presentation.summaries import summaries
from web.server import db
from web.views.auth import login_required

bp = Blueprint("inbox", __name__)
SORTS = ("due", "created", "process")
#: Tasks a section shows at once; the rest are on the next pages (`?page=2`). Nobody
#: works down a list of 200 at a glance, and each row was most of a leader's page (its
#: time and its size: a duty supervisor's inbox had grown to 70 kB).
PAGE = 25
#: The newest reminders, overdue notices and 催单 shown above the lists (the case page
#: has each case's own); a hundred of them were a third of a duty supervisor's page.
REMINDERS = 10
DUE_FILTERS = ("overdue", "soon", "none")


def _filtered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    process = request.args.get("process", "")
    category = request.args.get("category", "")
    due_filter = request.args.get("due", "")
    if process:
        rows = [r for r in rows if r["item"].process_id == process]
    if category:
        rows = [r for r in rows if r["case"].category == category]
    if due_filter in DUE_FILTERS:
        wanted = {"soon", "urgent"} if due_filter == "soon" else {due_filter}
        rows = [r for r in rows if r["due"].state in wanted]
    sort = request.args.get("sort", "due")
    if sort == "created":
        rows.sort(key=lambda r: r["item"].created_at, reverse=True)
    elif sort == "process":
        rows.sort(key=lambda r: (r["process"], r["item"].created_at))
    else:
        rows.sort(key=lambda r: (r["item"].due_at is None, r["item"].due_at or r["item"]
                                 .created_at, r["item"].created_at))
    return rows


@bp.get("/inbox")
@login_required
def index() -> Any:
    session = db.session()
    moment = now()
    actor = g.actor
    mine = [task_row(i, moment) for i in engine.my_tasks(session, actor)]
    offered = [task_row(i, moment) for i in engine.claimable_tasks(session, actor)]
    team_rows: list[dict[str, Any]] = []
    members: list[Any] = []
    team = engine.team_of(session, g.person) - {actor.username}
    if team:
        members = _members(session, team)
        team_rows = [task_row(item, moment) for item in
                     engine.records.casefile.team_tasks(session, g.person, team)]
    reminders = _with_numbers(session, engine.reminders_for(session, actor, limit=REMINDERS))
    everything = mine + offered + team_rows
    categories = sorted({(r["case"].category, r["category"]) for r in everything
                         if r["case"].category})
    mine, offered, team_rows = _filtered(mine), _filtered(offered), _filtered(team_rows)
    pages = max(1, *(-(-len(rows) // PAGE) for rows in (mine, offered, team_rows)))
    page = min(pages, max(1, request.args.get("page", 1, type=int)))
    shown = {name: rows[(page - 1) * PAGE: page * PAGE]
             for name, rows in (("mine", mine), ("offered", offered), ("team", team_rows))}
    _describe([row for rows in shown.values() for row in rows])
    _eligible(shown["team"], members)
    return render_template(
        "inbox/inbox.html", **shown, counts={"mine": len(mine), "offered": len(offered)},
        members=members, processes=process_names(), categories=categories, sorts=SORTS,
        args=request.args, page=page, pages=pages,
        page_args={k: v for k, v in request.args.items() if k != "page"},
        now=moment, reminders=reminders,
        overdue=sum(1 for r in mine + offered if r["due"].state == "overdue"))


def _describe(rows: list[dict[str, Any]]) -> None:
    """What each shown row says about its case (one query for the page's rows only)."""
    about = summaries(r["case"] for r in rows)
    for row in rows:
        row["about"] = about.get(row["case"].id)


def _eligible(rows: list[dict[str, Any]], members: list[Any]) -> None:
    """Whom each of the team's tasks may be handed on to: a member holding its role (in
    its department, if narrowed), other than the one who holds it."""
    roles = [(p, p.role_names) for p in members]
    for row in rows:
        item = row["item"]
        row["eligible"] = [p for p, held in roles if item.role in held and (
            item.department is None or item.department == p.department)
            and p.username != item.assignee]


def _members(session: Any, team: set[str]) -> list[Any]:
    person = engine.models.Person
    return list(session.scalars(select(person).where(person.username.in_(sorted(team)))
                                .order_by(person.staff_no)))


def _with_numbers(session: Any, reminders: Sequence[Any]) -> list[tuple[Any, str]]:
    """Each reminder with its case's number, in one query (a case row is its whole
    workflow: reading one per reminder was a leader's page's largest cost)."""
    case = engine.models.Case
    ids = sorted({r.case_id for r in reminders})
    numbers = dict(session.execute(select(case.id, case.number).where(case.id.in_(ids))).all()
                   ) if ids else {}
    return [(r, numbers[r.case_id]) for r in reminders]
