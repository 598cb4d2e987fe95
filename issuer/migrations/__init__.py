"""Alembic migrations for the issuer schema, packaged so an installed `cardsim init-db` works."""
