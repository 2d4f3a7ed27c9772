"""Keyed history (which key signed each record, signed purge records), sign-in attempts
and web sessions

Revision ID: 0008_security
Revises: 0007_served
Create Date: 2026-12-01 21:30:00

Existing history records keep key_id NULL: `kefu init` seals them with the installation's
history key after checking their unkeyed chain (engine.records.checkpoints.seal_unkeyed).
"""
import sqlalchemy as sa
from alembic import op

from engine.persistence.models import UTCDateTime

revision = '0008_security'
down_revision = '0007_served'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history_record") as table:
        table.add_column(sa.Column("key_id", sa.String(16), nullable=True))
    with op.batch_alter_table("purge_record") as table:
        table.add_column(sa.Column("signature", sa.String(64), nullable=True))
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
    )
    op.create_index("ix_login_attempt_username_at", "login_attempt", ["username", "at"])
    op.create_index("ix_login_attempt_address_at", "login_attempt", ["address", "at"])
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("person.id"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("address", sa.String(64), nullable=False),
    )
    op.create_index("ix_web_session_person_id", "web_session", ["person_id"])


def downgrade() -> None:
    op.drop_table("web_session")
    op.drop_table("login_attempt")
    with op.batch_alter_table("purge_record") as table:
        table.drop_column("signature")
    with op.batch_alter_table("history_record") as table:
        table.drop_column("key_id")
