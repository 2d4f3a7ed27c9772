"""The shipped product and a real browser: `kefu init --demo` and `kefu serve` (waitress with
its timer worker) started as processes on a free port, as the README says, driven by
Playwright with Debian's chromium (`.ci/run` installs it; Playwright cannot download
browsers here)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.served.conftest import START
from tests.served.driver import served

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]

if not Path(CHROMIUM).exists():
    pytest.skip(reason="Debian's chromium is not installed "
                       "(apt-get install chromium; .ci/run does)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api",
                                 reason="playwright is not installed (pip install -e .[test])")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("kefu-browser")
    with served(folder, f"sqlite:///{folder / 'kefu.sqlite3'}", START) as running:
        yield {"base": running.base, "clock": running.clock, "served": running}
    log = running.log_text()
    assert "Traceback" not in log, log[-3000:]
    assert "database is locked" not in log, log[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()
