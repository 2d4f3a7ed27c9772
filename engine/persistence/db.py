"""Database engine and units of work.

Engine functions take a session and never commit; the caller (a request, a job, a CLI
command) opens one unit of work here and it commits or rolls back in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from engine.persistence.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = create_engine(url, echo=echo, **_engine_options(url))
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        else:
            event.listen(self.engine, "checkout", partial(_ping_if_idle, self.engine.dialect))
            event.listen(self.engine, "checkin", _note_checkin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed if the block finishes, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def create_schema(self) -> None:
        """Bring the schema to the newest migration (Alembic), as `kefu init` does."""
        command.upgrade(alembic_config(self.url), "heads")

    def create_all_for_tests(self) -> None:
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _engine_options(url: str) -> dict[str, object]:
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {}


#: A pooled connection unused this long is pinged before a unit of work gets it.
IDLE_PING_SECONDS = 10.0


def _note_checkin(_dbapi_connection, record) -> None:  # noqa: ANN001 - pool objects
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dialect, dbapi_connection, record, _proxy) -> None:  # noqa: ANN001 - pool objects
    """SQLAlchemy's `pool_pre_ping` pings on every checkout: one round trip of a step's
    dozen, under load, for connections used a few milliseconds before. This pings only a
    connection idle for `IDLE_PING_SECONDS` (the ones a database restart or an idle timeout
    can have closed); a dead one is replaced, as with `pool_pre_ping`."""
    if time.monotonic() - record.info.get("checked_in", 0.0) < IDLE_PING_SECONDS:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception as exc:  # any failure of the ping means the connection is unusable
        raise DisconnectionError("pooled connection failed its ping") from exc
    if not alive:
        raise DisconnectionError("pooled connection failed its ping")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    # Let SQLAlchemy, not the driver, decide when transactions begin (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:  # noqa: ANN001
    # A unit of work takes the write lock up front, so two writers queue instead of one
    # failing half-way with "database is locked" after both have read.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
