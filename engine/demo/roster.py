"""A demo roster: every shift leader's team works two day shifts, then two night shifts,
then has days off (两白两夜), the teams one after another so that every day and every
night is covered.

The rotation is anchored on a fixed date, so the roster of any month is the same whenever
it is generated, and generating a month again adds nothing.
"""

from __future__ import annotations

import calendar as month_calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.persistence.models import Person, PersonRole
from engine.persistence.roster_models import Shift, ShiftAssignment
from engine.timing.calendar import WorkingCalendar
from engine.timing.calendar_store import calendar_for, shift_holiday

ANCHOR = date(2026, 1, 1)
DAY_START = time(8, 0)
NIGHT_START = time(20, 0)
SHIFT_LENGTH = timedelta(hours=12)
#: S7: staff (leaders not counted) that each demo shift needs on duty.
MIN_STAFF = 4


def rotation_groups(session: Session) -> list[tuple[Person, list[Person]]]:
    """Each active shift leader with their active team, by the leader's username."""
    leaders = session.scalars(
        select(Person).join(PersonRole).where(PersonRole.role == "shift_leader",
                                              Person.active.is_(True))
        .order_by(Person.username)).all()
    groups = []
    for leader in leaders:
        team = session.scalars(select(Person).where(Person.shift_leader_id == leader.id,
                                                    Person.active.is_(True))
                               .order_by(Person.username)).all()
        if team:
            groups.append((leader, list(team)))
    return groups


def generate_roster(session: Session, first: date, last: date, *, tz: ZoneInfo,
                    min_staff: int = MIN_STAFF, calendar: WorkingCalendar | None = None) -> int:
    """Add the day and night shifts of `first`..`last` (inclusive) that do not exist yet;
    returns how many were added."""
    if last < first:
        raise ValueError(f"last: {last} is before first {first}")
    groups = rotation_groups(session)
    if not groups:
        return 0
    existing = {(day, kind) for day, kind in session.execute(
        select(Shift.day, Shift.kind).where(Shift.day >= first, Shift.day <= last))}
    calendar = calendar or WorkingCalendar(tz=tz)
    created = 0
    day = first
    while day <= last:
        index = (day - ANCHOR).days // 2
        for kind, group, begins in (("day", index, DAY_START),
                                    ("night", index - 1, NIGHT_START)):
            if (day, kind) in existing:
                continue
            leader, team = groups[group % len(groups)]
            session.add(_shift(day, kind, begins, tz, calendar, min_staff, leader, team))
            created += 1
        day += timedelta(days=1)
    session.flush()
    return created


def _shift(day: date, kind: str, begins: time, tz: ZoneInfo, calendar: WorkingCalendar,
           min_staff: int, leader: Person, team: list[Person]) -> Shift:
    starts = datetime.combine(day, begins, tz)
    ends = (starts.astimezone(UTC) + SHIFT_LENGTH).astimezone(tz)
    holiday, name = shift_holiday(calendar, starts, ends)
    shift = Shift(day=day, kind=kind, starts_at=starts, ends_at=ends, min_staff=min_staff,
                  is_public_holiday=holiday, holiday_name=name)
    shift.assignments = [ShiftAssignment(person=leader, duty="leader", origin="regular")] + [
        ShiftAssignment(person=member, duty="staff", origin="regular") for member in team]
    return shift


def load_demo_roster(session: Session, settings: Settings, now: datetime) -> int:
    """The demo centre's roster: this month and the next, so there is always a month ahead.
    The month is the centre's (from 16:00 UTC it is already tomorrow in China)."""
    tz = ZoneInfo(settings.timezone)
    first = now.astimezone(tz).date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    last = following.replace(day=month_calendar.monthrange(following.year, following.month)[1])
    return generate_roster(session, first, last, tz=tz,
                           calendar=calendar_for(session, settings))
