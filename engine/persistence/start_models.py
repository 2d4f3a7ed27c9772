"""Timer start events: when each process next starts a case by itself (issue 14).

One row per process whose newest version begins with a timer start event. The timer lives
here, not in a case: a case exists only once its start time has come. The timer worker
claims a due row under its lock, starts the case and moves the row to the next time in one
transaction, so several workers start each case exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.persistence.models import Base


class TimerStart(Base):
    __tablename__ = "timer_start"

    process_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    #: The start event's id, and its timer as written (for people and the history).
    spec_name: Mapped[str] = mapped_column(String(120))
    expression: Mapped[str] = mapped_column(String(200))
    #: The next start; None once a date or a bounded cycle is used up.
    next_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Starts left (-1: without end), and the seconds between two starts of a cycle.
    remaining: Mapped[int]
    interval_seconds: Mapped[int] = mapped_column(default=0)
    started: Mapped[int] = mapped_column(default=0)
