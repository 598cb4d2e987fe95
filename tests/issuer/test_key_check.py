"""The key check value: stored on first start, compared on every later one; a database made
before it gets one only once its stored data has opened with the key file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from issuer.db import make_engine, make_session_factory, upgrade_database
from issuer.key_check import KEY_CHECK_LABEL, key_check_value
from issuer.keys import IssuerKeys
from issuer.states import ApplicationState
from tests.issuer.cli import run_admin
from tests.issuer.flow import Flow, PhoneLab

pytestmark = pytest.mark.integration


def _key_file(path: Path, keys: IssuerKeys) -> Path:
    path.write_text(keys.to_json())
    path.chmod(0o600)
    return path


def _stored(url: str) -> list[bytes]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [bytes(v) for v in connection.execute(text("SELECT value FROM key_check"))
                    .scalars()]
    finally:
        engine.dispose()


@pytest.mark.unit
def test_the_check_value_names_the_kek_without_revealing_it() -> None:
    keys, other = IssuerKeys.generate(), IssuerKeys.generate()
    value = key_check_value(keys)
    assert value == key_check_value(keys) != key_check_value(other)
    assert len(value) == 32 and keys.kek not in value and KEY_CHECK_LABEL not in value


def test_an_older_database_gets_its_value_only_from_the_key_file_that_opens_its_data(
    sqlite_url: str, lab: PhoneLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    upgrade_database(sqlite_url, keys=lab.keys)  # as before this check: no value stored
    engine = make_engine(sqlite_url)
    try:
        Flow(make_session_factory(engine), lab).to(ApplicationState.ISSUED)
    finally:
        engine.dispose()
    assert _stored(sqlite_url) == []
    right = _key_file(tmp_path / "right.json", lab.keys)
    wrong = _key_file(tmp_path / "wrong.json", IssuerKeys.generate())

    monkeypatch.setenv("CARDSIM_KEY_FILE", str(wrong))
    assert run_admin(["init-db", "--database-url", sqlite_url]) == 1
    err = capsys.readouterr().err
    assert err == (f"cardsim: the key file {wrong} does not belong to this database (the "
                   "stored card numbers or personal data do not open with it); set "
                   "CARDSIM_KEY_FILE to the key file this database was created with\n")
    assert _stored(sqlite_url) == []

    monkeypatch.setenv("CARDSIM_KEY_FILE", str(right))
    assert run_admin(["init-db", "--database-url", sqlite_url]) == 0
    assert _stored(sqlite_url) == [key_check_value(lab.keys)]
    assert run_admin(["init-db", "--database-url", sqlite_url]) == 0  # compared, kept
    assert _stored(sqlite_url) == [key_check_value(lab.keys)]

    monkeypatch.setenv("CARDSIM_KEY_FILE", str(wrong))
    capsys.readouterr()
    assert run_admin(["init-db", "--database-url", sqlite_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its key check value differs" in err
