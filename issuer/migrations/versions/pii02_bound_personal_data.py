"""Applicant resident ID and mobile numbers re-sealed bound to their application and field.

They were XSalsa20-Poly1305 boxes under a key derived from the KEK (pii01) with no associated
data, so a value copied from one applicant row into another (or from the mobile column into the
ID number column) opened without error. Each is now XChaCha20-Poly1305 whose associated data
names the application and the field (`issuer.personal_data.seal_personal_field`, the same
`issuer.vault.seal_bound` scheme as the card fields of card01). Existing rows are re-sealed in
place, which needs the issuer keys (`cardsim init-db` and `cardsim serve` load the key file
first); a database with applicants and no keys, or with an applicant that does not belong to
exactly one application, stops before any change, with a clear error.

Revision ID: pii02
Revises: card01
Create Date: personal data bound to its application

"""
from typing import Sequence, Union

from collections.abc import Callable

from alembic import op
import sqlalchemy as sa

from issuer.db import migration_keys
from issuer.errors import IssuerError
from issuer.keys import IssuerKeys
from issuer.personal_data import (PersonalField, open_personal_field, open_text,
                                  seal_personal_field, seal_text)


revision: str = 'pii02'
down_revision: Union[str, Sequence[str], None] = 'card01'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_FIELDS: tuple[PersonalField, ...] = ('id_number', 'mobile')
_applicant = sa.table(
    'applicant', sa.column('id', sa.Integer()),
    *(sa.column(f'{field}_sealed', sa.LargeBinary()) for field in _FIELDS),
)
_application = sa.table('application', sa.column('id', sa.String()),
                        sa.column('applicant_id', sa.Integer()))


def _rows() -> list[tuple[int, str, dict[PersonalField, bytes]]]:
    """(applicant row id, its application's id, sealed values) of every applicant."""
    bind = op.get_bind()
    owners: dict[int, list[str]] = {}
    for application_id, applicant_id in bind.execute(
            sa.select(_application.c.id, _application.c.applicant_id)
            .where(_application.c.applicant_id.is_not(None))):
        owners.setdefault(int(applicant_id), []).append(str(application_id))
    rows = []
    for row in bind.execute(sa.select(_applicant)).all():
        found = owners.get(int(row.id), [])
        if len(found) != 1:
            raise IssuerError(
                f'applicant row {row.id} belongs to {len(found)} applications, not one: its '
                'personal data cannot be bound to an application; fix the row first')
        rows.append((int(row.id), found[0],
                     {field: bytes(getattr(row, f'{field}_sealed')) for field in _FIELDS}))
    return rows


def _reseal(convert: Callable[[IssuerKeys, str, PersonalField, bytes], bytes]) -> None:
    """Replace every applicant's two sealed values by `convert(keys, application id, field,
    old)`."""
    rows = _rows()
    keys = migration_keys(
        len(rows), needing='applicant(s) hold personal data that this migration must re-seal')
    if keys is None:
        return
    for row_id, application_id, sealed in rows:
        values = {f'{field}_sealed': convert(keys, application_id, field, sealed[field])
                  for field in _FIELDS}
        op.get_bind().execute(_applicant.update().where(_applicant.c.id == row_id)
                              .values(**values))


def upgrade() -> None:
    """Re-seal every applicant's ID number and mobile bound to its application and field."""
    _reseal(lambda keys, application_id, field, old: seal_personal_field(
        keys=keys, application_id=application_id, field=field,
        value=open_text(keys=keys, sealed=old)))


def downgrade() -> None:
    """Back to the unbound pii01 form (needs the issuer keys too)."""
    _reseal(lambda keys, application_id, field, old: seal_text(
        keys=keys, text=open_personal_field(keys=keys, application_id=application_id,
                                            field=field, sealed=old)))
