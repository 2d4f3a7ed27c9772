"""C12: a caller lookup (an agent finding a case by its number or the caller's phone) is
a use of customer data, so it is recorded in the case history like a full view."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine import history
from engine.persistence.models import Case
from engine.roles import Actor

LOOKUP_ACTION = "looked_up"


def record_lookup(session: Session, case: Case, actor: Actor, now: datetime, by: str) -> None:
    """`by` is what the caller gave: `number` or `phone`."""
    history.append(session, case, at=now, actor=actor.username, action=LOOKUP_ACTION,
                   data={"by": by, "purpose": "lookup"})
    session.flush()
