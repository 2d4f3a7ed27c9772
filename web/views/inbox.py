"""The inbox: my tasks, tasks I may claim, and (for leaders) my team's tasks to hand on.

A busy agent has hundreds of tasks: each section is paged (`PAGE` a page, its own page
number in the URL), and the search box finds tasks by their case the way the worklists do
(`web.views.worklists.matches`: case number, last digits of the phone, category, words).
Only the rows of the pages shown are summarised.

An open inbox asks `/inbox/version` every `POLL_SECONDS` whether its lists changed and
reloads only when they did: a few hundred people watching their inboxes then cost a few
reads each, not a page each (issue 17: a page's rows, names and words are most of its
time). It still reloads every `REFRESH_SECONDS`, for the time left on each task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

import engine
from web.presentation.display import when
from web.presentation.helpers import due, now, process_names, task_row
from web.presentation.summaries import summaries
from web.server import db
from web.views.auth import login_required
from web.views.notices import unread_count
from web.views.worklists import matches

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
#: Each section's own page number in the URL.
PAGE_ARGS = {"mine": "page", "offered": "offered_page", "team": "team_page"}
#: How often an open inbox reloads, for its "time left" (web/static/kefu.js, data-refresh),
#: and how often it asks in between whether its lists changed (data-poll).
REFRESH_SECONDS = 60
POLL_SECONDS = 10
#: Tasks read per section, most urgent first: enough for eight pages; a search or a filter
#: looks through many more, so that it finds what lies beyond them.
LIMIT, NARROWED_LIMIT = 200, 2000
NARROWING = ("q", "process", "category", "due")


def _filtered(rows: list[dict[str, Any]], found: set[int] | None) -> list[dict[str, Any]]:
    process = request.args.get("process", "")
    category = request.args.get("category", "")
    due_filter = request.args.get("due", "")
    if found is not None:
        rows = [r for r in rows if r["case"].id in found]
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


def _found(rows: list[dict[str, Any]]) -> set[int] | None:
    """The cases among `rows` the search words match; None when nothing is searched."""
    words = (request.args.get("q") or "").strip()
    if not words:
        return None
    ids = sorted({r["case"].id for r in rows})
    case = engine.models.Case
    return set(db.session().scalars(select(case.id).where(case.id.in_(ids), matches(words))))


def _paged(section: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    pages = max(1, -(-len(rows) // PAGE))
    page = min(max(1, request.args.get(PAGE_ARGS[section], 1, type=int)), pages)
    return {"rows": rows[(page - 1) * PAGE: page * PAGE], "page": page, "pages": pages,
            "total": len(rows),
            "previous": _page_url(section, page - 1) if page > 1 else None,
            "next": _page_url(section, page + 1) if page < pages else None}


def _page_url(section: str, page: int) -> str:
    """This inbox with the same filters and the other sections' pages, this one at `page`."""
    params = {k: v for k, v in request.args.items() if v}
    params[PAGE_ARGS[section]] = str(page)
    return url_for("inbox.index", **params, _anchor=section)


@dataclass(frozen=True)
class _Lists:
    """What an inbox lists, as the database holds it (before any row is described)."""
    mine: list[Any]
    offered: list[Any]
    team: list[Any]
    team_members: set[str]
    reminders: Sequence[Any]


def _lists(session: Any, limit: int) -> _Lists:
    actor = g.actor
    mine = engine.my_tasks(session, actor, limit)
    offered = engine.claimable_tasks(session, actor, limit)
    team = engine.team_of(session, g.person) - {actor.username}
    team_items = list(engine.records.casefile.team_tasks(session, g.person, team, limit)
                      ) if team else []
    reminders = engine.reminders_for(session, actor, limit=REMINDERS)
    return _Lists(list(mine), list(offered), team_items, team, reminders)


def _limit() -> int:
    return NARROWED_LIMIT if any(request.args.get(k) for k in NARROWING) else LIMIT


def _version(lists: _Lists, moment: datetime) -> str:
    """A digest of what would change the page besides the passing of time: each listed
    task (whose it is, when it is due, whether it is overdue yet), the reminders and the
    unread notices. The day is in it for the header's calendar warning."""
    digest = hashlib.blake2b(digest_size=12)
    for items in (lists.mine, lists.offered, lists.team):
        for item in items:
            digest.update(f"{item.id}|{item.assignee}|{item.candidate_user}|{item.due_at}|"
                          f"{due(item.due_at, moment).state};".encode())
        digest.update(b"/")
    for reminder in lists.reminders:
        digest.update(f"{reminder.id}|{reminder.fired_at};".encode())
    digest.update(f"/{unread_count()}/{moment.date()}".encode())
    return digest.hexdigest()


@bp.get("/inbox/version")
@login_required
def version() -> Any:
    """What an open inbox polls: its lists' digest, and the words for "checked just now"."""
    moment = now()
    answer = jsonify(version=_version(_lists(db.session(), _limit()), moment),
                     updated=_("Updated %(time)s", time=when(moment)))
    answer.headers["Cache-Control"] = "no-store"
    return answer


@bp.get("/inbox")
@login_required
def index() -> Any:
    session = db.session()
    moment = now()
    limit = _limit()
    lists = _lists(session, limit)
    mine = [task_row(i, moment) for i in lists.mine]
    offered = [task_row(i, moment) for i in lists.offered]
    team_rows = [task_row(i, moment) for i in lists.team]
    reminders = _with_numbers(session, lists.reminders)
    everything = mine + offered + team_rows
    categories = sorted({(r["case"].category, r["category"]) for r in everything
                         if r["case"].category})
    found = _found(everything)
    sections = {name: {**_paged(name, _filtered(rows, found)),
                       "cut": limit if len(rows) >= limit else 0}
                for name, rows in (("mine", mine), ("offered", offered), ("team", team_rows))}
    shown = [r for s in sections.values() for r in s["rows"]]
    _describe(shown)
    members = _members(session, lists.team_members) if lists.team_members else []
    _eligible(sections["team"]["rows"], members)
    # The filters as applied: what the pagers and the refresh keep.
    args = {k: v for k, v in request.args.items() if k not in PAGE_ARGS.values() and v}
    return render_template(
        "inbox/inbox.html", sections=sections, mine=mine, offered=offered,
        members=members, processes=process_names(), categories=categories,
        sorts=SORTS, args=args, all_args=request.args, now=moment, reminders=reminders,
        searched=found is not None, refresh_seconds=REFRESH_SECONDS,
        poll_seconds=POLL_SECONDS, version=_version(lists, moment),
        version_url=url_for("inbox.version", **request.args),
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
