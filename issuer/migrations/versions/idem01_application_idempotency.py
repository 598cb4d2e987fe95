"""application: Idempotency-Key of its creation, so a retried POST /applications is answered
with the same application instead of a second one.

Revision ID: idem01
Revises: prov01
Create Date: application creation retries

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'idem01'
down_revision: Union[str, Sequence[str], None] = 'prov01'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add the nullable key hash (unique), request hash and short-lived replay columns."""
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key_hash', sa.LargeBinary(length=32),
                                      nullable=True))
        batch_op.add_column(sa.Column('creation_request_hash', sa.LargeBinary(length=32),
                                      nullable=True))
        batch_op.add_column(sa.Column('creation_replay', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('creation_replay_until', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_application_idempotency_key_hash'),
                                          ['idempotency_key_hash'])
        batch_op.create_index(batch_op.f('ix_application_creation_replay_until'),
                              ['creation_replay_until'], unique=False)


def downgrade() -> None:
    """Drop the creation idempotency columns."""
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_creation_replay_until'))
        batch_op.drop_constraint(batch_op.f('uq_application_idempotency_key_hash'),
                                 type_='unique')
        batch_op.drop_column('creation_replay_until')
        batch_op.drop_column('creation_replay')
        batch_op.drop_column('creation_request_hash')
        batch_op.drop_column('idempotency_key_hash')
