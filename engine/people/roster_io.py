"""A month's roster in and out: `kefu roster import FILE` (CSV or Excel) and
`kefu roster export YYYY-MM`, one line per person on a shift.

Columns: date, kind (day | night), username, duty (leader | staff), and optionally
min_staff (S7) and start/end ("HH:MM"; default 08:00 for day shifts, 20:00 for nights, 12 h).
Every row is checked before anything is written: one line-numbered error per bad row, and
nothing is saved if any row is bad. Each shift needs exactly one leader, who holds the
shift_leader role (roles kept whole). A month that already has swaps or leave on its roster
is not overwritten, since those records point at its shifts.

Excel is read with openpyxl: the maintained pure-Python reader of .xlsx files (no Excel or
LibreOffice needed), in read-only mode so a large sheet streams instead of loading whole.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.demo.roster import DAY_START, MIN_STAFF, NIGHT_START, SHIFT_LENGTH
from engine.errors import KefuError
from engine.people.roster import shift_label
from engine.persistence.models import Case, Person
from engine.persistence.roster_models import (
    SHIFT_KINDS,
    RosterRequest,
    Shift,
    ShiftAssignment,
    SwapRecord,
)
from engine.timing.calendar_store import calendar_for, shift_holiday

COLUMNS = ("date", "kind", "username", "duty", "min_staff", "start", "end")
DUTIES = ("leader", "staff")
_STARTS = {"day": DAY_START, "night": NIGHT_START}


class RosterFileError(KefuError):
    """A roster file refused as a whole; `problems` has one line per bad row."""

    code = "roster_file"

    def __init__(self, file: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{file}: 排班表未导入 / roster not imported: " + "; ".join(problems))


@dataclass
class _Shift:
    day: date
    kind: str
    start: time
    end: time | None
    min_staff: int | None = None
    people: list[tuple[Person, str, int]] = field(default_factory=list)


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for every non-empty row after the header, CSV or .xlsx."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _excel_rows(path)
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    return _rows(path.name, enumerate(reader, start=1))


def _excel_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise RosterFileError(path.name, [f"不是有效的 Excel 文件 / not a valid .xlsx file: "
                                          f"{exc}"]) from None
    try:
        sheet = book.worksheets[0]
        lines = enumerate(([_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)),
                          start=1)
        return _rows(path.name, lines)
    finally:
        book.close()


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.strftime("%H:%M")
    if isinstance(value, date | time):
        return value.isoformat()[:10] if isinstance(value, date) else value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _rows(file: str, lines: Any) -> list[tuple[int, dict[str, str]]]:
    header: list[str] | None = None
    out = []
    for line, cells in lines:
        cells = [str(c).strip() for c in cells]
        if not any(cells):
            continue
        if header is None:
            header = [c.lower() for c in cells]
            missing = [c for c in COLUMNS[:4] if c not in header]
            if missing:
                raise RosterFileError(file, [f"line {line}: 表头缺少 / the header lacks "
                                             f"{', '.join(missing)} (columns: "
                                             f"{', '.join(COLUMNS)})"])
            continue
        out.append((line, {k: (cells[i] if i < len(cells) else "") for i, k in
                           enumerate(header)}))
    if not out:
        raise RosterFileError(file, ["没有任何排班行 / the file has no roster rows"])
    return out


def import_roster(session: Session, path: Path, settings: Settings) -> tuple[str, int, int]:
    """Replace one month's roster from the file; returns (month, shifts, assignments)."""
    rows = read_rows(path)
    shifts, month, problems = _parse(session, rows)
    problems += _check_shifts(shifts)
    if month and not problems:
        problems += _month_in_use(session, month)
    if problems:
        raise RosterFileError(path.name, problems)
    calendar = calendar_for(session, settings)
    first = date.fromisoformat(f"{month}-01")
    after = (first + timedelta(days=32)).replace(day=1)
    old_ids = select(Shift.id).where(Shift.day >= first, Shift.day < after)
    session.execute(delete(RosterRequest).where(RosterRequest.shift_id.in_(old_ids)))
    for old in session.scalars(select(Shift).where(Shift.day >= first, Shift.day < after)):
        session.delete(old)
    session.flush()
    count = 0
    for spec in shifts.values():
        starts = datetime.combine(spec.day, spec.start, calendar.tz)
        if spec.end is None:
            ends = (starts.astimezone(UTC) + SHIFT_LENGTH).astimezone(calendar.tz)
        else:
            ends = datetime.combine(spec.day, spec.end, calendar.tz)
            if ends <= starts:
                ends += timedelta(days=1)
        holiday, name = shift_holiday(calendar, starts, ends)
        shift = Shift(day=spec.day, kind=spec.kind, starts_at=starts, ends_at=ends,
                      min_staff=spec.min_staff if spec.min_staff is not None else MIN_STAFF,
                      is_public_holiday=holiday, holiday_name=name)
        shift.assignments = [ShiftAssignment(person=p, duty=d, origin="regular")
                             for p, d, _line in spec.people]
        session.add(shift)
        count += len(spec.people)
    session.flush()
    return month, len(shifts), count


def _parse(session: Session, rows: list[tuple[int, dict[str, str]]]
           ) -> tuple[dict[tuple[date, str], _Shift], str, list[str]]:
    people = {p.username: p for p in session.scalars(select(Person))}
    shifts: dict[tuple[date, str], _Shift] = {}
    problems: list[str] = []
    month, month_line = "", 0
    for line, row in rows:
        bad = []
        try:
            day = date.fromisoformat(row.get("date", ""))
        except ValueError:
            bad.append(f"date {row.get('date')!r} 不是 YYYY-MM-DD / is not YYYY-MM-DD")
            day = None
        kind = row.get("kind", "").lower()
        if kind not in SHIFT_KINDS:
            bad.append(f"kind {row.get('kind')!r} 须为 day 或 night / must be day or night")
        person = people.get(row.get("username", ""))
        if person is None or not person.active:
            bad.append(f"username {row.get('username')!r} 没有此在职人员 / is no active person")
        duty = row.get("duty", "").lower() or "staff"
        if duty not in DUTIES:
            bad.append(f"duty {row.get('duty')!r} 须为 leader 或 staff / must be leader or staff")
        min_staff, start, end = _optional(row, bad)
        if day is not None:
            if not month:
                month, month_line = f"{day:%Y-%m}", line
            elif f"{day:%Y-%m}" != month:
                bad.append(f"date {day} 不在 {month}（第 {month_line} 行的月份）/ is not in "
                           f"{month}, the month of line {month_line}: one month per file")
        if bad:
            problems.append(f"line {line}: " + "; ".join(bad))
            continue
        spec = shifts.setdefault((day, kind), _Shift(day, kind, start or _STARTS[kind], end))
        if min_staff is not None:
            spec.min_staff = min_staff
        if any(p.id == person.id for p, _d, _l in spec.people):
            problems.append(f"line {line}: {person.username} 在 {day} {kind} 班次上重复 / is "
                            f"listed twice on that shift")
            continue
        spec.people.append((person, duty, line))
    return shifts, month, problems


def _optional(row: dict[str, str], bad: list[str]) -> tuple[int | None, time | None,
                                                           time | None]:
    min_staff = start = end = None
    if row.get("min_staff"):
        try:
            min_staff = int(row["min_staff"])
            if min_staff < 0:
                raise ValueError
        except ValueError:
            bad.append(f"min_staff {row['min_staff']!r} 须为非负整数 / must be a whole number")
    for key in ("start", "end"):
        if row.get(key):
            try:
                value = time.fromisoformat(row[key])
            except ValueError:
                bad.append(f"{key} {row[key]!r} 须为 HH:MM / must be HH:MM")
                continue
            start, end = (value, end) if key == "start" else (start, value)
    return min_staff, start, end


def _check_shifts(shifts: dict[tuple[date, str], _Shift]) -> list[str]:
    """Exactly one leader per shift, and only a holder of the shift_leader role (S4)."""
    problems = []
    for spec in shifts.values():
        zh, en = _label(spec)
        leaders = [(p, line) for p, d, line in spec.people if d == "leader"]
        if not leaders:
            problems.append(f"line {spec.people[0][2]}: {zh}没有班长 / {en} has no leader")
        for person, line in leaders[1:]:
            problems.append(f"line {line}: {zh}已有班长 {leaders[0][0].username}，{person.username}"
                            f" 不能再任班长 / {en} already has a leader")
        for person, line in leaders:
            if "shift_leader" not in person.role_names:
                problems.append(f"line {line}: {person.name}（{person.staff_no}）不是班长，"
                                f"不能任{zh}的班长 / {person.name} ({person.staff_no}) does "
                                f"not hold the shift-leader role and cannot lead {en} (S4)")
    return problems


def _label(spec: _Shift) -> tuple[str, str]:
    return shift_label(Shift(day=spec.day, kind=spec.kind))


def _month_in_use(session: Session, month: str) -> list[str]:
    """Swaps, leave and pending requests point at a month's shifts: not overwritten."""
    first = date.fromisoformat(f"{month}-01")
    after = (first + timedelta(days=32)).replace(day=1)
    ids = select(Shift.id).where(Shift.day >= first, Shift.day < after)
    busy = []
    for shift in session.scalars(select(Shift).where(Shift.id.in_(ids)).order_by(Shift.starts_at)):
        used = any(a.origin != "regular" or a.leave_status for a in shift.assignments)
        used = used or session.scalar(select(SwapRecord.id).where(or_(
            SwapRecord.requester_shift_id == shift.id,
            SwapRecord.counterpart_shift_id == shift.id)).limit(1)) is not None
        used = used or session.scalar(
            select(RosterRequest.id).join(Case, Case.id == RosterRequest.case_id)
            .where(RosterRequest.shift_id == shift.id, Case.state == "running").limit(1)
        ) is not None
        if used:
            zh, en = shift_label(shift)
            busy.append(f"{zh}已有换班、请假或待审批的申请，{month} 的排班表不能覆盖 / {en} has a "
                        f"swap, a leave or a pending request; the roster of {month} cannot be "
                        f"replaced")
    return busy


def export_roster(session: Session, month: str, settings: Settings) -> str:
    """The month's roster as CSV in the import's columns, so it can be edited and loaded
    back (for a month without swaps or leave)."""
    first = date.fromisoformat(f"{month}-01")
    after = (first + timedelta(days=32)).replace(day=1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    shifts = session.scalars(select(Shift).where(Shift.day >= first, Shift.day < after)
                             .order_by(Shift.starts_at, Shift.kind)).all()
    people: dict[int, list[ShiftAssignment]] = defaultdict(list)
    for shift in shifts:
        people[shift.id] = sorted(shift.assignments,
                                  key=lambda a: (a.duty != "leader", a.person.username))
    calendar = calendar_for(session, settings)
    for shift in shifts:
        starts, ends = (m.astimezone(calendar.tz) for m in (shift.starts_at, shift.ends_at))
        for a in people[shift.id]:
            writer.writerow([shift.day.isoformat(), shift.kind, a.person.username, a.duty,
                             shift.min_staff, f"{starts:%H:%M}", f"{ends:%H:%M}"])
    return out.getvalue()
