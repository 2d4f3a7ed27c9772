"""timer_start: when each process with a timer start event next starts a case (issue 14)

Revision ID: 0011_modeler
Revises: 0010_rules
Create Date: 2026-12-01 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_modeler'
down_revision = '0010_rules'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timer_start",
        sa.Column("process_id", sa.String(120), primary_key=True),
        sa.Column("spec_name", sa.String(120), nullable=False),
        sa.Column("expression", sa.String(200), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remaining", sa.Integer, nullable=False),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("started", sa.Integer, nullable=False),
    )
    op.create_index("ix_timer_start_next_at", "timer_start", ["next_at"])


def downgrade() -> None:
    op.drop_index("ix_timer_start_next_at", table_name="timer_start")
    op.drop_table("timer_start")
