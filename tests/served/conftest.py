"""The shipped commands as a centre runs them: `kefu init --demo` and `kefu serve` started
as processes on a free port, on SQLite and (where KEFU_TEST_DATABASES names it) on a fresh
PostgreSQL database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import DATABASES, PG_URL, SHANGHAI
from tests.served.driver import Served, served

#: Monday 23 November 2026, 09:00 in the centre: a day shift with the demo roster on duty.
START = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards: `kefu init` migrates
    it from empty, as on a new installation."""
    url = make_url(PG_URL)
    name = f"kefu_served_{uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def installation(kind: str, folder: Path) -> Iterator[str]:
    """The database URL of a new installation in `folder`."""
    if kind == "postgres":
        with fresh_postgres() as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'kefu.sqlite3'}"


@pytest.fixture(scope="module", params=DATABASES)
def kefu_served(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp(f"served-{request.param}")
    with installation(request.param, folder) as url, served(folder, url, START) as running:
        yield running
    log = running.log_text()
    assert "Traceback" not in log, log[-3000:]
    assert "database is locked" not in log, log[-3000:]
