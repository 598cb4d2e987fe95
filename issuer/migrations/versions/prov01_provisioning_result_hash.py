"""provisioning_session.result_record_hash: a resent PROVISION_RESULT record gets its answer again.

Revision ID: prov01
Revises: rl01
Create Date: provisioning result retries

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'prov01'
down_revision: Union[str, Sequence[str], None] = 'rl01'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add the nullable hash column (rows recorded before it simply cannot be replayed)."""
    with op.batch_alter_table('provisioning_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('result_record_hash', sa.LargeBinary(length=32),
                                      nullable=True))


def downgrade() -> None:
    """Drop the hash column."""
    with op.batch_alter_table('provisioning_session', schema=None) as batch_op:
        batch_op.drop_column('result_record_hash')
