"""Issue 15 in a real browser on `kefu serve`'s app: the centre director lands on the
dashboard, whose server-drawn charts link to the cases behind them; an agent's inbox shows
VIP, complainant, subject and urgency; the pages pass the display check. Screenshots of the
dashboard and the inbox go to docs/screenshots/ for the README."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import engine
from engine.demo.roster import generate_roster
from engine.persistence.models import Person
from tests.browser.test_complaint_in_browser import DESKTOP, Staff
from tests.web import world
from tests.web.test_display import problems


@pytest.fixture(scope="module")
def staff(browser: Any, server: dict[str, Any]) -> Staff:
    kefu = server["kefu"]
    with kefu.session() as s:  # the world's dates are in November 2026, the test clock's
        generate_roster(s, date(2026, 11, 1), date(2026, 11, 30), tz=ZoneInfo("Asia/Shanghai"))
    with kefu.session() as s:
        people = {p.username: engine.actor_for(p) for p in s.scalars(select(Person))}
    world.build(kefu, people)
    return Staff(browser, server, DESKTOP)


def _text(page: Any) -> str:
    return page.evaluate("""() => { const c = document.body.cloneNode(true);
        c.querySelectorAll('svg desc, svg title, code, script, style').forEach(e => e.remove());
        return c.innerText; }""")


def test_the_director_lands_on_the_dashboard_and_drills_down_to_cases(staff: Staff) -> None:
    staff.login("director")
    page = staff.page
    assert page.url.endswith("/dashboard")
    assert page.locator("svg").count() >= 4
    assert not problems(_text(page), {"complaint", "fee", "billing", "agent01"})
    staff.shot("dashboard.png", full_page=True)
    page.locator('svg a[*|href*="step=complaint:opinion"]').first.click()
    assert "/work/cases" in page.url and page.locator("tbody tr").count() >= 1
    staff.logout()


def test_the_inbox_shows_vip_complainant_and_urgency(staff: Staff) -> None:
    staff.login("agent01")
    page = staff.page
    assert "VIP" in page.locator("main").inner_text()
    assert "陈先生" in page.locator("main").inner_text()
    assert not problems(_text(page), {"complaint", "fee", "agent01"})
    staff.shot("inbox-busy.png", full_page=True)
    staff.logout()
