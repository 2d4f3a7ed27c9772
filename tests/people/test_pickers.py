"""Issue 15: form fields that name a person or a shift (engine.people.pickers): a colleague
by name, 工号 or the picker's label is stored as the username the rules read; the schema's
filter narrows who may be named; a shift the person does not hold is refused on its field."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import FormValidationError
from engine.people import pickers
from engine.persistence.models import Person

PERSON = {"type": "string", "x-kefu-widget": "person"}
SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "colleague": {**PERSON, "x-kefu-people": {"same_team": True, "not_self": True}},
    "day": {"type": "string", "format": "date", "x-kefu-widget": "shift",
            "x-kefu-shift-value": "date", "x-kefu-shift-kind-field": "kind"},
    "kind": {"type": "string", "enum": ["day", "night"]},
}}


def _me(session, username: str = "agent01") -> Person:
    return session.scalars(select(Person).where(Person.username == username)).one()


@pytest.mark.parametrize("typed", ["agent02", "陈静", "1002", "陈静（工号 1002）",
                                   "陈静 (no. 1002)", " 1002 "])
def test_a_colleague_is_named_by_username_name_staff_number_or_label(rostered, typed) -> None:
    with rostered.session() as s:
        assert pickers.resolve_person(s, typed) == "agent02"


def test_the_filter_keeps_the_team_and_leaves_out_oneself(rostered) -> None:
    with rostered.session() as s:
        team = [p.username for p in pickers.candidates(s, SCHEMA["properties"]["colleague"],
                                                       _me(s))]
        assert team == ["agent02", "agent03", "vip01", "leader01"]  # by 工号
        rostered_only = pickers.candidates(s, {"x-kefu-people": {"rostered": True,
                                                                 "roles": ["shift_leader"]}},
                                           _me(s))
        assert {p.username for p in rostered_only} == {
            "leader01", "leader02", "leader03", "leader04"}


def test_the_check_stores_the_username_and_refuses_what_the_roster_does_not_hold(
        rostered) -> None:
    with rostered.session() as s:
        kept = pickers.checked(s, SCHEMA, {"colleague": "陈静", "day": "2026-11-25",
                                           "kind": "day"}, "agent01")
        assert kept == {"colleague": "agent02", "day": "2026-11-25", "kind": "day"}
        with pytest.raises(FormValidationError) as caught:
            pickers.checked(s, SCHEMA, {"colleague": "曹宇", "day": "2026-11-29",
                                        "kind": "day"}, "agent01")
    assert caught.value.field_errors == {
        "colleague": ["曹宇（工号 1007）不能选在这里 / 曹宇 (no. 1007) cannot be chosen here"],
        "day": ["刘洋（1001）没有排这个班 / 刘洋 is not rostered on that shift"]}


def test_a_leave_period_must_cover_a_shift_of_the_employee(rostered) -> None:
    schema = {"type": "object", "properties": {
        "employee": PERSON,
        "start": {"type": "string", "x-kefu-widget": "shift", "x-kefu-shift-of": "employee",
                  "x-kefu-shift-value": "start"},
        "end": {"type": "string", "x-kefu-widget": "shift", "x-kefu-shift-of": "employee",
                "x-kefu-shift-value": "end"}}}
    days_off = {"start": "2026-11-29T08:00:00+08:00", "end": "2026-11-29T20:00:00+08:00"}
    with rostered.session() as s:
        assert pickers.checked(s, schema, {**days_off, "employee": "曹宇"}, "agent01")[
            "employee"] == "agent07"  # 曹宇 works the day of 29 Nov
        with pytest.raises(FormValidationError) as caught:
            pickers.checked(s, schema, days_off, "agent01")  # one's own: a day off
    assert caught.value.field_errors == {
        "start": ["刘洋（1001）在此期间没有排班 / 刘洋 has no shift in this period"]}
