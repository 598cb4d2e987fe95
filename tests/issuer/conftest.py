"""Fixtures for issuer tests: databases (SQLite and PostgreSQL) and issuer keys."""

from __future__ import annotations

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
