"""Staff console: server-side sessions, login throttles, case assignment, pending overrides.

Revision ID: staff01
Revises: 0001
Create Date: staff console

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'staff01'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the staff console tables."""
    op.create_table('staff_session',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('idle_timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('client_ip', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_user.id'], name=op.f('fk_staff_session_staff_user_id_staff_user')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_staff_session'))
    )
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_session_staff_user_id'), ['staff_user_id'], unique=False)

    op.create_table('staff_login_throttle',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failure_at', sa.DateTime(), nullable=True),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_staff_login_throttle'))
    )
    op.create_table('review_assignment',
    sa.Column('application_id', sa.String(length=32), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_review_assignment_application_id_application')),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_user.id'], name=op.f('fk_review_assignment_staff_user_id_staff_user')),
    sa.PrimaryKeyConstraint('application_id', name=op.f('pk_review_assignment'))
    )
    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_assignment_staff_user_id'), ['staff_user_id'], unique=False)

    op.create_table('review_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.String(length=32), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('proposed_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_review_override_application_id_application')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_user.id'], name=op.f('fk_review_override_decided_by_id_staff_user')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['staff_user.id'], name=op.f('fk_review_override_proposed_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_override'))
    )
    with op.batch_alter_table('review_override', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_override_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_override_status'), ['status'], unique=False)


def downgrade() -> None:
    """Drop the staff console tables."""
    with op.batch_alter_table('review_override', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_override_status'))
        batch_op.drop_index(batch_op.f('ix_review_override_application_id'))
    op.drop_table('review_override')
    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_assignment_staff_user_id'))
    op.drop_table('review_assignment')
    op.drop_table('staff_login_throttle')
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_session_staff_user_id'))
    op.drop_table('staff_session')
