"""Small reads that several pages share: the time now, process names, due states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import g

from engine.definitions import catalog
from web.presentation.forms import option_titles
from web.server import db

SOON = timedelta(hours=2)
URGENT = timedelta(minutes=30)


def now() -> datetime:
    return db.kefu().clock.now()


def process_names() -> dict[str, str]:
    """process id -> its newest version's name (`中文 / English`), once per request."""
    if "process_names" not in g:
        g.process_names = catalog.newest_names(db.session())
    return g.process_names


def titles(version_id: int) -> dict[str, dict[str, str]]:
    """field -> value -> title for a version's forms (in the reader's language)."""
    cache = g.setdefault("option_titles", {})
    if version_id not in cache:
        cache[version_id] = option_titles(db.kefu().version(db.session(), version_id).forms)
    return cache[version_id]


@dataclass(frozen=True)
class Due:
    state: str  # none | ok | soon | urgent | overdue
    at: datetime | None = None
    left: timedelta | None = None


def due(due_at: datetime | None, moment: datetime | None = None) -> Due:
    if due_at is None:
        return Due("none")
    left = due_at - (moment or now())
    if left < timedelta(0):
        return Due("overdue", due_at, left)
    if left <= URGENT:
        return Due("urgent", due_at, left)
    return Due("soon" if left <= SOON else "ok", due_at, left)


def task_row(item: Any, moment: datetime) -> dict[str, Any]:
    """What the inbox shows of a task: enough to judge it at a glance."""
    case = item.case
    return {"item": item, "case": case, "due": due(item.due_at, moment),
            "process": process_names().get(item.process_id, item.process_id),
            "category": titles(case.process_version_id).get("category", {}).get(
                case.category or "", case.category or "")}


def case_rows(file: Any, shown: Any) -> list[tuple[str, str, Any]]:
    """The case as a whole: what its first step entered and what the process worked out.
    What later steps entered is each step's own (`step_entries`), never one merged value."""
    later = file.step_fields
    return [(name, file.field_titles.get(name, name), value)
            for name, value in shown.show(file.data).items()
            if name in file.field_titles and name not in later
            and value not in (None, "", [])]


@dataclass(frozen=True)
class StepEntry:
    """One submission after the first, titled as its own form titles its fields."""

    submission: Any
    rows: list[tuple[str, str, Any]]


def step_entries(file: Any, shown: Any) -> list[StepEntry]:
    entries = []
    for submission in file.submissions[1:]:
        properties = file.step_forms.get(submission.step, {}).get("properties", {})
        rows = [(name, properties.get(name, {}).get("title")
                 or file.field_titles.get(name, name), value)
                for name, value in shown.show(dict(submission.data)).items()
                if value not in (None, "", [])]
        entries.append(StepEntry(submission, rows))
    return entries
