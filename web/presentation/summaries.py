"""What a list row says about its case at a glance: VIP or not, who it is for (the
complainant, or the requester of a leave, swap or report), and its subject in one line.

Read from the first step's submission in the case history (the form that opened the case),
one query for a whole page of rows, so a list never loads a workflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, func, or_, select

import engine
from web.presentation.display import day, person, text, when
from web.server import db

SUBJECT_LENGTH = 40


@dataclass(frozen=True)
class Summary:
    vip: bool = False
    who: str = ""
    subject: str = ""
    #: The reasons, when the step before the open one sent the work back (e.g. C6 return).
    returned: str = ""


def _short(value: Any) -> str:
    words = text(value)
    return words if len(words) <= SUBJECT_LENGTH else words[:SUBJECT_LENGTH] + "…"


def summarise(case: Any, data: dict[str, Any]) -> Summary:
    if case.process_id == "complaint":
        return Summary(vip=bool(data.get("is_vip")), who=str(data.get("complainant_name", "")),
                       subject=_short(data.get("content", "")))
    who = person(data.get("employee") or case.created_by)
    if "start" in data and "end" in data:
        subject = f"{when(data['start'])} – {when(data['end'])} · {_short(data.get('reason'))}"
    elif "my_shift_date" in data:
        subject = (f"{day(data['my_shift_date'])} ⇄ {day(data.get('their_shift_date'))} · "
                   f"{person(data.get('counterpart'))}")
    else:
        subject = _short(data.get("title") or case.title or data.get("reason", ""))
    return Summary(who=who, subject=subject)


def summaries(cases: Iterable[Any]) -> dict[int, Summary]:
    """Summaries for the given cases (ORM rows or the inbox's plain rows, by id)."""
    ids = sorted({c.id for c in cases})
    if not ids:
        return {}
    case, history = engine.models.Case, engine.models.HistoryRecord
    session = db.session()
    by_id = {c.id: c for c in session.execute(select(
        case.id, case.process_id, case.created_by, case.title).where(case.id.in_(ids)))}
    # Only the first and the last completed record of each case: a case's history grows
    # with every step, and a list row needs its opening form and its latest decision.
    completed = and_(history.case_id.in_(ids), history.action == "completed")
    bounds = (select(history.case_id, func.min(history.seq).label("first"),
                     func.max(history.seq).label("last"))
              .where(completed).group_by(history.case_id).subquery())
    first: dict[int, dict[str, Any]] = {}
    last: dict[int, dict[str, Any]] = {}
    for case_id, seq, data, first_seq, last_seq in session.execute(
            select(history.case_id, history.seq, history.data, bounds.c.first, bounds.c.last)
            .join(bounds, and_(history.case_id == bounds.c.case_id,
                               or_(history.seq == bounds.c.first,
                                   history.seq == bounds.c.last)))):
        if seq == first_seq:
            first[case_id] = data or {}
        if seq == last_seq:
            last[case_id] = data or {}
    out = {}
    for case_id, row in by_id.items():
        summary = summarise(row, first.get(case_id, {}))
        latest = last.get(case_id, {})
        if latest.get("approved") is False and latest.get("return_reasons"):
            summary = replace(summary, returned=_short(latest["return_reasons"]))
        out[case_id] = summary
    return out
