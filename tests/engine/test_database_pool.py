"""Pooled PostgreSQL connections (engine.persistence.db): a connection in steady use is not
pinged before each unit of work, and one the server has closed while it sat idle is
replaced before a unit of work gets it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine.persistence import db as db_module
from engine.persistence.db import Database


def _only_postgres(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip(reason="SQLite has no server to close a connection; its pool is not pinged")


def test_a_connection_in_steady_use_is_not_pinged(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _only_postgres(database)
    with database.session() as s:  # in use from here on (it may have sat idle before)
        s.execute(text("SELECT 1"))
    pings = _counted_pings(database, monkeypatch)
    for _ in range(3):
        with database.session() as s:
            s.execute(text("SELECT 1"))
    assert pings == []


def _counted_pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    pings: list[object] = []
    ping = database.engine.dialect.do_ping

    def counted(connection: object) -> bool:
        pings.append(connection)
        return ping(connection)
    monkeypatch.setattr(database.engine.dialect, "do_ping", counted)
    return pings


def test_an_idle_connection_the_server_closed_is_replaced(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _only_postgres(database)
    with database.session() as s:
        pid = s.execute(text("SELECT pg_backend_pid()")).scalar()
    other = Database(database.url)
    with other.engine.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()
    pings = _counted_pings(database, monkeypatch)
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)  # as if idle long enough
    try:
        with database.session() as s:
            assert s.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        assert len(pings) >= 1
    finally:
        database.engine.dispose()  # no closed connection left in the pool for later tests
