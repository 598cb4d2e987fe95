"""Applicant resident ID and mobile numbers sealed at rest, with masked copies for display.

Existing rows are sealed in place, which needs the issuer keys: `issuer.db.upgrade_database`
hands them over (`cardsim init-db` and `cardsim serve` load the key file first). A database
with applicants and no keys stops before any change, with a clear error.

Revision ID: pii01
Revises: staff01
Create Date: sealed personal data

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from issuer.db import migration_keys
from issuer.identity import mask_id_number, mask_mobile
from issuer.personal_data import open_text, seal_text


revision: str = 'pii01'
down_revision: Union[str, Sequence[str], None] = 'staff01'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_applicant = sa.table(
    'applicant', sa.column('id', sa.Integer()),
    sa.column('id_number', sa.String()), sa.column('mobile', sa.String()),
    sa.column('id_number_sealed', sa.LargeBinary()), sa.column('id_number_masked', sa.String()),
    sa.column('mobile_sealed', sa.LargeBinary()), sa.column('mobile_masked', sa.String()),
)


def _count() -> int:
    return int(op.get_bind().execute(sa.select(sa.func.count()).select_from(_applicant))
               .scalar_one())


def upgrade() -> None:
    """Add the sealed and masked columns, seal every existing row, drop the plaintext."""
    keys = migration_keys(
        _count(), needing='applicant(s) hold personal data that this migration must seal')
    with op.batch_alter_table('applicant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number_sealed', sa.LargeBinary(length=128), nullable=True))
        batch_op.add_column(sa.Column('id_number_masked', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('mobile_sealed', sa.LargeBinary(length=128), nullable=True))
        batch_op.add_column(sa.Column('mobile_masked', sa.String(length=11), nullable=True))
    bind = op.get_bind()
    if keys is not None:
        rows = bind.execute(sa.select(_applicant.c.id, _applicant.c.id_number,
                                      _applicant.c.mobile)).all()
        for row_id, id_number, mobile in rows:
            # The unbound form of the time; migration pii02 binds it to the application.
            bind.execute(_applicant.update().where(_applicant.c.id == row_id).values(
                id_number_sealed=seal_text(keys=keys, text=id_number),
                id_number_masked=mask_id_number(id_number),
                mobile_sealed=seal_text(keys=keys, text=mobile),
                mobile_masked=mask_mobile(mobile)))
    with op.batch_alter_table('applicant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applicant_id_number'))
        batch_op.drop_column('id_number')
        batch_op.drop_column('mobile')
        batch_op.alter_column('id_number_sealed', existing_type=sa.LargeBinary(length=128),
                              nullable=False)
        batch_op.alter_column('id_number_masked', existing_type=sa.String(length=18),
                              nullable=False)
        batch_op.alter_column('mobile_sealed', existing_type=sa.LargeBinary(length=128),
                              nullable=False)
        batch_op.alter_column('mobile_masked', existing_type=sa.String(length=11),
                              nullable=False)


def downgrade() -> None:
    """Open the sealed numbers back into plaintext columns (needs the issuer keys too)."""
    keys = migration_keys(
        _count(), needing='applicant(s) hold personal data that this migration must seal')
    with op.batch_alter_table('applicant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('mobile', sa.String(length=11), nullable=True))
    bind = op.get_bind()
    if keys is not None:
        rows = bind.execute(sa.select(_applicant.c.id, _applicant.c.id_number_sealed,
                                      _applicant.c.mobile_sealed)).all()
        for row_id, id_sealed, mobile_sealed in rows:
            bind.execute(_applicant.update().where(_applicant.c.id == row_id).values(
                id_number=open_text(keys=keys, sealed=id_sealed),
                mobile=open_text(keys=keys, sealed=mobile_sealed)))
    with op.batch_alter_table('applicant', schema=None) as batch_op:
        batch_op.drop_column('id_number_sealed')
        batch_op.drop_column('id_number_masked')
        batch_op.drop_column('mobile_sealed')
        batch_op.drop_column('mobile_masked')
        batch_op.alter_column('id_number', existing_type=sa.String(length=18), nullable=False)
        batch_op.alter_column('mobile', existing_type=sa.String(length=11), nullable=False)
        batch_op.create_index(batch_op.f('ix_applicant_id_number'), ['id_number'], unique=False)
