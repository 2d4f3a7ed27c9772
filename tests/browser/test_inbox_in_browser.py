"""The inbox's own refresh in a real browser on `kefu serve`: it reloads at the URL of the
filters applied, never while someone types in the search box or has a choice not applied
(a meta refresh used to throw those away), and as soon as its lists changed. The page's
clock is Playwright's, moved on by the test: no waiting."""

from __future__ import annotations

from typing import Any

from tests.browser.test_complaint_in_browser import DESKTOP, Staff
from tests.served.driver import COMPLAINT_INTAKE, Desk
from web.views.inbox import POLL_SECONDS

MINUTE = 60_000


def test_the_inbox_refreshes_itself_but_not_under_someones_fingers(
        browser: Any, server: dict[str, Any]) -> None:
    staff = Staff(browser, server, DESKTOP)
    page = staff.page
    try:
        staff.login("duty01")
        page.clock.install()
        staff.go("/inbox?sort=created&due=overdue")
        paused = page.locator("#refresh-paused")
        made = page.locator("#updated").inner_text()
        page.select_option('select[name="process"]', "complaint")  # chosen, not applied
        page.clock.run_for(MINUTE + 1000)
        assert paused.is_visible() and "暂不自动刷新" in paused.inner_text()
        assert page.locator('select[name="process"]').input_value() == "complaint"  # kept
        page.select_option('select[name="process"]', "")
        page.fill('input[name="q"]', "800")  # typing, the cursor still in the box
        page.clock.run_for(MINUTE)
        assert page.locator('input[name="q"]').input_value() == "800"
        page.fill('input[name="q"]', "")
        page.locator("h1").click()  # done: nothing typed, nothing chosen, no field in focus
        staff.clock.advance(minutes=3)  # the served centre's time moves on meanwhile
        with page.expect_navigation():
            page.clock.run_for(MINUTE)
        assert page.url.endswith("/inbox?sort=created&due=overdue")  # the applied filters
        assert page.locator("#refresh-paused").is_hidden()
        assert page.locator('select[name="due"]').input_value() == "overdue"
        updated = page.locator("#updated").inner_text()
        assert "更新于" in updated and updated != made  # a new page, three minutes later
    finally:
        staff.context.close()


def test_C3_an_open_inbox_shows_a_new_complaint_within_seconds_and_only_then_reloads(
        browser: Any, server: dict[str, Any]) -> None:
    """Between its minute reloads, the page asks every POLL_SECONDS whether its lists changed
    (/inbox/version) and reloads as soon as they did: a duty supervisor sees a complaint
    offered to them seconds after an agent registers it, without a reload before."""
    staff = Staff(browser, server, DESKTOP)
    page = staff.page
    agent = Desk(server["base"], "agent01")
    try:
        staff.login("duty01")
        page.clock.install()
        staff.go("/inbox")
        page.evaluate("window.kefuSamePage = true")  # gone if the page reloads
        with page.expect_response(lambda r: "/inbox/version" in r.url):
            page.clock.run_for(POLL_SECONDS * 1000 + 500)
        assert page.evaluate("window.kefuSamePage === true")  # nothing changed: no reload
        agent.login()
        number = agent.start("complaint", COMPLAINT_INTAKE)
        with page.expect_navigation():
            page.clock.run_for(POLL_SECONDS * 1000 + 500)
        assert number in page.locator("#offered").inner_text()
    finally:
        agent.close()
        staff.context.close()
