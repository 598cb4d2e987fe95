"""Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from issuer.db import load_all_models, make_engine, upgrade_database

pytestmark = pytest.mark.integration


def test_migrated_schema_matches_the_models(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, load_all_models())
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert diff == []
    assert {"application", "card", "audit_entry", "staff_user"} <= tables


def test_upgrade_is_idempotent(migrated_url: str) -> None:
    upgrade_database(migrated_url)  # second run: already at head, no error
