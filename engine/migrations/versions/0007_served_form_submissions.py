"""form_submission: one action per submitted form (engine.cases.submissions)

Revision ID: 0007_served
Revises: 0006_inbox_order
Create Date: 2026-12-01 21:10:00
"""
import sqlalchemy as sa
from alembic import op

import engine.persistence.models

revision = '0007_served'
down_revision = '0006_inbox_order'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'form_submission',
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('created_at', engine.persistence.models.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column('result', sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('form_submission')
