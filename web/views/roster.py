"""The roster as staff read it: my shifts this month, my team's month (days × people, the
shift of each in words) and who leads each shift; and what the forms' pickers offer from it
(a colleague by name or 工号, one of a person's shifts).

A shift leader sees their own team; the CS head, the duty supervisor and the centre
director every team; anyone else the team they work in.
"""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify, render_template, request
from flask_babel import gettext as _

from engine.people import pickers, roster
from web.presentation.display import person, shift
from web.presentation.forms import Choices
from web.presentation.helpers import now
from web.server import db
from web.views.auth import login_required

bp = Blueprint("roster", __name__)
#: Roles that see every team's month.
SEE_ALL = frozenset({"cs_head", "center_director", "duty_supervisor"})


@dataclass
class Day:
    day: date
    leaders: dict[str, str] = field(default_factory=dict)  # shift kind -> leader shown
    cells: list[tuple[str, str]] = field(default_factory=list)  # (css class, words)


@dataclass
class Team:
    leader: Any
    people: list[Any]
    days: list[Day]


def _month(raw: str | None, today: date) -> date:
    try:
        year, month = (int(part) for part in (raw or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def _cell(assignment: Any) -> tuple[str, str]:
    """A person's day in words: 白班 / 夜班, 值班长, 请假, 换班 / 还班."""
    if assignment is None:
        return "rest", _("Off")
    words = [_("Day shift") if assignment.shift.kind == "day" else _("Night shift")]
    if assignment.duty == "leader":
        words.append(_("leads"))
    if assignment.on_leave:
        return "leave", f"{words[0]} · {_('on leave')}"
    if assignment.origin == "swapped":
        words.append(_("swapped"))
    elif assignment.origin == "returned":
        words.append(_("swap return"))
    return assignment.shift.kind, " · ".join(words)


def _teams_shown(session: Any, me: Any) -> list[tuple[Any, list[Any]]]:
    everyone = roster.teams(session)
    if me.role_names & SEE_ALL:
        return [(leader, members) for leader, members in everyone if members]
    leader_id = me.id if "shift_leader" in me.role_names else me.shift_leader_id
    return [(leader, members) for leader, members in everyone if leader.id == leader_id]


@bp.get("/roster")
@login_required
def index() -> Any:
    session = db.session()
    me = g.person
    today = now().astimezone(ZoneInfo(db.kefu().settings.timezone)).date()
    first = _month(request.args.get("month"), today)
    last = first.replace(day=month_calendar.monthrange(first.year, first.month)[1])
    shifts = roster.shifts_between(session, first, last)
    by_day: dict[date, dict[str, Any]] = {}
    for each in shifts:
        by_day.setdefault(each.day, {})[each.kind] = each
    mine = [(s, a) for s in shifts for a in s.assignments if a.person_id == me.id]
    leads = {s.id: next((a.person.username for a in s.assignments if a.duty == "leader"), None)
             for s in shifts}
    teams = []
    for leader, members in _teams_shown(session, me):
        people = [leader, *members]
        days = []
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            kinds = by_day.get(day, {})
            row = Day(day, {k: person(leads[s.id]) for k, s in kinds.items() if leads[s.id]})
            for member in people:
                held = [a for s in kinds.values() for a in s.assignments
                        if a.person_id == member.id]
                row.cells.append(_cell(held[0] if held else None))
            days.append(row)
        teams.append(Team(leader, people, days))
    previous = (first - timedelta(days=1)).replace(day=1)
    following = last + timedelta(days=1)
    return render_template("roster/roster.html", first=first, mine=mine, leads=leads,
                           teams=teams, today=today, previous=previous, following=following,
                           me=me, moment=now())


@bp.get("/roster/shifts.json")
@login_required
def shifts_json() -> Any:
    """A colleague's shifts for a shift picker, once their name or 工号 is filled in (the
    picker's script asks; without it the form offers what the page knew)."""
    session = db.session()
    prop = {"x-kefu-shift-value": request.args.get("value", "date")}
    holder = pickers.find(session, request.args.get("who", ""))
    return jsonify([{"value": pickers.option_value(prop, a.shift), "label": shift(a.shift)}
                    for a in pickers.shifts_of(session, holder, now())])


def choices(schema: Mapping[str, Any], values: Mapping[str, Any]) -> Choices:
    """What the form's pickers offer the person filling it in, from the roster now."""
    session = db.session()
    me = g.person
    out = Choices()
    for name, prop in pickers.fields_of(schema, pickers.PERSON).items():
        people = pickers.candidates(session, prop, me)
        out.people[name] = [(person(p.username), person(p.username)) for p in people]
        chosen = pickers.find(session, values.get(name))
        if chosen is not None:
            out.labels[name] = person(chosen.username)
    moment = now()
    for name, prop in pickers.fields_of(schema, pickers.SHIFT).items():
        holder = pickers.holder(session, prop, values, me)
        if holder is not None:
            offered = [a.shift for a in pickers.shifts_of(session, holder, moment)]
        else:
            offered = [s for s in pickers.upcoming_shifts(session, moment)
                       if all(a.person_id != me.id for a in s.assignments)]
        out.shifts[name] = [(pickers.option_value(prop, s), shift(s)) for s in offered]
    return out
