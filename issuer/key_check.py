"""Key check value: a database remembers which issuer key file it belongs to.

A valid key file from another installation loads without error, and used to be noticed only
at the first reveal ("failed authentication"). `cardsim init-db` and `cardsim serve` store a key
check value in the `key_check` table on first start and compare it on every later start, so the
wrong key file is refused before anything is served or migrated.

The value is HMAC-SHA256 of a fixed label under a key derived from the KEK (keyed BLAKE2b with
its own personalisation): it names the KEK without revealing it, and, the KEK being 32 random
bytes, gives nothing to brute-force it with. A database that holds no value yet (made before
this check) gets one on its first start, after one stored card and one stored applicant value
(if any) have been opened with the keys, so the value stored is the right key file's.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from issuer.db import READ_ONLY, holds_encrypted_data, open_database, upgrade_database
from issuer.errors import IssuerError, KeyFileError
from issuer.key_check_models import KeyCheck
from issuer.keys import IssuerKeys
from issuer.models import Applicant, Application, Card
from issuer.personal_data import open_personal_field
from issuer.vault import derive_key, open_card_field

KEY_CHECK_LABEL = b"cardsim issuer key check value"
_PERSONALISATION = b"cardsim-kcv-v1"  # at most 16 bytes (BLAKE2b)
_ROW_ID = 1


def key_check_value(keys: IssuerKeys) -> bytes:
    """HMAC-SHA256 of `KEY_CHECK_LABEL` under a key derived from the KEK."""
    return hmac.new(derive_key(kek=keys.kek, personalisation=_PERSONALISATION),
                    KEY_CHECK_LABEL, hashlib.sha256).digest()


def _mismatch(key_file: Path, why: str) -> KeyFileError:
    return KeyFileError(f"the key file {key_file} does not belong to this database ({why}); "
                        "set CARDSIM_KEY_FILE to the key file this database was created with")


def _opens_stored_data(connection: Connection, keys: IssuerKeys) -> bool:
    """Whether one stored card PAN and one stored applicant ID number open with `keys`."""
    card = connection.execute(select(Card.application_id, Card.pan_ciphertext).limit(1)).first()
    person = connection.execute(
        select(Application.id, Applicant.id_number_sealed)
        .join(Applicant, Application.applicant_id == Applicant.id).limit(1)).first()
    try:
        if card is not None:
            open_card_field(kek=keys.kek, application_id=card.application_id, field="pan",
                            ciphertext=card.pan_ciphertext)
        if person is not None:
            open_personal_field(keys=keys, application_id=person.id, field="id_number",
                                sealed=person.id_number_sealed)
    except IssuerError:
        return False
    return True


def check_key_file(url: str, *, keys: IssuerKeys, key_file: Path, now: datetime,
                   store: bool) -> None:
    """Refuse (`KeyFileError`, one line naming `key_file`) keys that are not this database's.

    A stored key check value must equal the keys' one. Without a stored value nothing is
    compared, and with `store` (after the migrations ran) the keys' value is stored, provided
    the data already stored opens with them. A database without the `key_check` table (not yet
    migrated) is left alone.
    """
    engine = open_database(url, create=True)
    if not store:  # only compares: never queue behind (or block) the app's writers on SQLite
        engine = engine.execution_options(**READ_ONLY)
    try:
        for _attempt in range(2):
            try:
                with engine.begin() as connection:
                    if KeyCheck.__tablename__ not in inspect(connection).get_table_names():
                        return
                    stored = connection.execute(
                        select(KeyCheck.value).where(KeyCheck.id == _ROW_ID)).scalar_one_or_none()
                    if stored is not None:
                        if not hmac.compare_digest(bytes(stored), key_check_value(keys)):
                            raise _mismatch(key_file, "its key check value differs")
                        return
                    if not store:
                        return
                    if not _opens_stored_data(connection, keys):
                        raise _mismatch(key_file, "the stored card numbers or personal data "
                                                  "do not open with it")
                    connection.execute(insert(KeyCheck).values(
                        id=_ROW_ID, value=key_check_value(keys), created_at=now))
                    return
            except IntegrityError:
                continue  # another process stored it at the same moment: compare with that
    finally:
        engine.dispose()


def upgrade_with_key_file(url: str, *, key_file: Path, now: datetime) -> IssuerKeys:
    """What `cardsim init-db` and `cardsim serve` do first: load the database's keys (created
    while it holds nothing encrypted), refuse them if they are not this database's, run every
    migration with them, then store the key check value if there is none yet."""
    keys = IssuerKeys.for_database(key_file, database_has_data=holds_encrypted_data(url))
    check_key_file(url, keys=keys, key_file=key_file, now=now, store=False)
    upgrade_database(url, keys=keys)
    check_key_file(url, keys=keys, key_file=key_file, now=now, store=True)
    return keys
