"""One upload in a real browser (Debian's chromium driven by Playwright): the agent picks a
screenshot in the complaint form and it is on the case page with its SHA-256 (C1).

The app runs in this process on a free loopback port (werkzeug's server in a thread), on
the same frozen clock and database as the other web tests."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.attachments import PNG
from tests.web.conftest import PASSWORD, set_password

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(reason="Debian's chromium is not installed (apt-get install chromium)",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api",
                                 reason="playwright is not installed (pip install -e .[test])")


@pytest.fixture
def base(app, deployed) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join()


def test_C1_agent_uploads_a_screenshot_in_the_browser(base: str, deployed, tmp_path) -> None:
    set_password(deployed, "agent01")
    shot = tmp_path / "截图.png"
    shot.write_bytes(PNG)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page: Any = browser.new_page(locale="zh-CN")
            page.set_default_timeout(30_000)
            page.goto(base + "/login")
            page.fill("#username", "agent01")
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.goto(base + "/start/complaint")
            page.fill("#in-complainant_name", "陈先生")
            page.fill("#in-complainant_phone", "13800138000")
            page.locator('input[name="channel"][value="hotline"]').check()
            page.select_option("#in-category", "fee")
            page.fill("#in-content", "本月话费多扣了 30 元，附截图。")
            page.set_input_files("#in-evidence", str(shot))
            page.get_by_role("button", name="提交").click()
            assert "投诉受理回执" in page.locator("h1").inner_text()
            number = page.url.split("/cases/")[1].split("/")[0]
            page.goto(f"{base}/cases/{number}")
            attachments = page.locator("#attachments")
            assert "截图.png" in attachments.inner_text()
            assert hashlib.sha256(PNG).hexdigest() in attachments.inner_text()
        finally:
            browser.close()
