"""person.mobile (a group robot @-mentions people by it), notice_preference (per person,
per kind of notice, the channels that reach them where they differ from the centre's), and
room in notification.recipient for every username a robot message names (60 characters
cut a role's list of holders mid-name)

Revision ID: 0014_notice_preferences
Revises: 0013_search_text
Create Date: 2026-12-02 01:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_notice_preferences'
down_revision = '0013_search_text'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile', sa.String(length=20), nullable=True))
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.alter_column('recipient', existing_type=sa.String(length=60),
                              type_=sa.String(length=1000), existing_nullable=False)
    op.create_table(
        'notice_preference',
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('person_id', 'kind', 'channel'),
    )


def downgrade() -> None:
    op.drop_table('notice_preference')
    op.execute("UPDATE notification SET recipient = substr(recipient, 1, 60)")
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.alter_column('recipient', existing_type=sa.String(length=1000),
                              type_=sa.String(length=60), existing_nullable=False)
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('mobile')
