"""case_record.workflow_state zlib-compressed on SQLite (see models.WorkflowState)

Revision ID: 0012_scale
Revises: 0011_modeler
Create Date: 2026-12-01 21:30:00
"""
import zlib

import sqlalchemy as sa
from alembic import op

revision = '0012_scale'
down_revision = '0011_modeler'
branch_labels = None
depends_on = None

def _convert(kind: str, change) -> None:  # noqa: ANN001 - a function of the stored value
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL compresses the column itself (0005_state_lz4)
    rows = bind.execute(sa.text(f"SELECT id, workflow_state FROM case_record "
                                f"WHERE typeof(workflow_state) = '{kind}'")).all()
    for row_id, value in rows:
        bind.execute(sa.text("UPDATE case_record SET workflow_state = :value WHERE id = :id"),
                     {"value": change(value), "id": row_id})


def upgrade() -> None:
    _convert("text", lambda text: zlib.compress(text.encode(), 1))


def downgrade() -> None:
    _convert("blob", lambda blob: zlib.decompress(blob).decode())
