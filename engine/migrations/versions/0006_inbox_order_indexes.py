"""task_item indexes in the inbox order (see models._inbox_index and queries.INBOX_ORDER)

Revision ID: 0006_inbox_order
Revises: 0005_state_lz4
Create Date: 2026-11-22 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_inbox_order'
down_revision = '0005_state_lz4'
branch_labels = None
depends_on = None

ORDER = [sa.column("due_at").is_(None), "due_at", "created_at"]
UNCLAIMED = "assignee IS NULL"
OFFERED = "assignee IS NULL AND candidate_user IS NULL"


def _create(name: str, leading: list[str], where: str | None = None) -> None:
    condition = sa.text(where) if where else None
    op.create_index(name, "task_item", [*leading, *ORDER],
                    sqlite_where=condition, postgresql_where=condition)


def upgrade() -> None:
    for old in ("ix_task_assignee", "ix_task_candidate", "ix_task_role"):
        op.drop_index(old, table_name="task_item")
    _create("ix_task_assignee_order", ["assignee"])
    _create("ix_task_candidate_order", ["candidate_user"], UNCLAIMED)
    _create("ix_task_role_order", ["role", "department"],
            f"{OFFERED} AND department IS NOT NULL")
    _create("ix_task_role_centre_order", ["role"], f"{OFFERED} AND department IS NULL")


def downgrade() -> None:
    for new in ("ix_task_assignee_order", "ix_task_candidate_order", "ix_task_role_order",
                "ix_task_role_centre_order"):
        op.drop_index(new, table_name="task_item")
    op.create_index("ix_task_assignee", "task_item", ["assignee"])
    op.create_index("ix_task_candidate", "task_item", ["candidate_user"])
    op.create_index("ix_task_role", "task_item", ["role", "department", "assignee"])
