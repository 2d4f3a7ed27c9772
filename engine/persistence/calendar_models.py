"""The official holiday schedule (放假安排) the centre loaded itself, and who loaded it.

The State Council publishes next year's schedule each November or December; a centre
cannot wait for a package release, so `kefu calendar import` keeps the published days here.
A year that has an import row is covered by it alone: its listed days are holidays or
make-up working days (调休), every other day is an ordinary weekday or weekend.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.persistence.models import Base


class CalendarImport(Base):
    """One import of one year's schedule: the newest import of a year is the one in force."""

    __tablename__ = "calendar_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(String(300))
    loaded_by: Mapped[str] = mapped_column(String(60))
    loaded_at: Mapped[datetime]


class CalendarDay(Base):
    """A day the schedule names: a public holiday (off) or a make-up working day (调休)."""

    __tablename__ = "calendar_day"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("calendar_import.id", ondelete="CASCADE"),
                                           index=True)
    day: Mapped[date] = mapped_column(Date)
    off: Mapped[bool]
    name: Mapped[str | None] = mapped_column(String(60))
