"""The roster: who works which dated shift, who leads it, and the two ways it changes
(an approved swap, an approved leave).

Whatever goes "to the shift leader" (a complaint's first escalation, C9; a report, Q2; a
leave endorsement, L2) goes to the shift leader rostered at that moment, falling back to
the person's own shift leader: `shift_leader_on_duty` answers that for every feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.persistence.models import Person
from engine.persistence.roster_models import LeaveRecord, Shift, ShiftAssignment, SwapRecord

MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")
KIND_LABELS = {"day": ("白班", "day shift"), "night": ("夜班", "night shift")}


def day_zh(day: date) -> str:
    return f"{day.month}月{day.day}日"


def day_en(day: date) -> str:
    return f"{day.day} {MONTHS_EN[day.month - 1][:3]}"


def shift_on(session: Session, day: date, kind: str) -> Shift | None:
    return session.scalar(select(Shift).where(Shift.day == day, Shift.kind == kind))


def shifts_at(session: Session, at: datetime) -> Sequence[Shift]:
    """The shifts running at a moment (start inclusive, end exclusive)."""
    return session.scalars(select(Shift).where(Shift.starts_at <= at, Shift.ends_at > at)
                           .order_by(Shift.starts_at, Shift.kind)).all()


def assignment_on(session: Session, shift: Shift, person: Person) -> ShiftAssignment | None:
    return session.scalar(select(ShiftAssignment).where(
        ShiftAssignment.shift_id == shift.id, ShiftAssignment.person_id == person.id))


def assignments_of(session: Session, person: Person, start: datetime,
                   end: datetime) -> list[ShiftAssignment]:
    """The person's shifts overlapping [start, end), earliest first."""
    return list(session.scalars(
        select(ShiftAssignment).join(Shift).where(
            ShiftAssignment.person_id == person.id, Shift.starts_at < end, Shift.ends_at > start)
        .order_by(Shift.starts_at)))


def is_rostered(session: Session, person: Person) -> bool:
    return session.scalar(select(ShiftAssignment.id).where(
        ShiftAssignment.person_id == person.id).limit(1)) is not None


def next_shift_after(session: Session, person: Person, moment: datetime) -> Shift | None:
    return session.scalar(
        select(Shift).join(ShiftAssignment).where(
            ShiftAssignment.person_id == person.id, Shift.starts_at >= moment)
        .order_by(Shift.starts_at).limit(1))


def staff_on_duty(shift: Shift) -> set[int]:
    """Ids of the staff (leaders not counted) rostered and not on approved leave (S7)."""
    return {a.person_id for a in shift.assignments if a.duty != "leader" and not a.on_leave}


def shift_leader_on_duty(session: Session, at: datetime,
                         person: Person | str | None = None) -> Person | None:
    """The shift leader rostered at `at`, else the person's own shift leader, else None.

    `person` (a Person or a username) is never their own leader. If several leaders are on
    duty, the person's own leader wins, then the leader of the shift the person works.
    """
    if isinstance(person, str):
        person = session.scalar(select(Person).where(Person.username == person))
    shifts = shifts_at(session, at)
    candidates = [(s, a.person) for s in shifts for a in s.assignments
                  if a.duty == "leader" and not a.on_leave and a.person.active
                  and (person is None or a.person_id != person.id)]
    if candidates:
        if person is not None:
            for _shift, leader in candidates:
                if leader.id == person.shift_leader_id:
                    return leader
            for shift, leader in candidates:
                if any(a.person_id == person.id for a in shift.assignments):
                    return leader
        return min((leader for _s, leader in candidates), key=lambda p: p.username)
    if person is not None and person.shift_leader_id is not None:
        own = session.get(Person, person.shift_leader_id)
        if own is not None and own.active:
            return own
    return None


def own_leader(session: Session, person: Person, shift: Shift) -> Person | None:
    """A swap party's shift leader (S1): their own, else whoever leads the shift they give
    up, else (None) any shift leader."""
    if person.shift_leader_id is not None:
        leader = session.get(Person, person.shift_leader_id)
        if leader is not None and leader.active:
            return leader
    return shift_leader_on_duty(session, shift.starts_at, person)


def shift_label(shift: Shift, article: bool = True) -> tuple[str, str]:
    """("11月25日白班", "the day shift of 25 Nov"); without the article after "your"."""
    zh, en = KIND_LABELS[shift.kind]
    return f"{day_zh(shift.day)}{zh}", f"{'the ' if article else ''}{en} of {day_en(shift.day)}"


def apply_swap(mine: ShiftAssignment, theirs: ShiftAssignment, record: SwapRecord) -> None:
    """Exchange the two people on their shifts: the counterpart covers the requester's
    shift (换班, "swapped") and the requester works the counterpart's (还班, "returned").
    Both rows change in the caller's transaction, so the roster changes atomically."""
    requester, counterpart = mine.person, theirs.person
    mine.person, mine.origin, mine.swap_id = counterpart, "swapped", record.id
    theirs.person, theirs.origin, theirs.swap_id = requester, "returned", record.id


def mark_leave(assignments: Sequence[ShiftAssignment], record: LeaveRecord) -> None:
    for assignment in assignments:
        assignment.leave_status = "approved"
        assignment.leave_id = record.id


def neighbours(session: Session, person: Person, shift: Shift,
               without: ShiftAssignment | None = None,
               window: timedelta = timedelta(days=7)) -> tuple[ShiftAssignment | None,
                                                             ShiftAssignment | None]:
    """The person's shifts just before and just after `shift` (ignoring `without`)."""
    around = [a for a in assignments_of(session, person, shift.starts_at - window,
                                        shift.ends_at + window)
              if a is not without and a.shift_id != shift.id]
    before = [a for a in around if a.shift.starts_at < shift.starts_at]
    after = [a for a in around if a.shift.starts_at > shift.starts_at]
    return (before[-1] if before else None), (after[0] if after else None)
