"""Card PAN, DPAN and card key re-sealed bound to their row and column (issuer.vault).

They were XSalsa20-Poly1305 boxes under the bare KEK, so a ciphertext copied from one card row
into another opened as that other card's number. Each is now XChaCha20-Poly1305 whose
associated data names the application and the column. Existing rows are re-sealed in place,
which needs the issuer keys (`cardsim init-db` and `cardsim serve` load the key file first); a
database with cards and no keys stops before any change, with a clear error.

Revision ID: card01
Revises: idem01
Create Date: card fields bound to their row

"""
from typing import Sequence, Union

from collections.abc import Callable

from alembic import op
import sqlalchemy as sa

from issuer.db import migration_keys
from issuer.keys import IssuerKeys
from issuer.vault import (CardField, decrypt_number, encrypt_number, open_card_field,
                          seal_card_field)


revision: str = 'card01'
down_revision: Union[str, Sequence[str], None] = 'idem01'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_FIELDS: tuple[CardField, ...] = ('pan', 'dpan', 'card_key')
_card = sa.table(
    'card', sa.column('id', sa.Integer()), sa.column('application_id', sa.String()),
    *(sa.column(f'{field}_ciphertext', sa.LargeBinary()) for field in _FIELDS),
)


def _reseal(convert: Callable[[IssuerKeys, str, CardField, bytes], bytes]) -> None:
    """Replace every card's three ciphertexts by `convert(keys, application id, field, old)`."""
    rows = op.get_bind().execute(sa.select(_card)).all()
    keys = migration_keys(len(rows),
                          needing='card(s) hold numbers that this migration must re-seal')
    if keys is None:
        return
    for row in rows:
        values = {f'{field}_ciphertext': convert(keys, row.application_id, field,
                                                 getattr(row, f'{field}_ciphertext'))
                  for field in _FIELDS}
        op.get_bind().execute(_card.update().where(_card.c.id == row.id).values(**values))


def upgrade() -> None:
    """Re-seal every card's PAN, DPAN and card key bound to its application and column."""
    _reseal(lambda keys, application_id, field, old: seal_card_field(
        kek=keys.kek, application_id=application_id, field=field,
        value=decrypt_number(kek=keys.kek, ciphertext=old)))


def downgrade() -> None:
    """Back to XSalsa20-Poly1305 boxes under the bare KEK (needs the issuer keys too)."""
    _reseal(lambda keys, application_id, field, old: encrypt_number(
        kek=keys.kek, number=open_card_field(kek=keys.kek, application_id=application_id,
                                             field=field, ciphertext=old)))
