"""case_record.workflow_state compressed with lz4 on PostgreSQL (see models.STATE_LZ4)

Revision ID: 0005_state_lz4
Revises: 0001_core
Create Date: 2026-11-22 19:20:00
"""
from alembic import op

from engine.persistence.models import STATE_LZ4, server_has_lz4

revision = '0005_state_lz4'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if server_has_lz4(op.get_bind()):
        op.execute(STATE_LZ4)


def downgrade() -> None:
    if server_has_lz4(op.get_bind()):
        op.execute("ALTER TABLE case_record ALTER COLUMN workflow_state SET COMPRESSION pglz")
