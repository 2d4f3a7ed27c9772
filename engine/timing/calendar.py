"""Deadlines in calendar time or in working time.

The hotline answers 24 hours a day, so its deadlines run in plain calendar time. Back-office
departments work fixed hours on China's official working days, and those are not simply
Monday to Friday: the State Council moves weekend days around public holidays (调休), so a
Sunday can be a working day and a Tuesday a day off. The schedule comes, for each year, from
the first of: the schedule the centre imported (`kefu calendar import`,
engine.timing.calendar_store:
the State Council's notice, in force the day it is published), `chinese_calendar` (the
published schedules, 2004 to its last release's year), and `holidays` (the statutory days by
rule only: it has no 调休 make-up working days for years whose notice it has not recorded, so
such a year is *provisional*, never *covered*). Each centre may add its own days off and
extra working days in configuration. The shift roster asks the same calendar which days are
public holidays (SPEC L7, S6); `covered`/`source_of` say how far the official schedule reaches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays

_ONE_DAY = timedelta(days=1)
#: Where a day's answer came from; the first two are the official schedule.
IMPORTED, CHINESE_CALENDAR, HOLIDAYS = "imported", "chinesecalendar", "holidays"
OFFICIAL_SOURCES = frozenset({IMPORTED, CHINESE_CALENDAR})


@dataclass(frozen=True)
class Schedule:
    """The official schedule a centre imported: for each of `years`, the days it names
    (date -> (is a day off, name)); any other day of those years is an ordinary day."""

    years: frozenset[int] = frozenset()
    days: Mapping[date, tuple[bool, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours of one centre.

    A year no source knows falls back to Monday-Friday working days with no public
    holidays, plus this centre's extra days, so a far deadline degrades instead of crashing;
    callers ask `covered` and flag what they computed beyond it (engine.timing.calendar_store).
    """

    workday_start: time = time(9, 0)
    workday_end: time = time(18, 0)
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    tz: ZoneInfo = ZoneInfo("Asia/Shanghai")
    schedule: Schedule = field(default_factory=Schedule)

    def __post_init__(self) -> None:
        if self.workday_start.tzinfo or self.workday_end.tzinfo:
            raise ValueError("workday_start: working hours are wall-clock times without tzinfo")
        if self.workday_start >= self.workday_end:
            raise ValueError("workday_start: must be earlier than workday_end")
        both = self.extra_days_off & self.extra_working_days
        if both:
            days = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"extra_days_off: also listed in extra_working_days: {days}")

    def is_working_day(self, day: date) -> bool:
        """The centre's own days win over the official schedule, which wins over weekdays."""
        day = self._local_date(day)
        if day in self.extra_days_off:
            return False
        if day in self.extra_working_days:
            return True
        official = self._official(day)
        return day.weekday() < 5 if official is None else not official[0]

    def is_public_holiday(self, day: date) -> bool:
        """Official holidays only: ordinary weekends and the centre's own days off are not
        public holidays, which matters for holiday-duty rules (SPEC L7, S6)."""
        return self.holiday_name(day) is not None

    def holiday_name(self, day: date) -> str | None:
        """The schedule's name (e.g. "National Day", "春节"); None on ordinary weekends and on
        make-up working days, although `chinese_calendar` names the holiday they compensate."""
        official = self._official(self._local_date(day))
        if official is None or not official[0]:
            return None
        return official[1]

    def source_of(self, day: date) -> str | None:
        """Which source answers for the day: IMPORTED, CHINESE_CALENDAR, HOLIDAYS or None."""
        return _answer(self._local_date(day), self.schedule)[1]

    def covered(self, day: date) -> bool:
        """Whether the official schedule (imported or `chinese_calendar`) knows the day."""
        return self.source_of(day) in OFFICIAL_SOURCES

    def uncovered_between(self, start: date, end: date) -> list[date]:
        """The days of `start`..`end` (inclusive) that the official schedule does not cover."""
        start, end = self._local_date(start), self._local_date(end)
        return [start + timedelta(days=n) for n in range((end - start).days + 1)
                if not self.covered(start + timedelta(days=n))]

    def _official(self, day: date) -> tuple[bool, str | None] | None:
        return _answer(day, self.schedule)[0]

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """Deadline after `duration` of working hours; a start outside working hours counts
        from the next opening, so even a zero duration lands inside working time."""
        _require_aware(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration: must not be negative, got {duration}")
        cursor = start.astimezone(self.tz)
        remaining = duration
        day = cursor.date()
        while True:
            if self.is_working_day(day):
                opens, closes = self._hours(day)
                begin = max(cursor, opens)
                if begin < closes:
                    available = _elapsed(begin, closes)
                    if remaining <= available:
                        return (begin.astimezone(UTC) + remaining).astimezone(self.tz)
                    remaining -= available
            day += _ONE_DAY

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Same wall-clock time `days` working days later, for deadlines stated in days
        ("reply within 3 working days") rather than hours."""
        _require_aware(start, "start")
        if days < 0:
            raise ValueError(f"days: must not be negative, got {days}")
        local = start.astimezone(self.tz)
        day = local.date()
        while days:
            day += _ONE_DAY
            if self.is_working_day(day):
                days -= 1
        return datetime.combine(day, local.timetz())

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working hours elapsed, e.g. to measure how much of a task's allowance is used;
        negative when `end` is before `start`."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if end < start:
            return -self.working_time_between(end, start)
        low, high = start.astimezone(self.tz), end.astimezone(self.tz)
        total = timedelta(0)
        day = low.date()
        while day <= high.date():
            if self.is_working_day(day):
                opens, closes = self._hours(day)
                begin, finish = max(low, opens), min(high, closes)
                if begin < finish:
                    total += _elapsed(begin, finish)
            day += _ONE_DAY
        return total

    def _hours(self, day: date) -> tuple[datetime, datetime]:
        combine = datetime.combine
        return combine(day, self.workday_start, self.tz), combine(day, self.workday_end, self.tz)

    def _local_date(self, day: date) -> date:
        # A datetime never equals a date, so it would silently miss the extra-day sets.
        if isinstance(day, datetime):
            return (day.astimezone(self.tz) if day.tzinfo else day).date()
        return day


def add_calendar_time(start: datetime, duration: timedelta) -> datetime:
    """Hotline deadlines run round the clock; adding in UTC keeps elapsed time exact even in
    a zone with daylight saving, where same-zone datetime arithmetic is wall-clock."""
    _require_aware(start, "start")
    return (start.astimezone(UTC) + duration).astimezone(start.tzinfo)


_NUMBER = r"([0-9]+(?:[.,][0-9]+)?)"
_DURATION = re.compile(
    rf"P(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?=[0-9])(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?"
)


def parse_duration(text: str) -> timedelta:
    """ISO-8601 durations as written in BPMN timers and settings (PT2H, P3D, P1DT12H).

    Years and months are refused: their length varies, so they cannot be a timedelta.
    """
    match = _DURATION.fullmatch(text.strip().upper()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(
            f"invalid ISO-8601 duration {text!r}: expected e.g. 'PT2H', 'P3D', 'P1DT12H' "
            "(weeks, days, hours, minutes, seconds; no years or months)"
        )
    weeks, days, hours, minutes, seconds = (
        float(group.replace(",", ".")) if group else 0.0 for group in match.groups()
    )
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def calendar_from_settings(settings: Mapping[str, object]) -> WorkingCalendar:
    """Build a centre's calendar from its configuration; missing or null keys keep the
    defaults and other keys are ignored, since the mapping may hold unrelated settings."""
    default = WorkingCalendar()
    return WorkingCalendar(
        workday_start=_parse_time(settings, "workday_start", default.workday_start),
        workday_end=_parse_time(settings, "workday_end", default.workday_end),
        extra_days_off=_parse_dates(settings, "extra_days_off"),
        extra_working_days=_parse_dates(settings, "extra_working_days"),
    )


_HH_MM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_YYYY_MM_DD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_time(settings: Mapping[str, object], key: str, default: time) -> time:
    value = settings.get(key)
    if value is None:
        return default
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, str) and (match := _HH_MM.fullmatch(value.strip())):
        return time(int(match[1]), int(match[2]))
    # YAML 1.1 reads an unquoted 18:00 as the base-60 integer 1080.
    hint = "; quote it in YAML" if isinstance(value, int) else ""
    raise ValueError(f"{key}: expected a time 'HH:MM', got {value!r}{hint}")


def _parse_dates(settings: Mapping[str, object], key: str) -> frozenset[date]:
    value = settings.get(key)
    if value is None:
        return frozenset()
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"{key}: expected a list of 'YYYY-MM-DD' dates, got {value!r}")
    return frozenset(_parse_date(item, key) for item in value)


def _parse_date(item: object, key: str) -> date:
    # YAML already turns an unquoted 2025-10-01 into a date.
    if isinstance(item, date) and not isinstance(item, datetime):
        return item
    if isinstance(item, str) and _YYYY_MM_DD.fullmatch(item.strip()):
        with suppress(ValueError):
            return date.fromisoformat(item.strip())
    raise ValueError(f"{key}: expected a 'YYYY-MM-DD' date, got {item!r}")


def _answer(day: date, schedule: Schedule) -> tuple[tuple[bool, str | None] | None, str | None]:
    """((is a day off, holiday name), source) for a day, or (None, None) if no source knows
    its year. An imported year wins over the packages, which may lag the State Council."""
    if day.year in schedule.years:
        return schedule.days.get(day, (day.weekday() >= 5, None)), IMPORTED
    packaged = _packaged(day)
    if packaged is not None:
        return packaged, CHINESE_CALENDAR
    rule_based = _statutory(day.year)
    if rule_based is None:
        return None, None
    named, workdays = rule_based
    if day in workdays:
        return (False, None), HOLIDAYS
    if day in named:
        return (True, named[day]), HOLIDAYS
    return (day.weekday() >= 5, None), HOLIDAYS


@lru_cache(maxsize=4096)
def _packaged(day: date) -> tuple[bool, str | None] | None:
    """`chinese_calendar`'s answer, None for a year it does not know. Kept: its data never
    changes in a running process, and asking it for the header's 60 days was 5 ms a page."""
    try:
        return chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None


_STATUTORY: dict[int, tuple[dict[date, str], frozenset[date]] | None] = {}


def _statutory(year: int) -> tuple[dict[date, str], frozenset[date]] | None:
    """`holidays`' China for one year (its names, its recorded make-up working days), None
    for a year it has nothing for. Cached: building it costs about a millisecond."""
    if year not in _STATUTORY:
        china = holidays.country_holidays("CN", years=year)
        named = {d: str(n) for d, n in china.items() if d.year == year}
        workdays = frozenset(d for d in getattr(china, "weekend_workdays", ()) if d.year == year)
        _STATUTORY[year] = (named, workdays) if named else None
    return _STATUTORY[year]


def _elapsed(begin: datetime, end: datetime) -> timedelta:
    # Same-zone subtraction ignores UTC offset changes; going through UTC does not.
    return end.astimezone(UTC) - begin.astimezone(UTC)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name}: a timezone-aware datetime is required, got {value!r}")
