"""The Alembic migrations build exactly the schema the models describe (issue 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import engine.persistence.all_models  # noqa: F401 - every table on Base
from engine.persistence.db import Database
from engine.persistence.models import Base, server_has_lz4


# SQLite's reflection skips the inbox indexes (they index an expression); the test below
# compares them instead.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
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


def test_inbox_indexes_from_the_migrations_are_the_models(database: Database,
                                                           tmp_path: Path) -> None:
    """Alembic does not compare indexes on expressions (the inbox order's `due_at IS NULL`),
    so compare the definitions each database keeps: a migrated schema against the models'."""
    if database.is_sqlite:
        migrated = Database(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
        migrated.create_schema()
        read = ("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'task_item' AND sql IS NOT NULL")
    else:
        with database.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS kefu_migrated CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA kefu_migrated")
        migrated = Database(f"{database.url}?options=-csearch_path%3Dkefu_migrated")
        migrated.create_schema()
        read = ("SELECT indexname, replace(indexdef, schemaname || '.', '') FROM pg_indexes "
                "WHERE tablename = 'task_item' AND schemaname = current_schema()")
    try:
        with database.engine.connect() as models, migrated.engine.connect() as migrations:
            expected = dict(models.exec_driver_sql(read).all())
            assert "ix_task_role_centre_order" in expected
            assert dict(migrations.exec_driver_sql(read).all()) == expected
    finally:
        migrated.dispose()
        if database.is_postgres:
            with database.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA kefu_migrated CASCADE")


def test_states_stored_as_text_are_compressed_by_the_migration_and_read_alike(
        tmp_path: Path) -> None:
    """On SQLite every save rewrites the state, so it is kept compressed; a state written
    before the migration is compressed by it, and reads back the same text either way."""
    from alembic import command
    from sqlalchemy import select, text

    from engine.persistence.db import alembic_config
    from engine.persistence.models import Case

    db = Database(f"sqlite:///{tmp_path / 'z.sqlite3'}")
    command.upgrade(alembic_config(db.url), "0011_modeler")
    state = '{"tasks":{},"data":{"content":"本月话费多扣了 30 元"}}'
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO process_version (id, process_id, version, name, "
                          "content_hash, spec_json, sources, deployed_at, deployed_by) "
                          "VALUES (1, 'p', 1, 'p', 'h', '{}', '{}', '2026-12-01', 'x')"))
        conn.execute(text("INSERT INTO case_record (id, number, process_id, process_version_id,"
                          " state, created_at, created_by, workflow_state, history_seq, "
                          "history_head, row_version) VALUES (1, 'TS1', 'p', 1, 'running', "
                          "'2026-12-01', 'x', :s, 0, '', 1)"), {"s": state})
    command.upgrade(alembic_config(db.url), "0012_scale")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT typeof(workflow_state) FROM case_record")).scalar() \
            == "blob"
        assert conn.execute(select(Case.workflow_state)).scalar() == state
    command.downgrade(alembic_config(db.url), "0011_modeler")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT workflow_state FROM case_record")).scalar() == state
    db.dispose()
