"""rules: the imported holiday schedule (who loaded it, when) and pending roster requests

Revision ID: 0010_rules
Revises: 0009_notify (depends on 0003_roster: roster_request points at shift)
"""
from alembic import op
import sqlalchemy as sa
import engine.persistence.models


revision = '0010_rules'
down_revision = '0009_notify'
branch_labels = None
depends_on = ('0003_roster',)  # the shift table, on its own branch


def upgrade() -> None:
    op.create_table('calendar_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('loaded_by', sa.String(length=60), nullable=False),
    sa.Column('loaded_at', engine.persistence.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_calendar_import_year', 'calendar_import', ['year'], unique=False)
    op.create_table('calendar_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('off', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['calendar_import.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_calendar_day_import_id', 'calendar_day', ['import_id'], unique=False)
    op.create_table('roster_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id']),
    sa.ForeignKeyConstraint(['shift_id'], ['shift.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_roster_request_person_shift', 'roster_request',
                    ['person_id', 'shift_id'], unique=False)
    op.create_index('ix_roster_request_case', 'roster_request', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_roster_request_case', table_name='roster_request')
    op.drop_index('ix_roster_request_person_shift', table_name='roster_request')
    op.drop_table('roster_request')
    op.drop_index('ix_calendar_day_import_id', table_name='calendar_day')
    op.drop_table('calendar_day')
    op.drop_index('ix_calendar_import_year', table_name='calendar_import')
    op.drop_table('calendar_import')
