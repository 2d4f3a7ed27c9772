"""Issue 16: a month's roster in and out (`kefu roster import FILE`, CSV and Excel;
`kefu roster export YYYY-MM`): one line-numbered error per bad row, nothing saved if any row
is bad, and the leading slot only for holders of the shift-leader role (S4)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from engine.people.organisation import DEMO_FILE
from engine.people.roster_io import RosterFileError, export_roster, import_roster
from engine.persistence.roster_models import Shift, ShiftAssignment
from tests.engine.test_cli import cli  # noqa: F401 - the fixture

SH = ZoneInfo("Asia/Shanghai")
HEADER = "date,kind,username,duty,min_staff\n"
GOOD = (HEADER + "2027-01-01,day,leader01,leader,2\n2027-01-01,day,agent01,staff,\n"
        "2027-01-01,day,agent02,staff,\n2027-01-01,night,leader02,leader,1\n"
        "2027-01-01,night,agent04,staff,\n")


def write(tmp_path: Path, text: str, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def shifts(kefu) -> dict[tuple[str, str], list[tuple[str, str]]]:
    with kefu.session() as s:
        return {(sh.day.isoformat(), sh.kind): sorted((a.person.username, a.duty)
                                                      for a in sh.assignments)
                for sh in s.scalars(select(Shift))}


def test_a_months_roster_is_imported_with_holiday_flags_and_exported_back(kefu,
                                                                          tmp_path) -> None:
    with kefu.session() as s:
        assert import_roster(s, write(tmp_path, GOOD), kefu.settings) == ("2027-01", 2, 5)
    assert shifts(kefu)[("2027-01-01", "day")] == [("agent01", "staff"), ("agent02", "staff"),
                                                   ("leader01", "leader")]
    with kefu.session() as s:
        day = s.scalars(select(Shift).where(Shift.kind == "day")).one()
        night = s.scalars(select(Shift).where(Shift.kind == "night")).one()
        assert (day.starts_at, day.ends_at) == (datetime(2027, 1, 1, 8, tzinfo=SH),
                                                datetime(2027, 1, 1, 20, tzinfo=SH))
        assert night.ends_at == datetime(2027, 1, 2, 8, tzinfo=SH) and day.min_staff == 2
        assert day.is_public_holiday and day.holiday_name == "New Year's Day"
        exported = export_roster(s, "2027-01", kefu.settings)
    assert exported.splitlines()[:2] == ["date,kind,username,duty,min_staff,start,end",
                                         "2027-01-01,day,leader01,leader,2,08:00,20:00"]
    again = write(tmp_path, exported, "again.csv")
    with kefu.session() as s:
        assert import_roster(s, again, kefu.settings) == ("2027-01", 2, 5)  # round trip
        assert s.scalar(select(func.count()).select_from(ShiftAssignment)) == 5


def test_S4_an_import_that_lets_an_agent_lead_a_shift_is_refused_naming_it(kefu,
                                                                           tmp_path) -> None:
    bad = GOOD.replace("2027-01-01,night,leader02,leader", "2027-01-01,night,agent05,leader")
    with kefu.session() as s, pytest.raises(RosterFileError) as caught:
        import_roster(s, write(tmp_path, bad), kefu.settings)
    assert caught.value.problems == [
        "line 5: 黄婷（1005）不是班长，不能任1月1日夜班的班长 / 黄婷 (1005) does not hold the "
        "shift-leader role and cannot lead the night shift of 1 Jan (S4)"]
    assert shifts(kefu) == {}


def test_every_bad_row_is_named_by_its_line_and_nothing_is_saved(kefu, tmp_path) -> None:
    bad = (GOOD + "2027-01-32,day,agent03,staff,\n2027-01-02,evening,agent03,staff,\n"
           "2027-01-02,day,nobody,staff,\n2027-02-01,day,agent03,staff,\n"
           "2027-01-01,day,agent01,staff,\n2027-01-03,day,leader03,boss,x\n")
    with kefu.session() as s, pytest.raises(RosterFileError) as caught:
        import_roster(s, write(tmp_path, bad), kefu.settings)
    lines = [p.split(":")[0] for p in caught.value.problems]
    assert lines == ["line 7", "line 8", "line 9", "line 10", "line 11", "line 12"]
    text = "\n".join(caught.value.problems)
    assert "is not YYYY-MM-DD" in text and "must be day or night" in text
    assert "'nobody' 没有此在职人员" in text and "is not in 2027-01, the month of line 2" in text
    assert "is listed twice on that shift" in text and "must be leader or staff" in text
    assert shifts(kefu) == {}


def test_a_month_with_swaps_or_leave_on_it_is_not_overwritten(rostered, tmp_path,
                                                              record_swap) -> None:
    record_swap("agent01", date(2026, 11, 26), "agent07", date(2026, 11, 30))
    month = GOOD.replace("2027-01-01", "2026-11-27")
    with rostered.session() as s, pytest.raises(RosterFileError) as caught:
        import_roster(s, write(tmp_path, month), rostered.settings)
    assert any("11月26日白班已有换班、请假或待审批的申请" in p for p in caught.value.problems)


def test_an_excel_roster_is_read_like_the_csv(kefu, tmp_path) -> None:
    book = Workbook()
    sheet = book.active
    for line in GOOD.splitlines():
        cells = line.split(",")
        if cells[0][:1].isdigit():
            cells[0] = datetime.fromisoformat(cells[0])  # Excel keeps dates as dates
            cells[4] = int(cells[4]) if cells[4] else None
        sheet.append(cells)
    path = tmp_path / "roster.xlsx"
    book.save(path)
    with kefu.session() as s:
        assert import_roster(s, path, kefu.settings) == ("2027-01", 2, 5)


def test_roster_and_calendar_commands(cli, tmp_path) -> None:  # noqa: F811
    cli("init", "--organisation", str(DEMO_FILE))
    out = cli("roster", "import", str(write(tmp_path, GOOD)))
    assert "roster 2027-01 imported: 2 shifts, 5 assignments" in out
    assert cli("roster", "export", "2027-01").startswith("date,kind,username,duty")
    err = cli("roster", "import", str(write(tmp_path, HEADER + "2027-01-01,day,x,staff,\n",
                                            "bad.csv")), code=1)
    assert "排班表未导入 / roster not imported: bad.csv" in err and "line 2:" in err
    schedule = Path(__file__).parents[1] / "data" / "calendar" / "schedule_2027_test.yaml"
    out = cli("calendar", "import", str(schedule), "--as", "owner01")
    assert "imported 2027: 测试用 2027 年放假安排 / test schedule 2027 (by owner01)" in out
    shown = cli("calendar", "show", "--year", "2027")
    assert "2027: imported (official) (测试用 2027 年放假安排" in shown
    assert "2027-01-31 Sun workday 调休上班" in shown and "2027-02-11 Thu holiday 春节" in shown
