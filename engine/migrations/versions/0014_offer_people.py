"""task_item.candidate_user holds several named people (`,a,b,`: SpiffArena's lane owners,
Camunda's candidateUsers), with an index of such offers in the inbox order (issue 14)

Revision ID: 0014_offer_people
Revises: 0013_search_text
Create Date: 2026-12-02 01:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_offer_people'
down_revision = "0013_search_text"
branch_labels = None
depends_on = None

ORDER = [sa.column("due_at").is_(None), "due_at", "created_at"]
SEVERAL = sa.text("assignee IS NULL AND candidate_user LIKE ',%'")


def upgrade() -> None:
    with op.batch_alter_table('task_item', schema=None) as batch_op:
        batch_op.alter_column('candidate_user', existing_type=sa.String(length=60),
                              type_=sa.String(length=1000), existing_nullable=True)
    op.create_index("ix_task_candidates_order", "task_item", ORDER,
                    sqlite_where=SEVERAL, postgresql_where=SEVERAL)


def downgrade() -> None:
    op.drop_index("ix_task_candidates_order", table_name="task_item")
    with op.batch_alter_table('task_item', schema=None) as batch_op:
        batch_op.alter_column('candidate_user', existing_type=sa.String(length=1000),
                              type_=sa.String(length=60), existing_nullable=True)
