"""Time as the engine sees it; injected so that tests and benchmarks control it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to: tests advance it instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start: a timezone-aware datetime is required")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now = self._now + timedelta(**delta)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


class FileClock:
    """The time written in a file (an ISO-8601 time with its offset), read again whenever
    the file changes: a rehearsal or an end-to-end test moves the time of a running
    `kefu serve` and `kefu worker` by writing the file (setting `clock_file`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, datetime] | None = None
        self.now()  # a missing or unreadable file fails at start, not at the first step

    def now(self) -> datetime:
        stamp = os.stat(self.path).st_mtime_ns
        if self._seen is None or self._seen[0] != stamp:
            text = self.path.read_text(encoding="utf-8").strip()
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise ValueError(f"{self.path}: {text!r} has no timezone offset")
            self._seen = (stamp, moment)
        return self._seen[1]


def clock_for(clock_file: str) -> Clock:
    """The system clock, or a `FileClock` when the installation names a clock file."""
    return FileClock(Path(clock_file)) if clock_file else SystemClock()
