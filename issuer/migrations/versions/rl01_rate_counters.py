"""Request rate counters (application and phone creation per client, frames per application).

Revision ID: rl01
Revises: pii01
Create Date: rate counters

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'rl01'
down_revision: Union[str, Sequence[str], None] = 'pii01'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the rate_counter table."""
    op.create_table('rate_counter',
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_counter'))
    )
    with op.batch_alter_table('rate_counter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_counter_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    """Drop the rate_counter table."""
    with op.batch_alter_table('rate_counter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_counter_expires_at'))
    op.drop_table('rate_counter')
