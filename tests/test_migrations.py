"""The Alembic migrations build exactly the schema the models describe (issue 2)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import engine.persistence.all_models  # noqa: F401 - every table on Base
from engine.persistence.db import Database
from engine.persistence.models import Base, server_has_lz4


def test_migrations_match_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.create_schema()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == []


def test_workflow_state_is_stored_with_lz4_where_postgresql_has_it(database: Database) -> None:
    """Every save rewrites the state; on PostgreSQL lz4 compresses it in half pglz's time.
    SQLite has no such setting, and nothing is changed there."""
    with database.engine.connect() as conn:
        if database.is_sqlite:
            assert not server_has_lz4(conn)
            return
        method = conn.exec_driver_sql(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = 'case_record'::regclass "
            "AND attname = 'workflow_state'").scalar()
        assert method == ("l" if server_has_lz4(conn) else "")
