"""Issue 15 in a real browser on `kefu serve`: an agent opens the roster from the header,
files a sick leave picking the shifts from their roster (the sick-leave fields appear only
once the leave is sick leave) and a swap naming the colleague by name, whose own shifts the
picker then offers. Screenshots of the roster and the leave form go to docs/screenshots/.

The demo roster at the served clock (23 Nov 2026 09:00): agent01 (刘洋) works the days of
25 and 26 Nov, agent07 (曹宇) the days of 29 and 30 Nov."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_complaint_in_browser import DESKTOP, PHONE, Staff
from tests.web.test_display import problems


@pytest.fixture(scope="module")
def desk(browser: Any, server: dict[str, Any]) -> Staff:
    return Staff(browser, server, DESKTOP)


def _main(page: Any) -> str:
    return page.locator("main").inner_text()


def test_an_agent_reads_the_roster_from_the_header(desk: Staff) -> None:
    desk.login("agent01")
    page = desk.page
    page.locator("nav.main-nav").get_by_role("link", name="排班表").click()
    assert page.locator("h1").inner_text() == "排班表 · 2026年11月"
    mine = page.locator("#my-shifts").inner_text()
    assert "11月25日 白班 08:00–20:00" in mine and "张建国（工号 8001）" in mine
    team = page.locator(".roster-team")
    assert team.count() == 1 and "陈静" in team.inner_text()
    row = team.locator("tbody tr", has_text="11月25日周三").inner_text()
    assert "白班 · 带班" in row and "冯淑华（工号 8004）" in row  # leads the night
    assert not problems(_main(page), {"agent01", "day", "night", "leader01"})
    desk.shot("roster.png", full_page=True)
    desk.logout()


def test_an_agent_files_a_sick_leave_picking_the_shifts(desk: Staff) -> None:
    desk.login("agent01")
    page = desk.go("/roster")
    page.get_by_role("link", name="请假", exact=True).click()
    certificate = page.locator("#field-certificate_from")
    assert certificate.is_hidden() and page.locator("#field-emergency").is_hidden()
    page.locator('input[name="kind"][value="general_personal"]').check()
    assert certificate.is_hidden()
    page.locator('input[name="kind"][value="sick"]').check()
    assert certificate.is_visible() and page.locator("#field-certificate_file").is_visible()
    assert page.locator("#field-phoned_at").is_hidden()  # only for a phoned emergency
    page.select_option("#in-start", label="11月25日 白班 08:00–20:00")
    page.select_option("#in-end", label="11月25日 白班 08:00–20:00")
    page.fill("#in-reason", "发烧，去医院看病")
    assert page.locator("#in-employee").is_visible()  # a colleague by name or 工号
    desk.shot("leave-form.png", full_page=True)
    desk.submit("提交")
    assert "/cases/" in page.url, _main(page)
    assert "病假" in _main(page) and "11月25日 08:00" in _main(page)
    desk.logout()


def test_an_agent_files_a_swap_naming_the_colleague_by_name(desk: Staff) -> None:
    desk.login("agent01")
    page = desk.go("/start/shift_swap")
    page.select_option("#in-my_shift_date", label="11月26日 白班 08:00–20:00")
    page.fill("#in-counterpart", "曹宇")
    page.locator("#in-counterpart").press("Tab")
    expect(page.locator("#in-counterpart")).to_have_value("曹宇（工号 1007）")
    # until a colleague is named, every shift one does not work; then only theirs
    expect(page.locator("#in-their_shift_date option", has_text="11月26日")).to_have_count(0)
    page.select_option("#in-their_shift_date", label="11月30日 白班 08:00–20:00")
    page.fill("#in-reason", "家中有事")
    desk.shot("swap-form.png", full_page=True)
    desk.submit("提交")
    assert "/cases/" in page.url, _main(page)
    assert "曹宇（工号 1007）" in _main(page)
    desk.logout()


def test_the_roster_fits_a_phone_its_month_scrolling_in_its_box(browser: Any,
                                                                 server: dict[str, Any]) -> None:
    phone = Staff(browser, server, PHONE)
    phone.login("agent01")
    phone.go("/roster")
    phone.fits()
    assert phone.page.locator(".roster-scroll").first.evaluate(
        "box => box.scrollWidth > box.clientWidth")  # the month scrolls sideways
    phone.go("/start/leave")
    phone.fits()
    phone.logout()
    phone.context.close()
