"""Issue 15 in a real browser on `kefu serve`'s app: the centre director lands on the
dashboard, whose server-drawn charts link to the cases behind them; an agent's inbox shows
VIP, complainant, subject and urgency; the pages pass the display check. Screenshots of the
dashboard and the inbox go to docs/screenshots/ for the README."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import engine
from engine.persistence.models import Person
from tests.browser.test_complaint_in_browser import DESKTOP, Staff
from tests.web import world
from tests.web.test_display import problems


@pytest.fixture(scope="module")
def staff(browser: Any, server: dict[str, Any]) -> Staff:
    """The demo world written into the served installation's database through the engine
    (as a second process of the centre would), then the served clock set to the world's."""
    served = server["served"]
    settings = engine.settings_from_env().with_overrides(
        {k.removeprefix("KEFU_").lower(): v for k, v in served.env.items()
         if k.startswith("KEFU_") and k != "KEFU_CLOCK_FILE"})
    kefu = engine.Kefu(settings, clock=engine.FixedClock(served.clock.now()))
    with kefu.session() as s:
        people = {p.username: engine.actor_for(p) for p in s.scalars(select(Person))}
    world.build(kefu, people)
    served.clock.set(kefu.clock.now())
    kefu.db.dispose()
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
