"""Who sees a customer's phone and ID numbers in full, and the record of every full view (C12).

Customer data is used only where the step needs it: the person who holds or is offered a
case's current step needs to call the customer, and an auditor must be able to check a case;
everyone else sees 138****5678. Every full view is a history record of the case, written in
the same transaction as the read that showed it, so the trail cannot miss one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.roles import Actor, may_act
from engine.persistence.models import Case, TaskItem
from engine.records import history

VIEW_ACTION = "viewed_customer_data"
_PHONE_KEY = re.compile(r"(phone|mobile|telephone|(^|_)tel($|_))", re.IGNORECASE)
_ID_KEY = re.compile(r"(id_number|id_card|id_no($|_)|identity|身份证)", re.IGNORECASE)


def is_sensitive(key: str) -> bool:
    """A phone or ID number, by the field's name (forms name them `*_phone`, `*id_number`)."""
    return bool(_PHONE_KEY.search(key) or _ID_KEY.search(key))


def mask(value: Any) -> Any:
    """138****5678: the first 3 and last 4 characters stay, so staff can still match a call."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return value
    text = str(value)
    if len(text) >= 8:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if len(text) > 2:
        return "*" * (len(text) - 2) + text[-2:]
    return "*" * len(text)


def mask_data(data: Any) -> Any:
    """A copy of `data` with every sensitive field masked, at any depth."""
    if isinstance(data, dict):
        return {k: (_mask_any(v) if is_sensitive(str(k)) else mask_data(v))
                for k, v in data.items()}
    if isinstance(data, list):
        return [mask_data(v) for v in data]
    return data


def _mask_any(value: Any) -> Any:
    if isinstance(value, list):
        return [_mask_any(v) for v in value]
    return mask(value)


def sensitive_fields(data: Any, prefix: str = "") -> list[str]:
    """Names of the sensitive fields present (non-empty) in `data`."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}{key}"
            if is_sensitive(str(key)) and value not in (None, "", []):
                found.append(name)
            elif isinstance(value, dict | list):
                found.extend(sensitive_fields(value, f"{name}/"))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(sensitive_fields(value, f"{prefix}{index}/"))
    return found


def handles_current_step(session: Session, actor: Actor, case: Case) -> bool:
    """Does the actor hold, or is the actor offered, one of the case's open tasks?"""
    items = session.scalars(select(TaskItem).where(TaskItem.case_id == case.id)).all()
    return any(may_act(actor, i.role, i.department, i.candidate_user, i.assignee)
               for i in items)


def entitled_to_full_view(session: Session, actor: Actor, case: Case) -> bool:
    return "auditor" in actor.roles or handles_current_step(session, actor, case)


@dataclass
class Disclosure:
    """How one reader sees one case: `show` masks unless the reader is entitled."""

    full: bool
    recorded: list[str] = field(default_factory=list)

    def show(self, data: Any) -> Any:
        return data if self.full else mask_data(data)

    def value(self, key: str, value: Any) -> Any:
        return value if self.full or not is_sensitive(key) else _mask_any(value)


def disclose(session: Session, case: Case, actor: Actor, now: datetime, data: dict[str, Any],
             purpose: str) -> Disclosure:
    """Decide how `actor` sees `case` and record a full view of any phone or ID number.

    `data` is the case data about to be shown; `purpose` says where (case page, task,
    export, API) and goes into the history record.
    """
    full = entitled_to_full_view(session, actor, case)
    fields_shown = sensitive_fields(data)
    if case.complainant_phone and "complainant_phone" not in fields_shown:
        fields_shown.append("complainant_phone")
    if full and fields_shown:
        history.append_reading(session, case, at=now, actor=actor.username,
                               action=VIEW_ACTION,
                               data={"fields": sorted(fields_shown), "purpose": purpose})
        return Disclosure(full=True, recorded=sorted(fields_shown))
    return Disclosure(full=full)
