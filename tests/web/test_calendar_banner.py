"""Issue 16: process owners and leaders see on every page when the official holiday
schedule does not cover the next 60 days; others do not, and the banner goes once the
centre imports the schedule."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.timing.calendar_store import import_schedule
from tests.web.conftest import text_of

SCHEDULE = Path(__file__).parent.parent / "data" / "calendar" / "schedule_2027_test.yaml"


def test_L7_owners_and_leaders_are_told_the_calendar_ends(client, auth, deployed, clock) -> None:
    clock.set(datetime(2026, 12, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    for username in ("owner01", "leader01", "cshead"):
        auth.as_user(username)
        page = text_of(client.get("/inbox"))
        assert "节假日安排只覆盖到2026年12月31日：2027年1月1日起的法定假日" in page, username
    auth.as_user("agent01")
    assert "节假日安排只覆盖到" not in text_of(client.get("/inbox"))
    with deployed.session() as s:
        import_schedule(s, SCHEDULE, "owner01", clock.now(), deployed.settings)
    auth.as_user("owner01")
    assert "节假日安排只覆盖到" not in text_of(client.get("/inbox"))
