"""The leaders' and the centre director's page: where the work stands, at a glance.

Charts are drawn on the server as SVG by pygal (a maintained server-side chart library:
no chart code of our own, no JavaScript, no internet assets — its default CDN scripts are
switched off). Each bar links to the cases behind it (`work.cases` with the same filter).
"""

from __future__ import annotations

import secrets
import sys
from collections import Counter
from typing import Any

import pygal
from flask import Blueprint, abort, g, make_response, render_template, url_for
from markupsafe import Markup
from pygal.style import Style
from sqlalchemy import select

import engine
from engine.records.analysis import monthly_report
from web.presentation.display import department, person
from web.presentation.helpers import now, process_names, titles
from web.presentation.i18n import bi
from web.server import db
from web.server.security import CSP
from web.views.auth import login_required
from web.views.worklists import LEADERS, day_bounds

# pygal adds an old-style import hook (for its optional map plugins, unused here) that newer
# Pythons warn about on every failed import anywhere in the process; take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

bp = Blueprint("dashboard", __name__)
TaskItem = engine.models.TaskItem
Case = engine.models.Case
STYLE = Style(background="transparent", plot_background="transparent",
              font_family="'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
              colors=("#2f6fb0", "#c0392b", "#e67e22", "#27ae60"), label_font_size=13,
              major_label_font_size=13, value_font_size=13, title_font_size=15)


def is_leader() -> bool:
    return bool(g.get("actor") and g.actor.roles & LEADERS)


def _chart(kind: Any, title: str, rows: list[tuple[str, int, str]],
           height: int = 0) -> Markup:
    """A horizontal bar per row (label, count, drill-down link)."""
    chart = kind(style=STYLE, show_legend=False, js=[], print_values=True,
                 width=560, height=height or max(160, 44 * len(rows) + 70),
                 disable_xml_declaration=True, explicit_size=False, title=title,
                 show_y_guides=False, margin=8, truncate_label=-1)
    chart.x_labels = [_padded(label) for label, _n, _link in rows] or ["—"]
    chart.add(title, [{"value": n, "xlink": {"href": link, "target": "_top"}}
                      for _label, n, link in rows] or [0])
    return _svg(chart)


def _padded(label: str) -> str:
    """pygal reserves label room by counting characters as Latin ones; a Chinese character is
    twice as wide. Leading spaces make it reserve enough, and SVG does not draw them."""
    wide = sum(1 for c in label if ord(c) > 0x2e80)
    return " " * wide + label


def _svg(chart: Any) -> Markup:
    """The chart's SVG; its own stylesheet carries this response's CSP nonce."""
    return Markup(chart.render(is_unicode=True).replace("<style", f'<style nonce="{nonce()}"'))


def nonce() -> str:
    if "chart_nonce" not in g:
        g.chart_nonce = secrets.token_urlsafe(16)
    return g.chart_nonce


def _rates_chart(report: Any, link: str) -> Markup:
    chart = pygal.HorizontalBar(style=STYLE, js=[], print_values=True, width=560, height=240,
                                disable_xml_declaration=True, explicit_size=False,
                                range=(0, 100), show_legend=True, legend_at_bottom=True,
                                title=bi("本月指标 / This month's targets"), margin=8,
                                value_formatter=lambda v: f"{v:.0f}%", truncate_label=-1)
    rates = [(bi("解决率 / Resolution"), report.resolution),
             (bi("及时率 / On time"), report.on_time),
             (bi("满意率 / Satisfaction"), report.satisfaction)]
    chart.x_labels = [_padded(label) for label, _rate in rates]
    chart.add(bi("实际 / Actual"), [
        {"value": round(100 * (r.value or 0), 1), "xlink": {"href": link, "target": "_top"}}
        for _label, r in rates])
    chart.add(bi("目标 / Target"), [round(100 * r.target, 1) for _label, r in rates])
    return _svg(chart)


@bp.get("/dashboard")
@login_required
def index() -> Any:
    if not is_leader():
        abort(403)
    session = db.session()
    moment = now()
    start, end = day_bounds(moment.astimezone(db_zone()))
    link = lambda **args: url_for("work.cases", **args)  # noqa: E731 - one-line builder
    items = list(session.scalars(select(TaskItem)))
    names = process_names()

    by_step = Counter((i.process_id, i.spec_name, i.title) for i in items)
    step_rows = [(bi(title), n, link(step=f"{p}:{spec}"))
                 for (p, spec, title), n in by_step.most_common(12)]

    overdue = [i for i in items if i.due_at and i.due_at < moment]
    by_department = Counter(i.department or i.case.department or "" for i in overdue)
    department_rows = [(department(d) or bi("未分派 / Not assigned"), n,
                        link(overdue=1, department=d) if d else link(overdue=1))
                       for d, n in by_department.most_common()]
    leaders = _team_leaders(session)
    by_team = Counter(leaders.get(i.assignee, i.assignee) if i.assignee else ""
                      for i in overdue)
    team_rows = [(bi(f"{person(t)}班组 / {person(t)}'s team") if t
                  else bi("未认领 / Not claimed"), n,
                  link(overdue=1, team=t) if t else link(overdue=1, unclaimed=1))
                 for t, n in by_team.most_common()]
    escalated = _escalated(session)
    today = sorted((i for i in items if i.due_at and start <= i.due_at < end),
                   key=lambda i: i.due_at)

    report = monthly_report(session, db.kefu().settings, moment.year, moment.month)
    month = f"{moment.year:04d}-{moment.month:02d}"
    categories = _category_titles()
    hot_rows = [(bi(categories.get(code, code)), n,
                 link(process="complaint", month=month, category=code))
                for code, n in report.hot_spots]
    page = render_template(
        "dashboard/dashboard.html", now=moment, report=report, month=month,
        steps_chart=_chart(pygal.HorizontalBar, bi("在办环节 / Open steps"), step_rows),
        department_chart=_chart(pygal.HorizontalBar, bi("超时：按部门 / Overdue by department"),
                                department_rows),
        team_chart=_chart(pygal.HorizontalBar, bi("超时：按班组 / Overdue by team"),
                          team_rows),
        hot_chart=_chart(pygal.HorizontalBar, bi("投诉热点 / Hot spots"), hot_rows),
        rates_chart=_rates_chart(report, link(process="complaint", month=month)),
        overdue=len(overdue), escalated=escalated, today=today, shifts=_shifts(session, moment),
        open_cases=len({i.case_id for i in items}), names=names)
    response = make_response(page)
    response.headers["Content-Security-Policy"] = CSP.replace(
        "style-src 'self'", f"style-src 'self' 'nonce-{nonce()}'")
    return response


def db_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(db.kefu().settings.timezone)


def _team_leaders(session: Any) -> dict[str, str]:
    """username -> their shift leader's username."""
    person_ = engine.models.Person
    people = list(session.scalars(select(person_)))
    by_id = {p.id: p.username for p in people}
    return {p.username: by_id.get(p.shift_leader_id, "") for p in people if p.shift_leader_id}


def _escalated(session: Any) -> list[tuple[Any, int]]:
    running = session.scalars(select(Case).where(Case.state == "running")).all()
    out = [(c, engine.escalation_level(session, c)) for c in running]
    return [(c, level) for c, level in out if level]


def _category_titles() -> dict[str, str]:
    out: dict[str, str] = {}
    for version in engine.definitions.catalog.newest_versions(db.session()):
        if version.process_id == "complaint":
            out.update(titles(version.id).get("category", {}))
    return out


def _shifts(session: Any, moment: Any) -> list[dict[str, Any]]:
    """Today's shifts: who leads, how many are on duty against the minimum, who is off."""
    shift_ = engine.people.roster.Shift
    people = {p.id: p for p in session.scalars(select(engine.models.Person))}
    today = moment.astimezone(db_zone()).date()
    out = []
    for shift in session.scalars(select(shift_).where(shift_.day == today)
                                 .order_by(shift_.starts_at)):
        leaders = [people[a.person_id] for a in shift.assignments if a.duty == "leader"]
        on_leave = [people[a.person_id] for a in shift.assignments if a.on_leave]
        on_duty = len(engine.people.roster.staff_on_duty(shift))
        out.append({"shift": shift, "leaders": leaders, "on_leave": on_leave,
                    "on_duty": on_duty, "short": on_duty < shift.min_staff,
                    "running": shift.starts_at <= moment < shift.ends_at})
    return out
