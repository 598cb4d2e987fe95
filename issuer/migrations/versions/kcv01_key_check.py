"""Key check value: which issuer key file this database belongs to (issuer.key_check).

The row is written by `cardsim init-db` / `cardsim serve` after the migrations, with the keys
they loaded; a database upgraded to here keeps working and gets its value on that first start.

Revision ID: kcv01
Revises: pii02
Create Date: key check value

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'kcv01'
down_revision: Union[str, Sequence[str], None] = 'pii02'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the key_check table."""
    op.create_table('key_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_check'))
    )


def downgrade() -> None:
    """Drop the key_check table."""
    op.drop_table('key_check')
