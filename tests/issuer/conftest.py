"""Fixtures for issuer tests: databases (SQLite and PostgreSQL) and issuer keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.keys import IssuerKeys
from tests.db_fixtures import (  # noqa: F401  (fixtures, used by name)
    db_url,
    engine,
    migrated_url,
    session,
    session_factory,
    sqlite_url,
)
from tests.issuer.flow import PhoneLab


@pytest.fixture(scope="session")
def keys() -> IssuerKeys:
    """Random issuer keys, shared by the session's tests."""
    return IssuerKeys.generate()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, keys: IssuerKeys) -> PhoneLab:
    """Real emulated phones (tee_sim) that trust the issuer key, and the manufacturer trust."""
    return PhoneLab.create(tmp_path_factory.mktemp("phones"), keys)


@pytest.fixture
def cli_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IssuerKeys:
    """Issuer keys in a key file of tmp_path that `CARDSIM_KEY_FILE` names (for CLI tests)."""
    key_file = tmp_path / "keys.json"
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(key_file))
    return IssuerKeys.load_or_create(key_file)
