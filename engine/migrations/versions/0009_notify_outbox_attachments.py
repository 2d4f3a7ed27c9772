"""notify: notification outbox, case attachments, people's e-mail addresses

Revision ID: 0009_notify
Revises: 0008_security
Create Date: 2026-12-01 21:20:00
"""
import sqlalchemy as sa
from alembic import op

import engine.persistence.models

revision = '0009_notify'
down_revision = '0008_security'
branch_labels = None
depends_on = None

UTC = engine.persistence.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'notification',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('recipient', sa.String(length=60), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTC, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('sent_at', UTC, nullable=True),
        sa.Column('read_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case_record.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notification_case_id', 'notification', ['case_id'])
    op.create_index('ix_notification_to_unread', 'notification',
                    ['recipient', 'channel', 'read_at'])
    op.create_index('ix_notification_state_next', 'notification', ['state', 'next_attempt_at'])
    op.create_table(
        'attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('field', sa.String(length=120), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('media_type', sa.String(length=120), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('task_spec', sa.String(length=120), nullable=True),
        sa.Column('uploaded_by', sa.String(length=60), nullable=False),
        sa.Column('uploaded_at', UTC, nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case_record.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_attachment_case_id', 'attachment', ['case_id'])
    op.create_index('ix_attachment_sha256', 'attachment', ['sha256'])
    with op.batch_alter_table('person') as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person') as batch_op:
        batch_op.drop_column('email')
    op.drop_table('attachment')
    op.drop_table('notification')
