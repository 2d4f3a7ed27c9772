"""Form fields that name a person or a shift, as the form's schema declares them.

A field with `"x-kefu-widget": "person"` names a colleague: a person types or picks a name
or 工号 and the field stores the username the rules read (`x-kefu-people` narrows who may
be named: `not_self`, `rostered`, `same_team`, `roles`). A field with
`"x-kefu-widget": "shift"` names one of a person's rostered shifts (the requester's, or
those of the person another field names, `x-kefu-shift-of`; until that field is filled, the
requester's, or with `"x-kefu-shift-default": "others"` every shift the requester does not
work) and stores what the rules read
today: the shift's start or end (`x-kefu-shift-value`: `start` | `end`), or its date with
the shift kind in a companion field (`date`, `x-kefu-shift-kind-field`).

The same check runs on every submission, from the browser or the API, before the form's
JSON Schema: an unknown person, one outside the filter, or a shift the person does not
hold is a form error on that field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions.forms import applicable, validate
from engine.errors import FormValidationError
from engine.people import roster
from engine.persistence.models import Person, PersonRole
from engine.persistence.roster_models import Shift, ShiftAssignment

WIDGET = "x-kefu-widget"
PERSON, SHIFT = "person", "shift"
#: How far ahead a shift picker offers shifts (this month and the next, as rostered).
HORIZON = timedelta(days=62)
_FILTERS = frozenset({"not_self", "rostered", "same_team", "roles"})
_STAFF_NO = re.compile(r"(?:工号\s*|no\.\s*)(\w+)\s*[）)]\s*$")


def widget(prop: Any) -> str | None:
    return prop.get(WIDGET) if isinstance(prop, Mapping) else None


def fields_of(schema: Mapping[str, Any], kind: str) -> dict[str, Mapping[str, Any]]:
    return {name: prop for name, prop in schema.get("properties", {}).items()
            if widget(prop) == kind}


def declaration_problems(schema: Mapping[str, Any]) -> list[str]:
    """Deployment refuses a picker Kefu could not honour: an unknown widget or filter, a
    shift picker storing something else than start, end or date, or naming a field the
    form does not have."""
    properties = schema.get("properties", {})
    problems = []
    for name, prop in properties.items():
        kind = widget(prop)
        if kind is None:
            continue
        if kind not in (PERSON, SHIFT):
            problems.append(f"{name}: {WIDGET} must be {PERSON!r} or {SHIFT!r}, not {kind!r}")
        unknown = set(prop.get("x-kefu-people") or {}) - _FILTERS
        if unknown:
            problems.append(f"{name}: x-kefu-people knows {', '.join(sorted(_FILTERS))}, not "
                            f"{', '.join(sorted(unknown))}")
        if kind == SHIFT and prop.get("x-kefu-shift-value", "date") not in ("start", "end",
                                                                             "date"):
            problems.append(f"{name}: x-kefu-shift-value must be start, end or date")
        for key in ("x-kefu-shift-of", "x-kefu-shift-kind-field"):
            other = prop.get(key)
            if other is not None and other not in properties:
                problems.append(f"{name}: {key} names {other!r}, not a field of this form")
    return problems


# -- people -------------------------------------------------------------------------------

def _by_username(session: Session, username: Any) -> Person | None:
    if not isinstance(username, str) or not username:
        return None
    return session.scalar(select(Person).where(Person.username == username))


def team_of(session: Session, person: Person) -> list[Person]:
    """The person's shift team: their team leader and everyone that leader leads (a leader's
    own team, for a leader); empty for someone in no team."""
    leader_id = person.id if "shift_leader" in person.role_names and \
        person.shift_leader_id is None else person.shift_leader_id
    if leader_id is None:
        return []
    return list(session.scalars(
        select(Person).where((Person.id == leader_id) | (Person.shift_leader_id == leader_id),
                             Person.active.is_(True)).order_by(Person.staff_no)))


def candidates(session: Session, prop: Mapping[str, Any], requester: Person | None
               ) -> list[Person]:
    """Who the field may name, by 工号: the active people its `x-kefu-people` filter keeps."""
    rule = prop.get("x-kefu-people") or {}
    query = select(Person).where(Person.active.is_(True)).order_by(Person.staff_no)
    roles = rule.get("roles")
    if roles:
        query = query.where(Person.id.in_(select(PersonRole.person_id)
                                          .where(PersonRole.role.in_(list(roles)))))
    if rule.get("rostered"):
        query = query.where(Person.id.in_(select(ShiftAssignment.person_id)))
    people = list(session.scalars(query))
    if requester is not None and rule.get("not_self"):
        people = [p for p in people if p.id != requester.id]
    if requester is not None and rule.get("same_team"):
        team = {p.id for p in team_of(session, requester)}
        people = [p for p in people if p.id in team]
    return people


def resolve_person(session: Session, text: Any) -> str | Any:
    """The username a person typed or picked: a username, a 工号, a unique name, or the
    picker's own label `刘洋（工号 1001）`; anything else is returned as typed."""
    if not isinstance(text, str) or not text.strip():
        return text
    text = text.strip()
    if _by_username(session, text) is not None:
        return text
    found = _STAFF_NO.search(text)
    staff_no = found.group(1) if found else text
    person = session.scalar(select(Person).where(Person.staff_no == staff_no))
    if person is not None:
        return person.username
    named = list(session.scalars(select(Person).where(Person.name == text,
                                                      Person.active.is_(True))))
    return named[0].username if len(named) == 1 else text


def find(session: Session, text: Any) -> Person | None:
    """The person a name, 工号, username or picker label names, if exactly one."""
    return _by_username(session, resolve_person(session, text))


def _person_errors(session: Session, prop: Mapping[str, Any], value: Any,
                   requester: Person | None) -> list[str]:
    person = _by_username(session, value)
    if person is None or not person.active:
        several = isinstance(value, str) and len(list(session.scalars(
            select(Person.id).where(Person.name == value.strip(), Person.active.is_(True))))) > 1
        if several:
            return [f"有多位同事叫{value}，请选择带工号的一项 / several colleagues are called "
                    f"{value}: pick the one with the staff number"]
        return [f"没有此人 / no active person {value!r}"]
    if person.id not in {p.id for p in candidates(session, prop, requester)}:
        return [f"{person.name}（工号 {person.staff_no}）不能选在这里 / {person.name} "
                f"(no. {person.staff_no}) cannot be chosen here"]
    return []


# -- shifts -------------------------------------------------------------------------------

def holder(session: Session, prop: Mapping[str, Any], data: Mapping[str, Any],
           requester: Person | None) -> Person | None:
    """Whose shifts the field picks from: the person another field names, if it names one,
    else the requester (None for `"x-kefu-shift-default": "others"`, a counterpart's shift
    before the counterpart is named)."""
    other = prop.get("x-kefu-shift-of")
    named = find(session, data.get(other)) if other else None
    if named is not None:
        return named
    return None if prop.get("x-kefu-shift-default") == "others" else requester


def shifts_of(session: Session, person: Person | None, now: datetime) -> list[ShiftAssignment]:
    """The person's shifts a picker offers: not yet over, within the horizon, not on leave."""
    if person is None:
        return []
    return [a for a in roster.assignments_of(session, person, now, now + HORIZON)
            if not a.on_leave]


def upcoming_shifts(session: Session, now: datetime) -> list[Shift]:
    """Every shift of the centre not yet begun, within the horizon (a counterpart's shift
    before the counterpart is known)."""
    return list(session.scalars(select(Shift).where(Shift.starts_at > now,
                                                    Shift.starts_at < now + HORIZON)
                                .order_by(Shift.starts_at)))


def option_value(prop: Mapping[str, Any], shift: Shift) -> str:
    """What a shift picker's option sends: the stored start or end, or `date kind`."""
    which = prop.get("x-kefu-shift-value", "date")
    if which == "start":
        return shift.starts_at.isoformat()
    if which == "end":
        return shift.ends_at.isoformat()
    return f"{shift.day.isoformat()} {shift.kind}"


def split_value(prop: Mapping[str, Any], raw: str) -> dict[str, str]:
    """The stored fields of a picked option (`option_value` read back)."""
    kind_field = prop.get("x-kefu-shift-kind-field")
    if prop.get("x-kefu-shift-value", "date") != "date" or not kind_field:
        return {}
    day, _sep, kind = raw.strip().partition(" ")
    return {"": day, str(kind_field): kind} if kind else {"": day}


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _period(schema: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[datetime | None,
                                                                         datetime | None]:
    ends = {prop.get("x-kefu-shift-value"): data.get(name)
            for name, prop in fields_of(schema, SHIFT).items()}
    return _moment(ends.get("start")), _moment(ends.get("end"))


def _holds(session: Session, schema: Mapping[str, Any], prop: Mapping[str, Any],
           data: Mapping[str, Any], value: Any, person: Person) -> bool:
    """A picked date and kind is a shift the person works; a picked start or end bounds a
    period that covers at least one of their shifts (a leave may span days off)."""
    which = prop.get("x-kefu-shift-value", "date")
    if which in ("start", "end"):
        start, end = _period(schema, data)
        if start is None or end is None or end <= start:  # the schema or the rules say why
            return True
        return bool(roster.assignments_of(session, person, start, end))
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return True
    kind = data.get(str(prop.get("x-kefu-shift-kind-field", "")))
    if not isinstance(kind, str):  # no kind: the schema names the missing field
        return True
    shift = roster.shift_on(session, day, kind)
    if shift is None:
        return False
    return roster.assignment_on(session, shift, person) is not None


def _shift_errors(session: Session, schema: Mapping[str, Any], prop: Mapping[str, Any],
                  data: Mapping[str, Any], value: Any, person: Person | None) -> list[str]:
    if person is None or not roster.is_rostered(session, person):
        return []  # someone not on the roster gives the time as typed
    if prop.get("x-kefu-shift-value") == "end":  # a period is judged once, on its start
        return []
    if _holds(session, schema, prop, data, value, person):
        return []
    if prop.get("x-kefu-shift-value") == "start":
        return [f"{person.name}（{person.staff_no}）在此期间没有排班 / {person.name} has no "
                f"shift in this period"]
    return [f"{person.name}（{person.staff_no}）没有排这个班 / {person.name} is not rostered on "
            f"that shift"]


# -- the check ----------------------------------------------------------------------------

def checked(session: Session, schema: dict[str, Any], data: dict[str, Any],
            requester: str | None) -> dict[str, Any]:
    """The form's data validated as `engine.definitions.forms.validate` does, with its
    people named by username and its shifts held; every error at once, by field."""
    if not fields_of(schema, PERSON) and not fields_of(schema, SHIFT):
        return validate(schema, data)
    me = _by_username(session, requester)
    data = dict(data)
    for name in fields_of(schema, PERSON):
        if name in data:
            data[name] = resolve_person(session, data[name])
    errors: dict[str, list[str]] = {}
    applying = applicable(schema, data)[1]
    for name, prop in fields_of(schema, PERSON).items():
        found = _person_errors(session, prop, applying[name], me) \
            if applying.get(name) not in (None, "") else []
        if found:
            errors[name] = found
    for name, prop in fields_of(schema, SHIFT).items():
        if applying.get(name) not in (None, "") and name not in errors \
                and prop.get("x-kefu-shift-of") not in errors:  # whose shift: said already
            person = holder(session, prop, applying, me)
            found = _shift_errors(session, schema, prop, applying, applying[name], person)
            if found:
                errors[name] = found
    try:
        cleaned = validate(schema, data)
    except FormValidationError as exc:
        for field, messages in exc.field_errors.items():
            if field not in errors:  # the picker's word on a field says it best
                errors[field] = list(messages)
        raise FormValidationError(errors) from None
    if errors:
        raise FormValidationError(errors)
    return cleaned
