"""C11: the monthly complaint analysis — hot spots by category and the three targets.

Everything is computed from what the cases already record: their category, whether they
are closed, whether any deadline of theirs passed (an `overdue` or `escalated` history
record), and the customer's answer at the last callback. Nothing here is kept separately,
so the report for any past month can be produced again and agrees with the case files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.persistence.models import Case, HistoryRecord

LATE_ACTIONS = ("overdue", "escalated")


@dataclass(frozen=True)
class Rate:
    """A share with the counts behind it, so a reader sees 0/0 rather than a made-up 100 %."""

    part: int
    whole: int
    target: float

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value >= self.target


@dataclass(frozen=True)
class MonthlyReport:
    month: str
    complaints: int
    hot_spots: list[tuple[str, int]]
    resolution: Rate
    on_time: Rate
    satisfaction: Rate


def monthly_report(session: Session, settings: Settings, year: int, month: int) -> MonthlyReport:
    """Complaints accepted in the month (the centre's time zone)."""
    tz = ZoneInfo(settings.timezone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    cases = session.scalars(select(Case).where(
        Case.process_id == "complaint", Case.created_at >= start, Case.created_at < end)).all()
    ids = [c.id for c in cases]
    late: set[int] = set()
    answers: dict[int, bool] = {}
    if ids:
        for record in session.scalars(select(HistoryRecord).where(
                HistoryRecord.case_id.in_(ids),
                (HistoryRecord.action.in_(LATE_ACTIONS))
                | ((HistoryRecord.action == "completed") & (HistoryRecord.task_spec == "callback")))
                .order_by(HistoryRecord.case_id, HistoryRecord.seq)):
            if record.action in LATE_ACTIONS:
                late.add(record.case_id)
            elif "satisfied" in record.data:
                answers[record.case_id] = bool(record.data["satisfied"])  # the last one counts
    closed = [c for c in cases if c.state == "closed"]
    categories = Counter(c.category or "other" for c in cases)
    return MonthlyReport(
        month=f"{year:04d}-{month:02d}",
        complaints=len(cases),
        hot_spots=categories.most_common(),
        resolution=Rate(len(closed), len(cases), settings.target_resolution_rate),
        on_time=Rate(sum(c.id not in late for c in closed), len(closed),
                     settings.target_on_time_rate),
        satisfaction=Rate(sum(answers.values()), len(answers),
                          settings.target_satisfaction_rate),
    )
