"""A real server and a real browser: Kefu on a fresh SQLite database set up the way
`kefu init --demo` does it, served by Werkzeug on 127.0.0.1, driven by Playwright with
Debian's chromium (`.ci/run` installs it; Playwright cannot download browsers here)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from engine import FixedClock, Kefu, Settings
from engine.persistence.db import Database
from web import create_app
from web.cli import main

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
    url = f"sqlite:///{folder / 'kefu.sqlite3'}"
    env = {"KEFU_PROCESSES_DIR": str(ROOT / "processes"), "KEFU_FORMS_DIR": str(ROOT / "forms")}
    result = CliRunner().invoke(main, ["--database-url", url, "init", "--demo"], env=env)
    assert result.exit_code == 0, result.output
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    settings = Settings(database_url=url, processes_dir=ROOT / "processes",
                        forms_dir=ROOT / "forms")
    kefu = Kefu(settings, clock=clock, database=Database(url))
    app = create_app({"SECRET_KEY": "browser-test"}, kefu=kefu)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{httpd.server_port}", "kefu": kefu, "clock": clock}
    httpd.shutdown()
    thread.join(timeout=10)
    kefu.db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()
