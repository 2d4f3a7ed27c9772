"""The roster: who works which dated shift, who leads it, and the two ways it changes
(an approved swap, an approved leave).

Whatever goes "to the shift leader" is offered only to someone who holds the shift_leader
role, along one documented chain with each step skipped recorded (`route`, docs/routing.md):
a complaint's escalation (C9) starts from the leader of the shift on duty; a leave
endorsement (L2) and a report to the direct leader (Q2, Q3) start from the person's own team
leader; each then falls back to the other, then to the CS head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.persistence.models import Person, PersonRole
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


def shifts_between(session: Session, first: date, last: date) -> Sequence[Shift]:
    """The centre's shifts dated `first`..`last` (inclusive), with who works them."""
    return session.scalars(select(Shift).where(Shift.day >= first, Shift.day <= last)
                           .order_by(Shift.starts_at)).all()


def teams(session: Session) -> list[tuple[Person, list[Person]]]:
    """Each active shift leader with the active people they lead, by 工号."""
    leaders = session.scalars(
        select(Person).join(PersonRole).where(PersonRole.role == "shift_leader",
                                              Person.active.is_(True))
        .order_by(Person.staff_no)).all()
    return [(leader, list(session.scalars(
        select(Person).where(Person.shift_leader_id == leader.id, Person.active.is_(True))
        .order_by(Person.staff_no)))) for leader in leaders]


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
    """The shift leader rostered at `at` who holds the shift_leader role, else the person's
    own shift leader (if they hold it), else None.

    `person` (a Person or a username) is never their own leader. If several leaders are on
    duty, the person's own leader wins, then the leader of the shift the person works.
    """
    person = _person(session, person)
    leader = _leader_of_shifts(shifts_at(session, at), person)
    return leader if leader is not None else _own_team_leader(session, person)


def _person(session: Session, person: Person | str | None) -> Person | None:
    if isinstance(person, str):
        return session.scalar(select(Person).where(Person.username == person))
    return person


def _leads(person: Person) -> bool:
    return person.active and "shift_leader" in person.role_names


def _leader_of_shifts(shifts: Sequence[Shift], person: Person | None) -> Person | None:
    candidates = [(s, a.person) for s in shifts for a in s.assignments
                  if a.duty == "leader" and not a.on_leave and _leads(a.person)
                  and (person is None or a.person_id != person.id)]
    if not candidates:
        return None
    if person is not None:
        for _shift, leader in candidates:
            if leader.id == person.shift_leader_id:
                return leader
        for shift, leader in candidates:
            if any(a.person_id == person.id for a in shift.assignments):
                return leader
    return min((leader for _s, leader in candidates), key=lambda p: p.username)


def _own_team_leader(session: Session, person: Person | None) -> Person | None:
    if person is None or person.shift_leader_id is None:
        return None
    own = session.get(Person, person.shift_leader_id)
    return own if own is not None and own.id != person.id and _leads(own) else None


def cs_head(session: Session, person: Person | None = None) -> Person | None:
    """The CS head: of the person's department if there is one, else the first by name."""
    heads = [p for p in session.scalars(
        select(Person).join(PersonRole).where(PersonRole.role == "cs_head",
                                              Person.active.is_(True))
        .order_by(Person.username)) if person is None or p.id != person.id]
    mine = [p for p in heads if person is not None and p.department == person.department]
    return (mine or heads or [None])[0]


@dataclass
class Routing:
    """Who a "to the shift leader" step goes to, by which link of the chain, and the
    links that were skipped and why (recorded in the case history by the caller)."""

    person: Person | None
    via: str | None
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fallback(self) -> bool:
        return bool(self.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {"to": self.person.username if self.person else None, "via": self.via,
                "skipped": self.skipped}


SHIFT_ON_DUTY, SHIFT, OWN_LEADER, CS_HEAD = "shift_on_duty", "shift", "own_leader", "cs_head"


def route(session: Session, person: Person | str | None, *, at: datetime | None = None,
          shifts: Sequence[Shift] = (), own_first: bool = False) -> Routing:
    """The chain: the leader of the shift (those running at `at`, or `shifts`) → the
    person's own team leader → the CS head; `own_first` starts from the own leader (L2,
    Q3: one's own chain, no 交叉请假). Only holders of the shift_leader role lead."""
    person = _person(session, person)
    shift_kind = SHIFT_ON_DUTY if at is not None else SHIFT
    running = list(shifts) or (list(shifts_at(session, at)) if at is not None else [])
    links = [(shift_kind, lambda: _leader_of_shifts(running, person)),
             (OWN_LEADER, lambda: _own_team_leader(session, person))]
    if own_first:
        links.reverse()
    skipped = []
    for via, find in links:
        found = find()
        if found is not None:
            return Routing(found, via, skipped)
        skipped.append({"link": via, "reason": _why_not(session, via, person, running)})
    head = cs_head(session, person)
    if head is None:
        skipped.append({"link": CS_HEAD, "reason": "no active CS head"})
    return Routing(head, CS_HEAD if head else None, skipped)


def _why_not(session: Session, via: str, person: Person | None,
             running: Sequence[Shift]) -> str:
    if via == OWN_LEADER:
        own = session.get(Person, person.shift_leader_id) if person and \
            person.shift_leader_id else None
        if own is None:
            return "no own team leader"
        return (f"{own.username} is inactive" if not own.active
                else f"{own.username} does not hold the shift_leader role")
    leaders = [a.person for s in running for a in s.assignments if a.duty == "leader"]
    if not leaders:
        return "no shift leader rostered"
    return "; ".join(f"{p.username}: " + ("on leave or inactive" if _leads(p)
                                          else "does not hold the shift_leader role")
                     for p in leaders)


def own_leader(session: Session, person: Person, shift: Shift) -> Person | None:
    """A swap party's shift leader (S1): their own, else whoever leads the shift they give
    up, else (None) any shift leader."""
    own = _own_team_leader(session, person)
    return own if own is not None else shift_leader_on_duty(session, shift.starts_at, person)


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
