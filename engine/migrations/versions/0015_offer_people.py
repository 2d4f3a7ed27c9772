"""task_item.candidate_user holds several named people (`,a,b,`: SpiffArena's lane owners,
Camunda's candidateUsers), with an index of such offers in the inbox order (issue 14)

Revision ID: 0015_offer_people
Revises: 0014_notice_preferences
Create Date: 2026-12-02 01:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_offer_people'
down_revision = "0014_notice_preferences"
branch_labels = None
depends_on = None

ORDER = [sa.column("due_at").is_(None), "due_at", "created_at"]
UNCLAIMED = "assignee IS NULL"
OFFERED = "assignee IS NULL AND candidate_user IS NULL"
#: The inbox indexes of 0006_inbox_order: SQLite's batch mode, which recreates the table
#: to change a column, cannot reflect indexes on expressions, so they are made again.
INBOX = [("ix_task_assignee_order", ["assignee"], None),
         ("ix_task_candidate_order", ["candidate_user"], UNCLAIMED),
         ("ix_task_role_order", ["role", "department"], f"{OFFERED} AND department IS NOT NULL"),
         ("ix_task_role_centre_order", ["role"], f"{OFFERED} AND department IS NULL")]
SEVERAL = ("ix_task_candidates_order", [], "assignee IS NULL AND candidate_user LIKE ',%'")


def _create(name: str, leading: list[str], where: str | None) -> None:
    condition = sa.text(where) if where else None
    op.create_index(name, "task_item", [*leading, *ORDER],
                    sqlite_where=condition, postgresql_where=condition)


def _widen(old: int, new: int) -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite:
        for name, _leading, _where in INBOX:
            op.drop_index(name, table_name="task_item")
    with op.batch_alter_table('task_item', schema=None) as batch_op:
        batch_op.alter_column('candidate_user', existing_type=sa.String(length=old),
                              type_=sa.String(length=new), existing_nullable=True)
    if sqlite:
        for index in INBOX:
            _create(*index)


def upgrade() -> None:
    _widen(60, 1000)
    _create(*SEVERAL)


def downgrade() -> None:
    op.drop_index(SEVERAL[0], table_name="task_item")
    _widen(1000, 60)
