"""A step's statements, sent to the database together.

On PostgreSQL each statement sent through SQLAlchemy is a round trip, and a step made about
eleven (docs/benchmarks.md): its reads (the case's lock and state, its task rows, its
deadline rows) and its writes (history, the case row, task, deadline and notification
rows) one by one, then `COMMIT`. Here the reads go in one psycopg pipeline, and the writes
wait until the unit of work's next statement or its commit, and go in one pipeline with
it: a step needs four round trips, the benchmark's own look-up of the task included.

Statements are SQLAlchemy Core. On PostgreSQL they are compiled once and run on psycopg's
cursor in pipeline mode, with SQLAlchemy's own type conversions (`Prepared`). On SQLite,
where a statement is a function call, they run at once through SQLAlchemy (driving the
sqlite3 module's cursors directly beside SQLAlchemy's crashed the interpreter in a long
test run: memory corruption, found only there, not pursued).

A write that must change exactly one row (`write(..., one_row=...)`) is checked by the
database itself on PostgreSQL: it is sent as `WITH changed AS (... RETURNING 1) SELECT
1 / count(*)`, so that no row means an error that aborts the pipeline and its `COMMIT`.
A rollback, or a rollback to a savepoint, drops the writes not yet sent (they were all
made after the last statement, hence inside that savepoint).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, event, exc, func, literal, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import Executable

_PENDING = "kefu_pending_writes"
#: What the one-row form of a write raises when it found no row to change.
_NO_ROW_SQLSTATE = "22012"  # division_by_zero


class Prepared:
    """A Core statement compiled once for a dialect (an insert, for one set of columns):
    the driver's SQL, its parameters' order and conversions, and its rows' shape."""

    __slots__ = ("sql", "names", "binds", "positional", "_processors", "_statement",
                 "_dialect", "_shape")

    def __init__(self, statement: Executable, dialect: Dialect,
                 keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        self.sql: str = compiled.string
        self.positional = compiled.positiontup is not None
        self.names: list[str] = list(compiled.positiontup or compiled.binds)
        if getattr(compiled, "insert_prefetch", None):
            raise ValueError(f"{statement}: give every column with a Python default")
        #: Values fixed in the statement (a literal); every other value comes with a call.
        self.binds = {name: bind.value for name, bind in compiled.binds.items()
                      if not bind.required and bind.callable is None}
        processors = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        self._processors = processors
        self._statement, self._dialect = statement, dialect
        self._shape: tuple[Any, list[Callable[[Any], Any] | None]] | None = None

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        merged = {**self.binds, **values}
        for name, processor in self._processors.items():
            merged[name] = processor(merged[name])
        if self.positional:
            return tuple(merged[name] for name in self.names)
        return {name: merged[name] for name in self.names}

    def rows(self, fetched: Iterable[Sequence[Any]]) -> list[Any]:
        """Named tuples of the selected columns, each value converted as SQLAlchemy would."""
        if self._shape is None:
            columns = list(self._statement.selected_columns)  # type: ignore[attr-defined]
            dialect = self._dialect
            self._shape = (namedtuple("Row", [c.key for c in columns], rename=True),
                           [c.type.dialect_impl(dialect).result_processor(dialect, None)
                            for c in columns])
        row, results = self._shape
        return [row(*[v if p is None else p(v) for p, v in zip(results, raw, strict=True)])
                for raw in fetched]


_cache: dict[tuple[int, str, tuple[str, ...] | None], tuple[Executable, Prepared]] = {}


def prepared(statement: Executable, dialect: Dialect,
             keys: Sequence[str] | None = None) -> Prepared:
    """The statement compiled for `dialect` (statements are module constants: kept)."""
    key = (id(statement), dialect.name, tuple(keys) if keys else None)
    entry = _cache.get(key)
    if entry is None or entry[0] is not statement:
        entry = _cache[key] = (statement, Prepared(statement, dialect, keys))
    return entry[1]


def _one_row_form(statement: UpdateBase) -> Executable:
    """On PostgreSQL: the write, failing (division by zero) if it changed no row."""
    changed = statement.returning(literal(1)).cte("changed")
    return select(literal(1) / func.count()).select_from(changed)


_one_row_forms: dict[int, tuple[UpdateBase, Executable]] = {}


def _checked(statement: UpdateBase) -> Executable:
    entry = _one_row_forms.get(id(statement))
    if entry is None or entry[0] is not statement:
        entry = _one_row_forms[id(statement)] = (statement, _one_row_form(statement))
    return entry[1]


# --- running statements ------------------------------------------------------------------

def read(session: Session, *queries: tuple[Executable, Mapping[str, Any]]) -> list[list[Any]]:
    """Run the selects in order and return each one's rows (named tuples with SQLAlchemy's
    conversions). On PostgreSQL they go in one round trip, behind any writes not yet
    sent; each still gets its own snapshot, so a read after a `FOR UPDATE` sees what the
    lock waited for."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return [connection.execute(q, params).all() for q, params in queries]
    dbapi = connection.connection.driver_connection
    steps = [(prepared(q, dialect), params) for q, params in queries]
    pending = connection.info.pop(_PENDING, [])
    cursors = _pipeline(dbapi, pending, [(p.sql, p.params(params)) for p, params in steps])
    return [p.rows(c.fetchall()) for (p, _), c in zip(steps, cursors, strict=True)]


def write(session: Session, statement: Executable,
          params: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
          one_row: Exception | None = None) -> None:
    """An insert, update or delete, for one row or many (`params` a list). On PostgreSQL it
    is sent with the unit of work's next statement or its `COMMIT`; on SQLite at once.
    `one_row`: the statement must change exactly one row (an update by key and version),
    else this is raised — on PostgreSQL, where it is sent later, by whatever sends it (the
    commit, for a step), and nothing of the unit of work is committed."""
    many = list(params) if not isinstance(params, Mapping) else [params]
    if not many:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        result = connection.execute(statement, many if len(many) > 1 else many[0])
        if one_row is not None and result.rowcount != 1:
            raise one_row
        return
    if one_row is not None:
        assert isinstance(statement, UpdateBase)
        statement = _checked(statement)
    p = prepared(statement, dialect, _columns(statement, many[0]))
    connection.info.setdefault(_PENDING, []).append(
        (p.sql, [p.params(row) for row in many], one_row))


def _columns(statement: Executable, row: Mapping[str, Any]) -> list[str] | None:
    """An insert of values is compiled for the columns given (an insert from a select, an
    update or a delete for its own bound names)."""
    if getattr(statement, "is_insert", False) and getattr(statement, "select", None) is None:
        return sorted(row)
    return None


def _pipeline(dbapi: Any, writes: list[tuple[str, list[Any], Exception | None]],
              reads: list[tuple[str, Any]], *, commit: bool = False) -> list[Any]:
    """Writes, then reads, then (if asked) COMMIT, in one round trip; the reads' cursors."""
    import psycopg

    cursors = []
    try:
        with dbapi.pipeline():
            for sql, many, _ in writes:
                cursor = dbapi.cursor()
                if len(many) == 1:
                    cursor.execute(sql, many[0], prepare=True)
                else:
                    cursor.executemany(sql, many)
            for sql, params in reads:
                cursor = dbapi.cursor()
                cursor.execute(sql, params, prepare=True)
                cursors.append(cursor)
            if commit:
                dbapi.cursor().execute("COMMIT")
    except psycopg.Error as error:
        if error.sqlstate == _NO_ROW_SQLSTATE:
            refusal = next((m for _, _, m in writes if m is not None), None)
            if refusal is not None:
                raise refusal from error
        sql = "; ".join(s for s, _, _ in writes) + "; ".join(s for s, _ in reads)
        raise exc.DBAPIError.instance(sql, None, error, psycopg.Error) from error
    return cursors


def send_pending(connection: Connection) -> None:
    """Send the writes made so far (before a statement that must see them)."""
    pending = connection.info.pop(_PENDING, None)
    if pending:
        _pipeline(connection.connection.driver_connection, pending, [])


# --- hooked into a PostgreSQL engine -----------------------------------------------------

def install(engine: Engine) -> None:
    """Writes not yet sent go before the next statement, with the COMMIT, or nowhere."""
    event.listen(engine, "before_cursor_execute", _before_statement)
    event.listen(engine, "commit", _before_commit)
    event.listen(engine, "rollback", _drop)
    event.listen(engine, "rollback_savepoint", _drop_to_savepoint)
    event.listen(engine.pool, "checkin", _drop_at_checkin)


def _before_statement(connection: Connection, *_: Any) -> None:
    if connection.info.get(_PENDING):
        send_pending(connection)


def _before_commit(connection: Connection) -> None:
    """The writes and COMMIT in one round trip; the driver's own commit then has nothing
    to do (psycopg sends none outside a transaction)."""
    pending = connection.info.pop(_PENDING, None)
    if pending:
        _pipeline(connection.connection.driver_connection, pending, [], commit=True)


def _drop(connection: Connection) -> None:
    connection.info.pop(_PENDING, None)


def _drop_to_savepoint(connection: Connection, _name: str, _context: Any) -> None:
    connection.info.pop(_PENDING, None)


def _drop_at_checkin(_dbapi_connection: Any, record: Any) -> None:
    """A connection back in the pool holds nothing for the next unit of work, however
    its last one ended (the pool's own reset rolls back without the events above)."""
    if record is not None:
        record.info.pop(_PENDING, None)
