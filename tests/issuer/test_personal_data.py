"""Resident ID and mobile numbers sealed at rest: the sealing, and the migration of old rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from issuer.db import (
    alembic_config,
    holds_encrypted_data,
    make_engine,
    make_session_factory,
    upgrade_database,
)
from issuer.errors import IssuerError, KeyFileError
from issuer.keys import IssuerKeys
from issuer.models import Applicant
from issuer.personal_data import open_text, personal_data_key, seal_identity, seal_text
from tests.issuer.cli import run_admin
from tests.issuer.flow import IDENTITY

ID_NUMBER = str(IDENTITY["id_number"])
MOBILE = str(IDENTITY["mobile"])


@pytest.mark.unit
def test_sealed_identity_opens_to_the_numbers_and_keeps_masked_copies() -> None:
    keys = IssuerKeys.generate()
    sealed = seal_identity(keys=keys, id_number=ID_NUMBER, mobile=MOBILE)
    assert open_text(keys=keys, sealed=sealed.id_number_sealed) == ID_NUMBER
    assert open_text(keys=keys, sealed=sealed.mobile_sealed) == MOBILE
    assert ID_NUMBER.encode() not in sealed.id_number_sealed
    assert sealed.id_number_masked == "*" * 14 + ID_NUMBER[-4:]
    assert sealed.mobile_masked == "138****5678"
    # The birth date is kept in clear: the mask must not leave the rest of the number visible.
    assert ID_NUMBER[:6] not in sealed.id_number_masked
    # A fresh nonce each time: equal numbers do not give equal records.
    assert seal_text(keys=keys, text=ID_NUMBER) != seal_text(keys=keys, text=ID_NUMBER)


@pytest.mark.unit
def test_personal_data_key_is_separate_from_the_card_number_kek() -> None:
    keys = IssuerKeys.generate()
    assert personal_data_key(keys) != keys.kek
    assert personal_data_key(keys) == personal_data_key(keys)


@pytest.mark.unit
def test_wrong_key_or_altered_record_is_refused() -> None:
    keys = IssuerKeys.generate()
    sealed = seal_text(keys=keys, text=ID_NUMBER)
    with pytest.raises(IssuerError, match="failed authentication"):
        open_text(keys=IssuerKeys.generate(), sealed=sealed)
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(IssuerError, match="failed authentication"):
        open_text(keys=keys, sealed=altered)


def _at_staff01_with_one_plaintext_applicant(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "staff01")
            connection.execute(text(
                "INSERT INTO applicant (full_name, id_number, birth_date, mobile, annual_income,"
                " employer, created_at) VALUES ('王小明', :id, '1990-03-07', :mobile, 120000,"
                " 'Acme', :at)"), {"id": ID_NUMBER, "mobile": MOBILE,
                                   "at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)})
    finally:
        engine.dispose()


def _plaintext_row(url: str) -> tuple[str, str]:
    """(id_number, mobile) of the one applicant of a database at staff01."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT id_number, mobile FROM applicant")).one()
    finally:
        engine.dispose()
    return str(row[0]), str(row[1])


def _head_revision() -> str:
    """The newest migration (so this test does not name whichever revision is newest today)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _revision(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version"))
                       .scalar_one())
    finally:
        engine.dispose()


@pytest.mark.integration
def test_migration_seals_existing_rows_and_downgrade_opens_them(db_url: str) -> None:
    _at_staff01_with_one_plaintext_applicant(db_url)
    keys = IssuerKeys.generate()
    upgrade_database(db_url, keys=keys)
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            person = s.scalars(select(Applicant)).one()
            assert open_text(keys=keys, sealed=person.id_number_sealed) == ID_NUMBER
            assert open_text(keys=keys, sealed=person.mobile_sealed) == MOBILE
            assert person.id_number_masked == "*" * 14 + ID_NUMBER[-4:]
            assert person.mobile_masked == "138****5678"
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection, keys=keys), "staff01")
    finally:
        engine.dispose()
    assert _plaintext_row(db_url) == (ID_NUMBER, MOBILE)


@pytest.mark.integration
def test_migration_without_keys_stops_before_changing_anything(db_url: str) -> None:
    _at_staff01_with_one_plaintext_applicant(db_url)
    with pytest.raises(KeyFileError, match="1 applicant"):
        upgrade_database(db_url)
    assert _revision(db_url) == "staff01"
    assert _plaintext_row(db_url) == (ID_NUMBER, MOBILE)


@pytest.mark.integration
def test_init_db_refuses_new_keys_for_a_database_that_holds_sealed_data(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _at_staff01_with_one_plaintext_applicant(db_url)
    assert holds_encrypted_data(db_url)
    missing = tmp_path / "wrong" / "keys.json"
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(missing))
    assert run_admin(["init-db", "--database-url", db_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "already holds data" in err
    assert not missing.exists() and _revision(db_url) == "staff01"
    real = tmp_path / "keys.json"
    IssuerKeys.load_or_create(real)
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(real))
    assert run_admin(["init-db", "--database-url", db_url]) == 0
    assert _revision(db_url) == _head_revision()


@pytest.mark.integration
def test_keys_are_created_only_for_a_database_without_encrypted_data(
        db_url: str, tmp_path: Path) -> None:
    upgrade_database(db_url)
    assert not holds_encrypted_data(db_url)
    created = IssuerKeys.for_database(tmp_path / "k.json", database_has_data=False)
    assert IssuerKeys.for_database(tmp_path / "k.json", database_has_data=True) == created
    with pytest.raises(KeyFileError, match="already holds data"):
        IssuerKeys.for_database(tmp_path / "other.json", database_has_data=True)
