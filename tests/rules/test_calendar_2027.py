"""The calendar beyond 2026 (issue 16): which source answers for 2027, the schedule the
centre imports, how far it reaches, and the L7/S6 checks and working-time deadlines across
元旦 and the Spring Festival 2027 with their 调休 days. The clock is pinned in every test
(FixedClock), so they pass on any date.

tests/data/calendar/schedule_2027_test.yaml is test data shaped like a State Council notice
(元旦 1–3 Jan; 春节 5–12 Feb; make-up working days Sun 31 Jan and Sat 20 Feb), not the notice.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays
import pytest
from sqlalchemy import func, select

import engine
from engine.persistence.calendar_models import CalendarDay, CalendarImport
from engine.persistence.models import HistoryRecord
from engine.timing.calendar import WorkingCalendar
from engine.timing.calendar_store import CalendarFileError, calendar_for, import_schedule
from tests.rules.test_leave_process import data_of

SH = ZoneInfo("Asia/Shanghai")
SCHEDULE = Path(__file__).parents[1] / "data" / "calendar" / "schedule_2027_test.yaml"


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def load(kefu, path: Path = SCHEDULE, by: str = "owner01") -> list[CalendarImport]:
    with kefu.session() as s:
        rows = import_schedule(s, path, by, kefu.clock.now(), kefu.settings)
        return [(r.year, r.source, r.loaded_by, r.loaded_at) for r in rows]


def cal(kefu) -> WorkingCalendar:
    with kefu.session() as s:
        return calendar_for(s, kefu.settings)


# --- what the packages give for 2027 ---------------------------------------------------------

def test_L7_the_packages_2027_chinesecalendar_has_nothing_holidays_has_no_make_up_days() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.get_holiday_detail(date(2027, 1, 1))
    china = holidays.country_holidays("CN", years=2027)
    assert china.get(date(2027, 1, 1)) == "New Year's Day"
    spring = sorted(d for d, n in china.items() if "Spring Festival" in n or "Eve" in n)
    assert spring == [date(2027, 2, 5) + timedelta(days=n) for n in range(6)]  # 5–10 Feb
    assert not [d for d in china.weekend_workdays if d.year == 2027]  # no 调休 working days
    plain = WorkingCalendar()
    assert plain.source_of(date(2027, 2, 8)) == "holidays" and not plain.covered(date(2027, 2, 8))
    assert plain.is_public_holiday(date(2027, 1, 1))  # provisional, not silently ordinary
    assert not plain.is_working_day(date(2027, 1, 31))  # a Sunday: the package cannot know


# --- the imported schedule --------------------------------------------------------------------

def test_L7_an_imported_schedule_covers_2027_with_its_make_up_days_and_who_loaded_it(
        kefu) -> None:
    assert load(kefu) == [(2027, "测试用 2027 年放假安排 / test schedule 2027", "owner01",
                           kefu.clock.now())]
    c = cal(kefu)
    assert c.covered(date(2027, 2, 20)) and c.source_of(date(2027, 2, 20)) == "imported"
    assert c.holiday_name(date(2027, 1, 2)) == "元旦"  # a Saturday, named by the schedule
    assert c.holiday_name(date(2027, 2, 11)) == "春节"  # beyond holidays' 5–10 Feb
    assert c.is_working_day(date(2027, 1, 31)) and c.is_working_day(date(2027, 2, 20))
    assert c.holiday_name(date(2027, 1, 31)) is None and not c.is_public_holiday(date(2027, 2, 20))
    assert c.is_working_day(date(2027, 4, 6))  # any other day of 2027 is ordinary
    # 8 working hours from Thursday 4 Feb 14:00: 4 h that day, then Saturday 13 Feb is an
    # ordinary weekend, Sunday too, so Monday 15 Feb 13:00.
    assert c.add_working_time(sh(2027, 2, 4, 14), timedelta(hours=8)) == sh(2027, 2, 15, 13)
    # From Friday 19 Feb 14:00: the make-up Saturday 20 Feb works.
    assert c.add_working_time(sh(2027, 2, 19, 14), timedelta(hours=8)) == sh(2027, 2, 20, 13)
    # 元旦: Thursday 31 Dec 2026 17:00 + 2 h -> Monday 4 Jan 2027 10:00.
    assert c.add_working_time(sh(2026, 12, 31, 17), timedelta(hours=2)) == sh(2027, 1, 4, 10)


def test_L7_a_new_import_of_a_year_replaces_the_old_one(kefu, tmp_path) -> None:
    load(kefu)
    fix = tmp_path / "fix.csv"
    fix.write_text("date,type,name\n2027-01-01,holiday,元旦\n2027-02-06,holiday,春节\n",
                   encoding="utf-8")
    load(kefu, fix, by="cshead")
    c = cal(kefu)
    assert c.holiday_name(date(2027, 2, 6)) == "春节" and c.holiday_name(date(2027, 2, 5)) is None
    with kefu.session() as s:
        assert [(r.year, r.loaded_by) for r in s.scalars(select(CalendarImport)
                                                         .order_by(CalendarImport.id))] == [
            (2027, "owner01"), (2027, "cshead")]


def test_L7_a_bad_schedule_file_names_each_bad_line_and_saves_nothing(kefu, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,type,name\n2027-01-01,holiday,元旦\n2027-13-01,holiday,x\n"
                   "2027-02-01,workday,周一\n2027-02-07,rest,x\n2027-01-01,workday,x\n",
                   encoding="utf-8")
    with pytest.raises(CalendarFileError) as caught:
        load(kefu, bad)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 5", "line 4", "line 6",
                                                   "line 6"]
    assert "不是 YYYY-MM-DD 日期" in problems[0] and "must be holiday or workday" in problems[1]
    assert "a make-up working day is a Saturday or Sunday" in problems[2]
    assert "both as a holiday and as a make-up working day (line 2)" in problems[3]
    with kefu.session() as s:
        assert s.scalar(select(func.count()).select_from(CalendarDay)) == 0


# --- coverage ---------------------------------------------------------------------------------

def test_L7_coverage_says_when_the_next_60_days_are_not_covered(kefu) -> None:
    kefu.clock.set(sh(2026, 12, 1, 9))
    with kefu.session() as s:
        gap = engine.calendar_coverage(s, kefu.settings, kefu.clock.now())
    assert not gap.ok and gap.first_gap == date(2027, 1, 1) and gap.gap_sources == ("holidays",)
    assert "2027-01-01 起未知" in gap.message and "kefu calendar import" in gap.message
    load(kefu)
    with kefu.session() as s:
        assert engine.calendar_coverage(s, kefu.settings, kefu.clock.now()).ok
    kefu.clock.set(sh(2027, 11, 20, 9))
    with kefu.session() as s:
        late = engine.calendar_coverage(s, kefu.settings, kefu.clock.now())
    assert late.first_gap == date(2028, 1, 1)


# --- the rules on the 2027 roster -------------------------------------------------------------

@pytest.fixture
def new_year(deployed):
    """The demo roster from 28 Dec 2026 to 28 Feb 2027, the clock on 28 Dec 2026 09:00."""
    from engine.demo.roster import generate_roster

    deployed.clock.set(sh(2026, 12, 28, 9))
    with deployed.session() as s:
        generate_roster(s, date(2026, 12, 28), date(2027, 2, 28), tz=SH,
                        calendar=calendar_for(s, deployed.settings))
    return deployed


def worker_on(kefu, day: date, kind: str = "day") -> str:
    with kefu.session() as s:
        shift = engine.people.roster.shift_on(s, day, kind)
        return sorted(a.person.username for a in shift.assignments if a.duty == "staff"
                      and a.person.job_type == "hotline")[0]


def leave(kefu, people, username: str, day: date, **extra):
    data = {"kind": "general_personal", "reason": "家事",
            "start": sh(day.year, day.month, day.day, 8).isoformat(),
            "end": sh(day.year, day.month, day.day, 20).isoformat(), **extra}
    with kefu.session() as s:
        return engine.start_case(kefu, s, "leave", people[username], data).number


def history_of(kefu, number: str) -> list[tuple[str, dict]]:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return [(h.action, h.data) for h in s.scalars(select(HistoryRecord).where(
            HistoryRecord.case_id == case.id).order_by(HistoryRecord.seq))]


def test_L7_leave_on_new_years_day_2027_is_refused_after_the_import(new_year, people) -> None:
    load(new_year)
    day = date(2027, 1, 2)  # a Saturday of 元旦 in the imported schedule, not in `holidays`
    person = worker_on(new_year, day)
    new_year.clock.set(sh(2027, 1, 1, 9))
    with pytest.raises(engine.RuleViolation) as caught:
        leave(new_year, people, person, day)
    assert caught.value.rules == ["L7"]
    assert "节假日（元旦）班次" in str(caught.value)


def test_L7_S6_a_check_beyond_the_covered_range_is_flagged_on_the_case(new_year,
                                                                       people) -> None:
    day = date(2027, 1, 12)
    number = leave(new_year, people, worker_on(new_year, day), day)
    [(action, data)] = [h for h in history_of(new_year, number)
                        if h[0] == "calendar_not_covered"]
    assert (data["from"], data["sources"]) == ("2027-01-12", ["holidays"])
    notes = data_of(new_year, number)["rule_notes"]
    assert any("日历未覆盖 2027-01-12" in n and "L7" in n for n in notes)


def test_L7_no_flag_once_the_year_is_imported(new_year, people) -> None:
    load(new_year)
    day = date(2027, 1, 12)
    number = leave(new_year, people, worker_on(new_year, day), day)
    assert "calendar_not_covered" not in [a for a, _ in history_of(new_year, number)]


def test_S6_no_swap_on_a_spring_festival_2027_shift_but_the_make_up_sunday_is_ordinary(
        new_year, people) -> None:
    load(new_year)
    with new_year.session() as s:
        festival = engine.people.roster.shift_on(s, date(2027, 2, 11), "day")
        make_up = engine.people.roster.shift_on(s, date(2027, 1, 31), "day")
        assert (festival.is_public_holiday, festival.holiday_name) == (True, "春节")
        assert not make_up.is_public_holiday
    requester = worker_on(new_year, date(2027, 2, 11))
    with new_year.session() as s:
        theirs = engine.people.roster.shift_on(s, date(2027, 1, 31), "day")  # a make-up Sunday
        assert requester not in {a.person.username for a in theirs.assignments}
        counterpart = next(a.person.username for a in theirs.assignments
                           if a.duty == "staff" and a.person.job_type == "hotline")
    data = {"my_shift_date": "2027-02-11", "my_shift_kind": "day",
            "counterpart": counterpart, "their_shift_date": "2027-01-31",
            "their_shift_kind": "day", "reason": "家事"}
    with new_year.session() as s, pytest.raises(engine.RuleViolation) as caught:
        engine.start_case(new_year, s, "shift_swap", people[requester], data)
    assert "S6" in caught.value.rules  # the festival shift only: the make-up Sunday is not
    assert [b.facts["holiday"] for b in caught.value.breaches if b.rule == "S6"] == ["春节"]


def test_L7_a_working_time_deadline_past_the_schedule_is_flagged_not_silently_computed(
        new_year, people) -> None:
    from engine.timing.deadlines import script_helpers

    day = date(2026, 12, 30)
    number = leave(new_year, people, worker_on(new_year, day), day)
    with new_year.session() as s:
        case = engine.case_by_number(s, number)
        working_time = script_helpers(new_year.settings, s, case, new_year.clock)["working_time"]
        # Thu 31 Dec 17:00 + 2 h: 元旦 1 Jan is a day off by `holidays`, so Mon 4 Jan 10:00,
        # but 2027 is provisional there, so the case says so.
        assert working_time("2026-12-31T17:00:00+08:00", "PT2H") == "2027-01-04T10:00:00+08:00"
    [(_, data)] = [h for h in history_of(new_year, number) if h[0] == "calendar_not_covered"]
    assert (data["from"], data["to"]) == ("2027-01-01", "2027-01-04")
    assert "working-time deadline" in data["note"]
    load(new_year)
    with new_year.session() as s:
        case = engine.case_by_number(s, number)
        working_time = script_helpers(new_year.settings, s, case, new_year.clock)["working_time"]
        assert working_time("2026-12-31T17:00:00+08:00", "PT2H") == "2027-01-04T10:00:00+08:00"
    assert len([h for h in history_of(new_year, number) if h[0] == "calendar_not_covered"]) == 1
