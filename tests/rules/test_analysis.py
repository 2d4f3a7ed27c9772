"""C11: the monthly complaint analysis — hot spots and the three targets."""

from __future__ import annotations

from datetime import datetime

import engine
from engine.records.analysis import monthly_report
from tests.complaints import CONTACT, NOT_JUSTIFIED, do, register, run_to_archive
from tests.conftest import SHANGHAI


def _report(kefu, year: int = 2026, month: int = 11):  # noqa: ANN202
    with kefu.session() as s:
        return monthly_report(s, kefu.settings, year, month)


def test_C11_month_shows_hot_spots_and_each_rate_against_its_target(deployed, people,
                                                                     clock) -> None:
    clock.set(datetime(2026, 10, 31, 23, 0, tzinfo=SHANGHAI))
    register(deployed, people["agent01"], category="network")  # October: not counted
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    run_to_archive(deployed, people)  # fee, closed on time, satisfied
    register(deployed, people["agent02"])  # fee, still open
    late = register(deployed, people["agent03"], category="contract")
    clock.advance(hours=25)
    engine.fire_due(deployed, clock.now())  # 24 h passed: escalated (C9)
    do(deployed, late, "contact", people["duty01"], CONTACT)
    do(deployed, late, "judge", people["duty01"], NOT_JUSTIFIED)
    do(deployed, late, "explain", people["agent03"],
       {"reply_channel": "sms", "explanation": NOT_JUSTIFIED["explanation"]})

    report = _report(deployed)
    assert (report.month, report.complaints) == ("2026-11", 3)
    assert report.hot_spots == [("fee", 2), ("contract", 1)]
    assert (report.resolution.part, report.resolution.whole) == (2, 3)
    assert report.resolution.met is False  # target 99 %
    assert (report.on_time.part, report.on_time.whole) == (1, 2)  # the escalated one was late
    assert (report.satisfaction.part, report.satisfaction.whole) == (1, 1)
    assert report.satisfaction.met is True  # target 95 %
    assert _report(deployed, 2026, 10).hot_spots == [("network", 1)]


def test_C11_targets_are_settings(deployed, people) -> None:
    run_to_archive(deployed, people)
    register(deployed, people["agent02"])
    deployed.settings = deployed.settings.with_overrides({"target_resolution_rate": 0.5})
    report = _report(deployed)
    assert report.resolution.target == 0.5 and report.resolution.met is True


def test_C11_a_month_without_complaints_reports_no_data_not_100_percent(deployed) -> None:
    report = _report(deployed, 2026, 1)
    assert report.complaints == 0 and report.resolution.value is None
    assert report.resolution.met is None
