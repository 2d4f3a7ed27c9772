"""Issue 12: a centre that outgrew one machine, run as the README's Procfile says: two
gunicorn web processes and two `kefu worker`s on one PostgreSQL. A whole complaint takes
seconds, and a deadline that falls due fires once, however many workers watch it."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from lxml import html
from sqlalchemy import create_engine, text

from tests.conftest import DATABASES
from tests.served.conftest import START, fresh_postgres
from tests.served.driver import (
    COMPLAINT_INTAKE,
    KEFU,
    STEP_LIMIT_S,
    ClockFile,
    Desk,
    initialised,
    running,
    whole_complaint,
)

pytestmark = pytest.mark.skipif(
    "postgres" not in DATABASES,
    reason="several processes share one PostgreSQL (KEFU_TEST_DATABASES=sqlite,postgres); "
           "SQLite has one writing process")
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ClockFile, str]]:
    folder = tmp_path_factory.mktemp("several")
    with fresh_postgres() as url, ExitStack() as stack:
        clock, env = initialised(folder, url, START)
        _, web = stack.enter_context(running(
            [GUNICORN, "--workers", "2", "--threads", "4", "--bind", "127.0.0.1:0",
             "web.wsgi:app"], env, folder / "web.log", r"Listening at: (http://\S+)"))
        for name in ("timers1", "timers2"):
            stack.enter_context(running([KEFU, "worker", "--name", name], env,
                                        folder / f"{name}.log", f"timer worker {name} started"))
        yield web.group(1), clock, url
        logs = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.log")}
    assert not [name for name, log in logs.items() if "Traceback" in log], logs


def test_C1_to_C10_a_complaint_through_two_web_processes(centre) -> None:
    base, clock, _ = centre
    _, steps = whole_complaint(base, clock)
    assert [s for s in steps if s.seconds > STEP_LIMIT_S] == []


def test_C3_a_deadline_watched_by_two_workers_fires_once(centre) -> None:
    base, clock, url = centre
    agent = Desk(base, "agent05")
    agent.login()
    first = agent.start("complaint", COMPLAINT_INTAKE)
    clock.advance(hours=2, minutes=5)  # past the 2-hour contact deadline and its reminder
    agent.login()  # two idle hours ended the first sign-in (security: idle timeout)
    agent.start("complaint", COMPLAINT_INTAKE)  # a commit: NOTIFY wakes both workers
    agent.close()
    supervisor = Desk(base, "duty01")
    supervisor.login()
    deadline = time.monotonic() + 10
    notices = ""
    while first not in notices and time.monotonic() < deadline:
        tree = html.fromstring(supervisor.page("/inbox").text)
        notices = tree.xpath('string(//section[@id="reminders"])')
    supervisor.close()
    assert first in notices
    database = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with database.connect() as conn:
        fired = conn.execute(text(
            "SELECT h.action, count(*) FROM history_record h JOIN case_record c "
            "ON c.id = h.case_id WHERE c.number = :n "
            "AND h.action IN ('reminded', 'overdue', 'timer') GROUP BY h.action"),
            {"n": first}).all()
    database.dispose()
    counts = dict(tuple(row) for row in fired)
    assert counts.get("reminded") == 1
    assert set(counts.values()) == {1}, counts  # every deadline fired once
