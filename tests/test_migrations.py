"""The Alembic migrations build exactly the schema the models describe (issue 2)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import engine.persistence.all_models  # noqa: F401 - every table on Base
from engine.persistence.db import Database
from engine.persistence.models import Base


def test_migrations_match_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.create_schema()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == []
