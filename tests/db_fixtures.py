"""Database fixtures shared by test packages: import the fixtures you need in a conftest.

`db_url` runs a test twice: on a fresh SQLite file and on a fresh PostgreSQL schema (marked
`postgres`; skipped with a reason when the server is unreachable, a failure when env CI is set).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from issuer.db import make_engine, make_session_factory, upgrade_database

POSTGRES_ENV = "CARDSIM_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    """The PostgreSQL server tests use (env CARDSIM_TEST_POSTGRES_URL)."""
    return os.environ.get(POSTGRES_ENV, "").strip() or DEFAULT_POSTGRES_URL


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}")
    pytest.skip(f"PostgreSQL unavailable at {postgres_admin_url()}: {reason}")


def _admin_engine() -> Engine:
    return create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": 3})


def fresh_postgres_schema() -> Iterator[str]:
    """Yield a URL whose search_path is a new, empty schema; drop the schema afterwards."""
    schema = "t_" + secrets.token_hex(6)
    admin = _admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any connection problem means "no server here"
        admin.dispose()
        _unavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    separator = "&" if "?" in postgres_admin_url() else "?"
    options = quote(f"-csearch_path={schema}", safe="")
    try:
        yield f"{postgres_admin_url()}{separator}options={options}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cardsim.db'}"
    else:
        yield from fresh_postgres_schema()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database file in tmp_path."""
    return f"sqlite:///{tmp_path / 'cardsim.db'}"


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """`db_url` with every Alembic migration applied."""
    upgrade_database(db_url)
    return db_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """Engine on the migrated database."""
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory on the migrated database."""
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session; the test commits what it wants persisted."""
    with session_factory() as session:
        yield session
