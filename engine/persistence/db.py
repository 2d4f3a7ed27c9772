"""Database engine and units of work.

Engine functions take a session and never commit; the caller (a request, a job, a CLI
command) opens one unit of work here and it commits or rolls back in one place.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from engine.persistence import batch
from engine.persistence.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_AFTER_COMMIT = "kefu_after_commit"
_READ_ONLY = "kefu_read_only"
log = logging.getLogger(__name__)


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
            batch.install(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        read_options: dict[str, object] = {_READ_ONLY: True}
        if self.is_postgres:
            read_options["postgresql_readonly"] = True
        self._read_sessions = sessionmaker(self.engine.execution_options(**read_options),
                                           expire_on_commit=False)
        #: Put into every session's `info` (the history key, engine.kefu): any unit of
        #: work on this database, however it is opened, signs history the same way.
        self.session_info: dict[str, object] = {}

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """One unit of work: committed if the block finishes, rolled back if it raises.

        A read-only unit (a page that only shows) takes no write lock, so on SQLite it never
        queues behind a person's step; writing in it is an error, and what it must record
        goes through `write_after`. Callbacks registered with `after_commit` run once the
        unit has committed, outside any transaction: that is where other threads may be
        woken without waiting on this unit's locks.
        """
        factory = self._read_sessions if read_only else self._sessions
        with factory() as session:
            session.info["kefu_database"] = self
            session.info[_READ_ONLY] = read_only
            session.info.update(self.session_info)
            with session.begin():
                yield session
            callbacks = session.info.pop(_AFTER_COMMIT, [])
        for callback in callbacks:
            try:
                callback()
            except Exception:  # what was committed stays committed; the callback's own
                log.exception("after-commit callback %r failed", callback)  # failure is logged

    def create_schema(self) -> None:
        """Bring the schema to the newest migration (Alembic), as `kefu init` does."""
        command.upgrade(alembic_config(self.url), "heads")

    def create_all_for_tests(self) -> None:
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call `callback` after the outermost commit of the unit of work `session` belongs to,
    outside its transaction; never if it rolls back. A savepoint's release is not a commit
    (SQLAlchemy's own after_commit event fires at both)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


class CommitSignal:
    """Callbacks of this process, per database, called once after each unit of work that
    raised the signal has committed (the in-process timer worker is woken this way when
    deadlines or outgoing notifications change). Callbacks must not block."""

    def __init__(self, name: str) -> None:
        self._key = f"kefu_signal_{name}"
        self._listeners: weakref.WeakKeyDictionary[Database, list[Callable[[], None]]] = \
            weakref.WeakKeyDictionary()

    def connect(self, database: Database, callback: Callable[[], None]) -> None:
        self._listeners.setdefault(database, []).append(callback)

    def disconnect(self, database: Database, callback: Callable[[], None]) -> None:
        callbacks = self._listeners.get(database, [])
        if callback in callbacks:
            callbacks.remove(callback)

    def raise_after_commit(self, session: Session, database: Database) -> None:
        callbacks = self._listeners.get(database, [])
        if callbacks and not session.info.get(self._key):
            session.info[self._key] = True
            after_commit(session, lambda: [callback() for callback in list(callbacks)])


def write_after(session: Session, write: Callable[[Session], None]) -> None:
    """Run `write` in this unit of work, or, if it is read-only, in a unit of its own right
    after it commits: a page that only shows still records who saw what (C12)."""
    if not session.info.get(_READ_ONLY):
        write(session)
        return
    database: Database = session.info["kefu_database"]

    def run() -> None:
        with database.session() as writer:
            write(writer)
    after_commit(session, run)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


#: Connections a process keeps open to a server database. A web process serves a request
#: per thread (gunicorn's `--threads`, waitress's 16), and a request that only reads writes
#: its "last seen" on a second connection: with SQLAlchemy's default of 5, every request
#: beyond the fifth opened a connection and closed it again (a new server process each
#: time on PostgreSQL, the peak's largest cost after the pages themselves).
POOL_SIZE, POOL_OVERFLOW = 20, 20


def _engine_options(url: str) -> dict[str, object]:
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}


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
    # A unit of work that writes takes the write lock up front, so two writers queue instead
    # of one failing half-way with "database is locked" after both have read. A read-only
    # one takes none (WAL lets it read beside a writer) and SQLite refuses its writes.
    read_only = bool(connection.get_execution_options().get(_READ_ONLY))
    if connection.info.get(_READ_ONLY) != read_only:
        connection.exec_driver_sql(f"PRAGMA query_only={int(read_only)}")
        connection.info[_READ_ONLY] = read_only
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
