"""Working-time and calendar-time deadlines (SPEC C5; holiday days for L7/S6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import yaml

from engine.timing.calendar import (
    WorkingCalendar,
    add_calendar_time,
    calendar_from_settings,
    parse_duration,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_package_schedule_for_2025_national_day_is_what_these_tests_assume() -> None:
    # Oct 1-8 off (National Day + Mid-Autumn); Sunday Sep 28 and Saturday Oct 11 made up.
    assert chinese_calendar.get_holidays(date(2025, 9, 29), date(2025, 10, 12), False) == [
        date(2025, 10, d) for d in range(1, 9)
    ]
    workdays = chinese_calendar.get_workdays(date(2025, 9, 27), date(2025, 10, 12))
    assert date(2025, 9, 28) in workdays and date(2025, 10, 11) in workdays
    assert date(2025, 9, 27) not in workdays and date(2025, 10, 12) not in workdays


def test_C5_working_time_deadline_set_on_national_day_eve_lands_after_holiday() -> None:
    # 1 h on Sep 30, 9 h on Oct 9, 9 h on Oct 10, the last 5 h on make-up Saturday Oct 11.
    deadline = CAL.add_working_time(sh(2025, 9, 30, 17), timedelta(hours=24))
    assert deadline == sh(2025, 10, 11, 14)
    assert deadline.tzinfo == SHANGHAI


def test_C5_working_time_counts_the_sunday_make_up_day_before_national_day() -> None:
    # Without 调休 Friday 17:00 + 2 h would be Monday 10:00; Sunday Sep 28 is worked.
    assert CAL.add_working_time(sh(2025, 9, 26, 17), timedelta(hours=2)) == sh(2025, 9, 28, 10)


def test_tiaoxiu_sunday_make_up_day_is_a_working_day_and_not_a_holiday() -> None:
    assert date(2025, 1, 26).weekday() == 6
    assert CAL.is_working_day(date(2025, 1, 26))
    assert not CAL.is_public_holiday(date(2025, 1, 26))
    assert CAL.holiday_name(date(2025, 1, 26)) is None


def test_tiaoxiu_weekday_in_spring_festival_is_a_public_holiday_not_a_working_day() -> None:
    assert date(2025, 1, 29).weekday() == 2
    assert not CAL.is_working_day(date(2025, 1, 29))
    assert CAL.is_public_holiday(date(2025, 1, 29))
    assert CAL.holiday_name(date(2025, 1, 29)) == "Spring Festival"


def test_L7_S6_only_official_holidays_are_public_holidays() -> None:
    assert all(CAL.is_public_holiday(date(2025, 10, d)) for d in range(1, 9))
    assert CAL.holiday_name(date(2025, 10, 6)) == "Mid-autumn Festival"
    assert not CAL.is_public_holiday(date(2025, 10, 18))  # ordinary Saturday
    centre = WorkingCalendar(extra_days_off=frozenset({date(2025, 10, 20)}))
    assert not centre.is_working_day(date(2025, 10, 20))
    assert not centre.is_public_holiday(date(2025, 10, 20))  # the centre's own day off


def test_aware_datetime_is_judged_by_its_date_in_the_centre_timezone() -> None:
    # 20:00 UTC on Sep 30 is already 04:00 on Oct 1 in Shanghai.
    assert not CAL.is_working_day(datetime(2025, 9, 30, 20, tzinfo=UTC))
    assert CAL.is_public_holiday(datetime(2025, 9, 30, 20, tzinfo=UTC))


def test_extra_days_off_from_settings_push_the_deadline_later() -> None:
    centre = calendar_from_settings({"extra_days_off": ["2025-10-09"]})
    # 1 h Sep 30, 9 h Oct 10, 9 h Oct 11, Sunday off, 5 h Oct 13.
    assert centre.add_working_time(sh(2025, 9, 30, 17), timedelta(hours=24)) == sh(2025, 10, 13, 14)


def test_extra_working_days_from_settings_bring_the_deadline_earlier() -> None:
    centre = calendar_from_settings({"extra_working_days": ["2025-10-08"]})
    assert centre.is_working_day(date(2025, 10, 8))
    assert centre.is_public_holiday(date(2025, 10, 8))  # still holiday duty for the roster
    assert centre.add_working_time(sh(2025, 9, 30, 17), timedelta(hours=24)) == sh(2025, 10, 10, 14)


def test_settings_hours_change_the_length_of_a_working_day() -> None:
    centre = calendar_from_settings({"workday_start": "08:30", "workday_end": "17:30"})
    assert centre.add_working_time(sh(2025, 9, 29, 8), timedelta(hours=9)) == sh(
        2025, 9, 29, 17, 30
    )


def test_settings_read_from_yaml_accept_unquoted_dates_and_explain_unquoted_times() -> None:
    centre = calendar_from_settings(yaml.safe_load("extra_days_off: [2025-10-09]"))
    assert centre.extra_days_off == {date(2025, 10, 9)}
    with pytest.raises(ValueError, match=r"workday_end.*1080.*quote"):
        calendar_from_settings(yaml.safe_load("workday_end: 18:00"))


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"workday_start": "9am"}, "workday_start"),
        ({"workday_end": "25:00"}, "workday_end"),
        ({"workday_start": "18:00", "workday_end": "09:00"}, "workday_start"),
        ({"extra_days_off": "2025-10-09"}, "extra_days_off"),
        ({"extra_days_off": ["2025-13-01"]}, "extra_days_off"),
        ({"extra_working_days": ["20251011"]}, "extra_working_days"),
        ({"extra_working_days": [datetime(2025, 10, 11)]}, "extra_working_days"),
        (
            {"extra_days_off": ["2025-10-09"], "extra_working_days": ["2025-10-09"]},
            "extra_days_off",
        ),
    ],
)
def test_bad_calendar_settings_raise_value_error_naming_the_key(
    settings: dict[str, object], key: str
) -> None:
    with pytest.raises(ValueError, match=key):
        calendar_from_settings(settings)


def test_missing_settings_keep_the_default_calendar() -> None:
    assert calendar_from_settings({"unrelated": 1, "extra_days_off": None}) == WorkingCalendar()


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (sh(2025, 9, 29, 22), sh(2025, 9, 30, 10)),  # Monday night
        (sh(2025, 9, 30, 6), sh(2025, 9, 30, 10)),  # early morning
        (sh(2025, 9, 29, 18), sh(2025, 9, 30, 10)),  # closing time is already closed
        (sh(2025, 10, 18, 10), sh(2025, 10, 20, 10)),  # ordinary Saturday
        (sh(2025, 10, 3, 10), sh(2025, 10, 9, 10)),  # inside the holiday
    ],
)
def test_start_outside_working_hours_counts_from_next_working_period(
    start: datetime, expected: datetime
) -> None:
    assert CAL.add_working_time(start, timedelta(hours=1)) == expected


def test_zero_working_time_from_a_weekend_is_the_next_opening() -> None:
    assert CAL.add_working_time(sh(2025, 10, 19, 15), timedelta(0)) == sh(2025, 10, 20, 9)


def test_deadline_filling_the_day_exactly_ends_at_closing_time_not_next_morning() -> None:
    assert CAL.add_working_time(sh(2025, 9, 29, 9), timedelta(hours=9)) == sh(2025, 9, 29, 18)


def test_aware_start_in_another_zone_is_converted_to_the_centre_zone() -> None:
    deadline = CAL.add_working_time(datetime(2025, 9, 30, 9, tzinfo=UTC), timedelta(hours=24))
    assert deadline == sh(2025, 10, 11, 14)
    assert deadline.tzinfo == SHANGHAI


def test_negative_working_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="duration"):
        CAL.add_working_time(sh(2025, 9, 29, 10), timedelta(hours=-1))


def test_working_days_keep_time_of_day_and_skip_the_holiday() -> None:
    start = sh(2025, 9, 30, 15, 30)
    assert CAL.add_working_days(start, 0) == start
    assert CAL.add_working_days(start, 1) == sh(2025, 10, 9, 15, 30)
    assert CAL.add_working_days(start, 3) == sh(2025, 10, 11, 15, 30)  # make-up Saturday


def test_working_time_between_skips_nights_and_holidays() -> None:
    assert CAL.working_time_between(sh(2025, 9, 30, 17), sh(2025, 10, 9, 10)) == timedelta(hours=2)
    assert CAL.working_time_between(sh(2025, 10, 9, 10), sh(2025, 9, 30, 17)) == -timedelta(hours=2)
    assert CAL.working_time_between(sh(2025, 10, 4, 1), sh(2025, 10, 5, 23)) == timedelta(0)


@pytest.mark.parametrize("hours", [0.5, 1, 9, 24, 100])
def test_working_time_between_measures_back_what_add_working_time_added(hours: float) -> None:
    start = sh(2025, 9, 29, 11, 15)
    duration = timedelta(hours=hours)
    assert CAL.working_time_between(start, CAL.add_working_time(start, duration)) == duration


def test_calendar_time_runs_straight_through_holidays_for_the_24h_hotline() -> None:
    deadline = add_calendar_time(sh(2025, 9, 30, 17), timedelta(hours=24))
    assert deadline == sh(2025, 10, 1, 17)
    assert deadline.tzinfo == SHANGHAI


def test_calendar_time_counts_elapsed_hours_across_a_daylight_saving_change() -> None:
    new_york = ZoneInfo("America/New_York")  # clocks go back on 2025-11-02
    deadline = add_calendar_time(datetime(2025, 11, 1, 12, tzinfo=new_york), timedelta(hours=24))
    assert deadline == datetime(2025, 11, 2, 11, tzinfo=new_york)


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: CAL.add_working_time(naive, timedelta(hours=1)),
        lambda naive: CAL.add_working_days(naive, 1),
        lambda naive: CAL.working_time_between(naive, sh(2025, 10, 9)),
        lambda naive: add_calendar_time(naive, timedelta(hours=1)),
    ],
)
def test_naive_start_is_rejected_naming_the_argument(
    call: Callable[[datetime], object],
) -> None:
    with pytest.raises(ValueError, match="start: a timezone-aware datetime is required"):
        call(datetime(2025, 9, 30, 17))


def test_naive_end_is_rejected_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="end: a timezone-aware datetime is required"):
        CAL.working_time_between(sh(2025, 9, 30, 17), datetime(2025, 10, 9))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT2H", timedelta(hours=2)),
        ("P3D", timedelta(days=3)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT90M", timedelta(minutes=90)),
        ("PT30S", timedelta(seconds=30)),
        ("PT1.5H", timedelta(minutes=90)),
        ("P1W", timedelta(days=7)),
        (" pt2h ", timedelta(hours=2)),
    ],
)
def test_parse_duration_reads_iso_8601(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "P1DT", "2H", "PT2", "P1M", "P1Y", "-PT2H", "PT1H2H", "two hours", "PT2HX"],
)
def test_parse_duration_rejects_bad_text_quoting_it(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_duration(text)


def test_parse_duration_rejects_a_number_instead_of_text() -> None:
    with pytest.raises(ValueError, match="7200"):
        parse_duration(7200)  # type: ignore[arg-type]


def test_year_outside_chinese_calendar_is_provisional_statutory_days_only() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_holiday(date(2099, 1, 1))
    # `holidays` knows 元旦 by rule, so it is a day off, but not the official schedule.
    assert CAL.holiday_name(date(2099, 1, 1)) == "New Year's Day"
    assert CAL.source_of(date(2099, 1, 1)) == "holidays"
    assert not CAL.covered(date(2099, 1, 1))
    assert CAL.is_working_day(date(2099, 1, 2))  # a Friday; no 调休 data, no crash
    assert not CAL.is_working_day(date(2099, 1, 3))  # Saturday
    assert CAL.add_working_time(sh(2099, 1, 2, 17), timedelta(hours=2)) == sh(2099, 1, 5, 10)
    assert CAL.covered(date(2026, 12, 31)) and CAL.source_of(date(2026, 12, 31)) == \
        "chinesecalendar"


def test_extra_days_still_apply_outside_the_package_range() -> None:
    centre = WorkingCalendar(
        extra_days_off=frozenset({date(2099, 1, 1)}),
        extra_working_days=frozenset({date(2099, 1, 3)}),
    )
    assert not centre.is_working_day(date(2099, 1, 1))
    assert centre.is_working_day(date(2099, 1, 3))


def test_working_hours_must_open_before_they_close() -> None:
    with pytest.raises(ValueError, match="workday_start"):
        WorkingCalendar(workday_start=time(18), workday_end=time(9))
