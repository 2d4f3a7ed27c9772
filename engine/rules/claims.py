"""One request at a time per person and shift: a leave or a swap that overlaps another
leave or swap still pending for the same person and shift is refused, saying which.

Each running leave or swap case claims the shifts it asks about (`roster_request`); a claim
counts while its case runs, so a refused, withdrawn or finished case frees the shift without
any clean-up. Approved leave and approved swaps are on the roster itself (L8, S3, and the
"already on approved leave" refusal) and need no claim.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import FormValidationError
from engine.people import roster
from engine.persistence.models import Case, Person
from engine.persistence.roster_models import RosterRequest, Shift

KIND_LABELS = {"leave": ("请假", "leave request"), "swap": ("换班", "swap request")}
_FIELD = {"leave": "start", "swap": "my_shift_date"}


def refuse_overlaps(session: Session, person: Person, shifts: Sequence[Shift], kind: str,
                    case_id: int | None, you: tuple[str, str, str]) -> None:
    """A form error on the request's first field naming the pending case and the shift."""
    if not shifts:
        return
    query = (select(RosterRequest, Case.number).join(Case, Case.id == RosterRequest.case_id)
             .where(RosterRequest.person_id == person.id,
                    RosterRequest.shift_id.in_([s.id for s in shifts]),
                    Case.state == "running"))
    if case_id is not None:
        query = query.where(RosterRequest.case_id != case_id)
    found = session.execute(query.order_by(RosterRequest.id).limit(1)).first()
    if found is None:
        return
    other, number = found
    shift = session.get(Shift, other.shift_id)
    zh, en = roster.shift_label(shift)
    other_zh, other_en = KIND_LABELS[other.kind]
    raise FormValidationError({_FIELD[kind]: [
        f"{you[0]}{zh}已有待审批的{other_zh}（{number}），同一班次不能重复申请；请等它办结或撤回 / "
        f"{you[2].capitalize()} {other_en} {number} for {en} is still pending; the same shift "
        f"cannot be asked for twice until it is decided or withdrawn"]})


def claim(session: Session, case: Case, person: Person, shifts: Sequence[Shift],
          kind: str) -> None:
    """This case's claim on the person's shifts, replacing any earlier one of the case."""
    session.execute(delete(RosterRequest).where(RosterRequest.case_id == case.id,
                                                RosterRequest.person_id == person.id))
    session.add_all(RosterRequest(case_id=case.id, kind=kind, person_id=person.id,
                                  shift_id=s.id) for s in shifts)
    session.flush()
