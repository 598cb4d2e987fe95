"""Alembic environment: runs on the connection handed over by `issuer.db.upgrade_database`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from issuer.db import database_url_from_env, load_all_models, make_engine

target_metadata = load_all_models()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url_from_env())
    try:
        with engine.begin() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use `cardsim init-db`")
run_migrations_online()
