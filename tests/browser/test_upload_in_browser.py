"""One upload in a real browser on `kefu serve` (waitress and its timer worker, started as a
process by tests/browser/conftest.py): the agent picks a screenshot in the complaint form
and it is on the case page with its SHA-256 (C1) — through the served app's real upload
limits and file store, not a test server in this process."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.attachments import PNG
from tests.browser.test_complaint_in_browser import DESKTOP, Staff


def test_C1_agent_uploads_a_screenshot_in_the_browser(browser: Any, server: dict[str, Any],
                                                      tmp_path) -> None:
    shot = tmp_path / "截图.png"
    shot.write_bytes(PNG)
    staff = Staff(browser, server, DESKTOP)
    try:
        staff.login("agent01")
        page = staff.go("/start/complaint")
        page.fill("#in-complainant_name", "陈先生")
        page.fill("#in-complainant_phone", "13800138000")
        page.locator('input[name="channel"][value="hotline"]').check()
        page.select_option("#in-category", "fee")
        page.fill("#in-content", "本月话费多扣了 30 元，附截图。")
        page.set_input_files("#in-evidence", str(shot))
        staff.submit("提交")
        assert "投诉受理回执" in page.locator("h1").inner_text()
        number = page.url.split("/cases/")[1].split("/")[0]
        staff.go(f"/cases/{number}")
        attachments = page.locator("#attachments")
        assert "截图.png" in attachments.inner_text()
        assert hashlib.sha256(PNG).hexdigest() in attachments.inner_text()
        download = staff.context.request.get(
            server["base"] + attachments.get_by_role("link", name="截图.png")
            .get_attribute("href"))
        assert download.ok and download.body() == PNG  # the served file store kept it whole
    finally:
        staff.context.close()
