"""The roster (issue 4): the demo rotation, holiday duty from the official calendar, and
who the shift leader on duty is."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import func, select

import engine
from engine.demo.roster import MIN_STAFF, generate_roster
from engine.persistence.models import Person
from engine.persistence.roster_models import Shift, ShiftAssignment

SH = ZoneInfo("Asia/Shanghai")


def test_demo_roster_covers_every_day_and_night_with_a_leader_and_minimum_staff(
        rostered) -> None:
    with rostered.session() as s:
        shifts = s.scalars(select(Shift).order_by(Shift.starts_at)).all()
        assert len(shifts) == 2 * 61  # November and December
        for shift in shifts:
            duties = Counter(a.duty for a in shift.assignments)
            assert duties["leader"] == 1 and duties["staff"] >= shift.min_staff == MIN_STAFF
        for earlier, later in zip(shifts, shifts[1:], strict=False):
            assert earlier.ends_at == later.starts_at, "no gap in the 24-hour service"


def test_demo_rotation_gives_everyone_rest_between_shifts(rostered) -> None:
    with rostered.session() as s:
        rows = s.scalars(select(ShiftAssignment).join(Shift).order_by(Shift.starts_at)).all()
        worked: dict[str, list[Shift]] = {}
        for a in rows:
            worked.setdefault(a.person.username, []).append(a.shift)
    for username, shifts in worked.items():
        for earlier, later in zip(shifts, shifts[1:], strict=False):
            assert later.starts_at - earlier.ends_at >= timedelta(hours=12), username


def test_generating_the_same_month_again_adds_nothing(rostered) -> None:
    with rostered.session() as s:
        assert generate_roster(s, date(2026, 11, 1), date(2026, 11, 30), tz=SH) == 0
        assert s.scalar(select(func.count()).select_from(Shift)) == 122


def test_holiday_duty_follows_the_official_calendar(rostered) -> None:
    with rostered.session() as s:
        generate_roster(s, date(2026, 9, 30), date(2026, 10, 11), tz=SH)
        flags = {(sh.day.isoformat(), sh.kind): (sh.is_public_holiday, sh.holiday_name)
                 for sh in s.scalars(select(Shift).where(Shift.day < date(2026, 11, 1)))}
    assert flags[("2026-10-01", "day")] == (True, "National Day")
    assert flags[("2026-09-30", "night")] == (True, "National Day")  # runs into 1 October
    assert flags[("2026-09-30", "day")] == (False, None)
    assert flags[("2026-10-10", "day")] == (False, None)  # make-up working day (调休)
    assert flags[("2026-10-11", "day")] == (False, None)  # an ordinary Sunday


def test_shift_leader_on_duty_is_the_rostered_one_else_the_own_leader(rostered) -> None:
    monday_morning = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    with rostered.session() as s:
        def on_duty(at, person=None):
            leader = engine.shift_leader_on_duty(s, at, person)
            return leader.username if leader else None

        assert on_duty(monday_morning, "agent01") == "leader04"
        assert on_duty(monday_morning) == "leader04"
        assert on_duty(monday_morning.replace(hour=21), "agent01") == "leader03"
        # At 03:00 the night shift that began on Sunday evening is still on duty.
        sunday_night = s.scalars(select(Shift).where(Shift.day == date(2026, 11, 22),
                                                     Shift.kind == "night")).one()
        leading = next(a.person.username for a in sunday_night.assignments
                       if a.duty == "leader")
        assert on_duty(monday_morning.replace(hour=3)) == leading
        agent01 = s.scalars(select(Person).where(Person.username == "agent01")).one()
        assert on_duty(datetime(2027, 3, 1, 9, 0, tzinfo=SH), agent01) == "leader01"
        assert on_duty(monday_morning, "leader04") is None  # never their own leader


def test_own_leader_wins_when_several_leaders_are_on_duty(rostered) -> None:
    monday_morning = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    with rostered.session() as s:
        shift = s.scalars(select(Shift).where(Shift.starts_at <= monday_morning,
                                              Shift.ends_at > monday_morning)).one()
        leader01 = s.scalars(select(Person).where(Person.username == "leader01")).one()
        shift.assignments.append(ShiftAssignment(person=leader01, duty="leader",
                                                 origin="regular"))
        s.flush()
        assert engine.shift_leader_on_duty(s, monday_morning, "agent01").username == "leader01"
        assert engine.shift_leader_on_duty(s, monday_morning, "agent09").username == "leader04"


def test_kefu_init_demo_loads_a_month_of_roster_once(tmp_path, settings, monkeypatch) -> None:
    from web.cli import main

    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    monkeypatch.setenv("KEFU_PROCESSES_DIR", str(settings.processes_dir))
    monkeypatch.setenv("KEFU_FORMS_DIR", str(settings.forms_dir))
    runner = CliRunner()
    first = runner.invoke(main, ["--database-url", url, "init", "--demo"])
    assert first.exit_code == 0, first.output
    assert "已部署: leave" in first.output and "已部署: shift_swap" in first.output
    assert "已部署: request_report" in first.output
    kefu = engine.Kefu(settings.with_overrides({"database_url": url}))
    today = kefu.clock.now().astimezone(SH).date()
    with kefu.session() as s:
        days = set(s.scalars(select(Shift.day)))
    assert today in days and len(days) >= 31 and min(days) == today.replace(day=1)
    again = runner.invoke(main, ["--database-url", url, "init", "--demo"])
    assert again.exit_code == 0 and "已载入排班：新增 0 个班次" in again.output
    kefu.db.dispose()


def test_kefu_init_demo_lays_out_the_centres_month_on_a_months_last_evening_utc(
        tmp_path, settings, monkeypatch) -> None:
    """At 20:00 UTC on 31 March it is already 1 April in the centre: the demo roster
    starts with April, so the shift leader on duty today is known. The time is
    the installation's clock file (setting clock_file), as an end-to-end test sets it."""
    from web.cli import main

    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    clock_file = tmp_path / "clock"
    clock_file.write_text(datetime(2027, 3, 31, 20, 0, tzinfo=UTC).isoformat(), "utf-8")
    monkeypatch.setenv("KEFU_PROCESSES_DIR", str(settings.processes_dir))
    monkeypatch.setenv("KEFU_FORMS_DIR", str(settings.forms_dir))
    monkeypatch.setenv("KEFU_CLOCK_FILE", str(clock_file))
    result = CliRunner().invoke(main, ["--database-url", url, "init", "--demo"])
    assert result.exit_code == 0, result.output
    kefu = engine.Kefu(settings.with_overrides({"database_url": url}))
    with kefu.session() as s:
        days = set(s.scalars(select(Shift.day)))
    assert min(days) == date(2027, 4, 1) and max(days) == date(2027, 5, 31)
    kefu.db.dispose()
