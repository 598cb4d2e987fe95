"""Resident ID and mobile numbers sealed at rest, bound to their application and field: the
sealing, values moved between rows or columns, and the migrations of old rows (pii01, pii02)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from issuer.db import (
    alembic_config,
    holds_encrypted_data,
    make_engine,
    make_session_factory,
    upgrade_database,
)
from issuer.errors import IssuerError, KeyFileError
from issuer.keys import IssuerKeys
from issuer.models import Applicant, Application
from issuer.personal_data import (
    open_personal_field,
    open_text,
    personal_data_key,
    seal_identity,
    seal_personal_field,
    seal_text,
)
from issuer.states import ApplicationState
from tests.issuer.cli import run_admin
from tests.issuer.flow import IDENTITY, Flow, PhoneLab

ID_NUMBER = str(IDENTITY["id_number"])
MOBILE = str(IDENTITY["mobile"])
APPLICATION_ID = "a" * 32


@pytest.mark.unit
def test_sealed_identity_opens_to_the_numbers_and_keeps_masked_copies() -> None:
    keys = IssuerKeys.generate()
    sealed = seal_identity(keys=keys, application_id=APPLICATION_ID, id_number=ID_NUMBER,
                           mobile=MOBILE)
    assert open_personal_field(keys=keys, application_id=APPLICATION_ID, field="id_number",
                               sealed=sealed.id_number_sealed) == ID_NUMBER
    assert open_personal_field(keys=keys, application_id=APPLICATION_ID, field="mobile",
                               sealed=sealed.mobile_sealed) == MOBILE
    assert ID_NUMBER.encode() not in sealed.id_number_sealed
    assert sealed.id_number_masked == "*" * 14 + ID_NUMBER[-4:]
    assert sealed.mobile_masked == "138****5678"
    # The birth date is kept in clear: the mask must not leave the rest of the number visible.
    assert ID_NUMBER[:6] not in sealed.id_number_masked
    # A fresh nonce each time: equal numbers do not give equal records.
    assert seal_personal_field(keys=keys, application_id=APPLICATION_ID, field="id_number",
                               value=ID_NUMBER) != sealed.id_number_sealed
    assert seal_text(keys=keys, text=ID_NUMBER) != seal_text(keys=keys, text=ID_NUMBER)


@pytest.mark.unit
def test_personal_data_key_is_separate_from_the_card_number_kek() -> None:
    keys = IssuerKeys.generate()
    assert personal_data_key(keys) != keys.kek
    assert personal_data_key(keys) == personal_data_key(keys)


@pytest.mark.unit
def test_wrong_key_or_altered_record_is_refused() -> None:
    keys = IssuerKeys.generate()
    bound = seal_personal_field(keys=keys, application_id=APPLICATION_ID, field="id_number",
                                value=ID_NUMBER)
    with pytest.raises(IssuerError, match="wrong issuer key file"):
        open_personal_field(keys=IssuerKeys.generate(), application_id=APPLICATION_ID,
                            field="id_number", sealed=bound)
    for broken in (bound[:-1] + bytes([bound[-1] ^ 1]), bound[:30], b""):
        with pytest.raises(IssuerError, match="failed authentication"):
            open_personal_field(keys=keys, application_id=APPLICATION_ID, field="id_number",
                                sealed=broken)
    sealed = seal_text(keys=keys, text=ID_NUMBER)  # the older unbound form, for migrations
    with pytest.raises(IssuerError, match="failed authentication"):
        open_text(keys=IssuerKeys.generate(), sealed=sealed)
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(IssuerError, match="failed authentication"):
        open_text(keys=keys, sealed=altered)


def _applicant(factory: sessionmaker[Session], application_id: str) -> Applicant:
    with factory() as s:
        application = s.get(Application, application_id)
        assert application is not None and application.applicant is not None
        person = application.applicant
        s.expunge(person)
    return person


@pytest.mark.integration
def test_a_value_copied_from_another_applicant_or_the_other_field_is_refused(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    mine = Flow(session_factory, lab).to(ApplicationState.IDENTITY_SUBMITTED).application_id
    theirs = Flow(session_factory, lab).to(ApplicationState.IDENTITY_SUBMITTED).application_id
    me, them = _applicant(session_factory, mine), _applicant(session_factory, theirs)
    assert open_personal_field(keys=lab.keys, application_id=mine, field="id_number",
                               sealed=me.id_number_sealed) == ID_NUMBER
    with session_factory.begin() as s:  # the other applicant's sealed values into my row
        s.execute(update(Applicant).where(Applicant.id == me.id).values(
            id_number_sealed=them.id_number_sealed, mobile_sealed=me.id_number_sealed))
    moved = _applicant(session_factory, mine)
    # Before, both opened: the other applicant's ID number as mine, my ID number as my mobile.
    with pytest.raises(IssuerError, match="resident ID number of this applicant failed auth"):
        open_personal_field(keys=lab.keys, application_id=mine, field="id_number",
                            sealed=moved.id_number_sealed)
    with pytest.raises(IssuerError, match="mobile number of this applicant failed auth"):
        open_personal_field(keys=lab.keys, application_id=mine, field="mobile",
                            sealed=moved.mobile_sealed)
    assert open_personal_field(keys=lab.keys, application_id=theirs, field="id_number",
                               sealed=them.id_number_sealed) == ID_NUMBER


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


def _link_an_application(url: str) -> None:
    """Give the one applicant its application (after pii01: SQLite's batch rebuild of the
    applicant table in pii01 fails while an application refers to it)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO application (id, state, access_token_hash, applicant_id, created_at,"
                " updated_at, expires_at, liveness_sessions, binding_attempts) VALUES (:app,"
                " 'identity_submitted', :token, (SELECT id FROM applicant), :at, :at, :at, 0, 0)"),
                {"app": APPLICATION_ID, "token": bytes(32),
                 "at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)})
    finally:
        engine.dispose()


def _upgrade_to(url: str, revision: str, keys: IssuerKeys) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection, keys=keys), revision)
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
    _upgrade_to(db_url, "pii01", keys)
    _link_an_application(db_url)
    upgrade_database(db_url, keys=keys)  # pii02 binds the values to the application
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            person = s.scalars(select(Applicant)).one()
            assert open_personal_field(keys=keys, application_id=APPLICATION_ID,
                                       field="id_number", sealed=person.id_number_sealed
                                       ) == ID_NUMBER
            assert open_personal_field(keys=keys, application_id=APPLICATION_ID, field="mobile",
                                       sealed=person.mobile_sealed) == MOBILE
            assert person.id_number_masked == "*" * 14 + ID_NUMBER[-4:]
            assert person.mobile_masked == "138****5678"
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection, keys=keys), "card01")
        with make_session_factory(engine)() as s:  # back in the unbound pii01 form
            person = s.scalars(select(Applicant)).one()
            assert open_text(keys=keys, sealed=person.id_number_sealed) == ID_NUMBER
            assert open_text(keys=keys, sealed=person.mobile_sealed) == MOBILE
        with pytest.raises(KeyFileError, match="1 applicant"):
            upgrade_database(db_url)  # pii02 without the keys: stops, changes nothing
        with make_session_factory(engine)() as s:
            assert s.scalars(select(Applicant)).one().id_number_sealed == person.id_number_sealed
        upgrade_database(db_url, keys=keys)
        with make_session_factory(engine)() as s:
            person = s.scalars(select(Applicant)).one()
            assert open_personal_field(keys=keys, application_id=APPLICATION_ID,
                                       field="mobile", sealed=person.mobile_sealed) == MOBILE
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection, keys=keys), "card01")
            connection.execute(text("DELETE FROM application"))
            command.downgrade(alembic_config(connection, keys=keys), "staff01")
    finally:
        engine.dispose()
    assert _plaintext_row(db_url) == (ID_NUMBER, MOBILE)


@pytest.mark.integration
def test_a_database_with_real_applications_at_staff01_upgrades_to_head(db_url: str) -> None:
    # On SQLite, pii01 rebuilds the applicant table; with applications referring to it, that
    # failed with "FOREIGN KEY constraint failed" while foreign keys were enforced.
    _at_staff01_with_one_plaintext_applicant(db_url)
    _link_an_application(db_url)
    keys = IssuerKeys.generate()
    upgrade_database(db_url, keys=keys)
    assert _revision(db_url) == _head_revision()
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            person = s.scalars(select(Applicant)).one()
            assert open_personal_field(keys=keys, application_id=APPLICATION_ID,
                                       field="id_number", sealed=person.id_number_sealed
                                       ) == ID_NUMBER
    finally:
        engine.dispose()


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
    real = tmp_path / "keys.json"
    _upgrade_to(db_url, "pii01", IssuerKeys.load_or_create(real))
    _link_an_application(db_url)
    assert holds_encrypted_data(db_url)
    missing = tmp_path / "wrong" / "keys.json"
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(missing))
    assert run_admin(["init-db", "--database-url", db_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "already holds data" in err
    assert not missing.exists() and _revision(db_url) == "pii01"
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
