"""case_record.search_text: the words a case is searched by, kept beside the workflow state
(which SQLite stores compressed since 0012_scale, so it cannot be searched with LIKE)

Revision ID: 0013_search_text
Revises: 0012_scale
Create Date: 2026-12-01 22:50:00

Cases saved before this have no search text until their next step; their number, phone,
category and title are searched as before.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_search_text'
down_revision = '0012_scale'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_column('search_text')
