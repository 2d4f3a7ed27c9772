"""Deadlines and escalation levels (SPEC C3, C5, C8, C9).

A `deadline` row is one pending (or fired) moment of one case: a BPMN timer that must be
refreshed, a reminder at a share of a task's time, or a task's due time; fired rows stay
as the record of what was sent to whom. The rows are
rewritten from the workflow whenever the case is saved, in the same transaction, so the
timer worker finds what is due with one indexed query instead of opening workflows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.persistence.models import Base

#: Pending rows only: the partial index keeps "what is due next" cheap however many rows
#: have fired, and its size does not depend on the history of old cases.
_PENDING = text("fired_at IS NULL")


class Deadline(Base):
    __tablename__ = "deadline"
    __table_args__ = (
        Index("ix_deadline_pending_due", "due_at", postgresql_where=_PENDING,
              sqlite_where=_PENDING),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    #: timer | reminder | due (pending until fired, see engine.timing.deadlines) | urge (a 催单
    #: sent by engine.timing.escalation, stored already fired so that its holder sees it)
    kind: Mapped[str] = mapped_column(String(20))
    #: The SpiffWorkflow task: the timer event's for `timer`, the user task's otherwise.
    task_id: Mapped[str] = mapped_column(String(36))
    spec_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    #: When the task (or timer) began: reminders and "time used" are measured from here.
    start_at: Mapped[datetime]
    due_at: Mapped[datetime]
    #: For reminders: the task's own due time, which the reminder announces.
    task_due_at: Mapped[datetime | None]
    fired_at: Mapped[datetime | None]
    #: Who was told (reminders, overdue): {"user": ..., "role": ..., "department": ...}.
    notified: Mapped[dict[str, Any] | None]
    #: A firing that failed is retried later; the error stays here for the operators.
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class CaseEscalation(Base):
    """C9: the level a case has reached (1 shift leader, 2 department manager)."""

    __tablename__ = "case_escalation"

    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), primary_key=True)
    level: Mapped[int] = mapped_column(default=0, index=True)
    reached_at: Mapped[datetime]
