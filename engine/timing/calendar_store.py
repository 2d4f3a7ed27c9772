"""The holiday schedule the centre keeps itself: import it, read it back, know how far the
official schedule reaches, and flag what was computed beyond it.

Why a file the centre imports: the State Council publishes next year's 放假安排 each November
or December, and the packages follow weeks or months later (`chinesecalendar` 1.11 ends in
2026; `holidays` 0.109 has 2027's statutory days by rule but none of its 调休 make-up working
days). A schedule imported here wins for its year (engine.timing.calendar).

File formats (one or more years; every year in the file replaces that year's schedule):
YAML  `{source: ..., holidays: [{date|from,to, name}], workdays: [{date, name}] }`
CSV   `date,type,name` with type `holiday` (休) or `workday` (班), one day a line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.errors import KefuError
from engine.persistence.calendar_models import CalendarDay, CalendarImport
from engine.persistence.models import Case
from engine.persistence.roster_models import Shift
from engine.records import history
from engine.timing.calendar import Schedule, WorkingCalendar, calendar_from_settings

_TYPES = {"holiday": True, "休": True, "off": True, "workday": False, "班": False,
          "work": False}
#: (bind id) -> ((newest import id, imports, newest load time), Schedule): one small query
#: per use; a new import changes the stamp, so every worker sees it at its next use.
_CACHE: dict[int, tuple[tuple[Any, ...], Schedule]] = {}


class CalendarFileError(KefuError):
    """A schedule file refused; every bad line is listed and nothing is saved."""

    code = "calendar_file"

    def __init__(self, file: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{file}: " + "; ".join(problems))


@dataclass(frozen=True)
class ScheduleDay:
    day: date
    off: bool
    name: str | None
    where: str


def read_schedule_file(path: Path) -> tuple[str | None, list[ScheduleDay]]:
    """(source named in the file, its days); raises CalendarFileError naming each bad line."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        source, days, problems = None, *_read_csv(text)
    else:
        source, days, problems = _read_yaml(path.name, text)
    seen: dict[date, ScheduleDay] = {}
    for entry in days:
        other = seen.get(entry.day)
        if other is not None and other.off != entry.off:
            problems.append(f"{entry.where}: {entry.day} 既是假日又是调休上班日 / is listed both "
                            f"as a holiday and as a make-up working day ({other.where})")
        if not entry.off and entry.day.weekday() < 5:
            problems.append(f"{entry.where}: {entry.day} 是工作日，调休上班日应是周末 / is a "
                            f"weekday; a make-up working day is a Saturday or Sunday")
        seen[entry.day] = entry
    if not days and not problems:
        problems.append("没有任何日期 / the file lists no days")
    if problems:
        raise CalendarFileError(path.name, problems)
    return source, list(seen.values())


def _read_csv(text: str) -> tuple[list[ScheduleDay], list[str]]:
    days, problems = [], []
    rows = csv.reader(io.StringIO(text))
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or (line == 1 and cells[0].lower() == "date"):
            continue
        where = f"line {line}"
        if len(cells) < 2:
            problems.append(f"{where}: 需要 date,type[,name] / expected date,type[,name]")
            continue
        day = _date(cells[0], where, "date", problems)
        if cells[1].lower() not in _TYPES:
            problems.append(f"{where}: type {cells[1]!r} 须为 holiday 或 workday / must be "
                            f"holiday or workday")
            continue
        if day is not None:
            off = _TYPES[cells[1].lower()]
            name = (cells[2] if len(cells) > 2 else "") or None
            days.append(ScheduleDay(day, off, name or ("公众假日" if off else None), where))
    return days, problems


def _read_yaml(file: str, text: str) -> tuple[str | None, list[ScheduleDay], list[str]]:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CalendarFileError(file, [f"line {mark.line + 1 if mark else '?'}: not valid "
                                       f"YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(doc, dict):
        raise CalendarFileError(file, ["须为映射 / must be a mapping with holidays/workdays"])
    days: list[ScheduleDay] = []
    problems: list[str] = []
    for key, off in (("holidays", True), ("workdays", False)):
        for index, entry in enumerate(doc.get(key) or [], start=1):
            where = f"{key}[{index}]"
            if not isinstance(entry, dict):
                entry = {"date": entry}
            name = entry.get("name")
            first = _date(entry.get("date", entry.get("from")), where, "date", problems)
            last = _date(entry.get("to", entry.get("date", entry.get("from"))), where, "to",
                         problems)
            if first is None or last is None:
                continue
            if last < first or (last - first).days > 31:
                problems.append(f"{where}: from {first} to {last} 不是有效区间 / is not a range "
                                f"of at most a month")
                continue
            for n in range((last - first).days + 1):
                days.append(ScheduleDay(first + timedelta(days=n), off,
                                        str(name) if name else ("公众假日" if off else None),
                                        where))
    return (str(doc["source"]) if doc.get("source") else None), days, problems


def _date(value: Any, where: str, field: str, problems: list[str]) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(f"{where}: {field} {value!r} 不是 YYYY-MM-DD 日期 / is not a "
                        f"YYYY-MM-DD date")
        return None


def import_schedule(session: Session, path: Path, loaded_by: str, now: datetime,
                    settings: Settings) -> list[CalendarImport]:
    """Replace the schedule of every year in the file, record who loaded it and when, and
    re-mark the public-holiday shifts of those years (L7, S6). Nothing is saved on error."""
    source, days = read_schedule_file(path)
    rows = []
    for year in sorted({d.day.year for d in days}):
        row = CalendarImport(year=year, source=source or path.name, loaded_by=loaded_by,
                             loaded_at=now)
        session.add(row)
        session.flush()
        session.add_all(CalendarDay(import_id=row.id, day=d.day, off=d.off, name=d.name)
                        for d in days if d.day.year == year)
        rows.append(row)
    session.flush()
    remark_shifts(session, calendar_for(session, settings), {r.year for r in rows})
    return rows


def load_schedule(session: Session) -> Schedule:
    """The imported schedule in force: for each year, the days of its newest import."""
    key = id(session.get_bind())
    stamp = tuple(session.execute(select(func.max(CalendarImport.id),
                                         func.count(CalendarImport.id),
                                         func.max(CalendarImport.loaded_at))).one())
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    newest = select(CalendarImport.year, func.max(CalendarImport.id).label("id")) \
        .group_by(CalendarImport.year).subquery()
    days = session.execute(select(CalendarDay.day, CalendarDay.off, CalendarDay.name)
                           .join(newest, newest.c.id == CalendarDay.import_id)).all()
    years = frozenset(session.scalars(select(newest.c.year)))
    schedule = Schedule(years=years, days={d: (off, name) for d, off, name in days})
    _CACHE[key] = (stamp, schedule)
    return schedule


def calendar_for(session: Session, settings: Settings) -> WorkingCalendar:
    """The centre's calendar with its imported schedule, in the centre's time zone."""
    return replace(calendar_from_settings(settings.working_calendar),
                   tz=ZoneInfo(settings.timezone), schedule=load_schedule(session))


def imports(session: Session) -> list[CalendarImport]:
    return list(session.scalars(select(CalendarImport).order_by(CalendarImport.year,
                                                                CalendarImport.id)))


def remark_shifts(session: Session, calendar: WorkingCalendar, years: set[int]) -> int:
    """Shifts keep whether they touch a public holiday; a new schedule changes that."""
    changed = 0
    for shift in session.scalars(select(Shift).where(
            Shift.day >= date(min(years), 1, 1) - timedelta(days=1),
            Shift.day <= date(max(years), 12, 31))):
        holiday, name = shift_holiday(calendar, shift.starts_at, shift.ends_at)
        if (shift.is_public_holiday, shift.holiday_name) != (holiday, name):
            shift.is_public_holiday, shift.holiday_name = holiday, name
            changed += 1
    session.flush()
    return changed


def shift_holiday(calendar: WorkingCalendar, starts: datetime,
                  ends: datetime) -> tuple[bool, str | None]:
    """Whether a shift touches a public holiday (a night shift into 元旦 does), and its name."""
    touched = sorted({starts.astimezone(calendar.tz).date(),
                      (ends - timedelta(microseconds=1)).astimezone(calendar.tz).date()})
    names = [n for d in touched if (n := calendar.holiday_name(d))]
    return bool(names), (names[0][:60] if names else None)


@dataclass(frozen=True)
class Coverage:
    """How far the official schedule reaches from today, over the horizon setting."""

    today: date
    horizon: date
    first_gap: date | None
    gap_sources: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.first_gap is None

    @property
    def message(self) -> str:
        if self.first_gap is None:
            return (f"节假日安排已覆盖至 {self.horizon} / the holiday schedule covers the next "
                    f"days through {self.horizon}")
        provisional = "holidays" in self.gap_sources
        extra_zh = "（仅有 holidays 包按规则推算的法定假日，没有调休上班日）" if provisional else ""
        extra_en = (" (only the statutory days the holidays package derives by rule, without "
                    "the make-up working days)") if provisional else ""
        return (f"节假日安排只覆盖到 {self.first_gap - timedelta(days=1)}，{self.first_gap} 起未知"
                f"{extra_zh}；请用 kefu calendar import 导入国务院公布的放假安排。 / The holiday "
                f"schedule ends on {self.first_gap - timedelta(days=1)}; from {self.first_gap} "
                f"it is unknown{extra_en}. Import the State Council's schedule with `kefu "
                f"calendar import`.")


def calendar_coverage(session: Session, settings: Settings, now: datetime) -> Coverage:
    """Whether the next `calendar_horizon_days` are covered by the official schedule, for
    the worker's log and the process owners' and leaders' pages."""
    calendar = calendar_for(session, settings)
    today = now.astimezone(calendar.tz).date()
    horizon = today + timedelta(days=settings.calendar_horizon_days)
    gaps = calendar.uncovered_between(today, horizon)
    sources = tuple(sorted({calendar.source_of(d) or "none" for d in gaps}))
    return Coverage(today, horizon, gaps[0] if gaps else None, sources)


def flag_uncovered(session: Session, case: Case, calendar: WorkingCalendar, at: datetime,
                   days: list[date], what: tuple[str, str],
                   task_spec: str | None = None) -> str | None:
    """Record on the case that a rule or a deadline was computed on days the official
    schedule does not cover; returns the note shown beside the request (None if none)."""
    if not days:
        return None
    first, last = min(days), max(days)
    sources = sorted({calendar.source_of(d) or "none" for d in days})
    note = (f"日历未覆盖 {first}–{last}：{what[0]}未按官方放假安排计算，可能有误。 / Calendar not "
            f"covered {first}–{last}: {what[1]} was not computed on the official holiday "
            f"schedule and may be wrong.")
    history.append(session, case, at=at, actor="system", action="calendar_not_covered",
                   task_spec=task_spec, data={"what": what[1], "from": first.isoformat(),
                                              "to": last.isoformat(), "sources": sources,
                                              "note": note})
    return note
