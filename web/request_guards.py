"""Checks every request passes before any view runs."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map

from web.errors import WebError

# The largest id a database integer column holds (PostgreSQL bigint, SQLite INTEGER).
MAX_ID = 2**63 - 1


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` route parts: a larger number matches no route (404) instead of
    overflowing the database driver."""

    def __init__(self, map: Map, fixed_digits: int = 0,  # werkzeug's parameter names
                 min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def reject_nul_characters() -> None:
    """400 `malformed_request` for a NUL character in the path, the query or a form field.

    No text a person types contains one, and PostgreSQL text cannot store it: refused here, it
    never reaches a query (JSON bodies are checked in `web.json_body`).
    """
    parts = [request.path, *request.args.keys(), *request.args.values()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        parts += [*request.form.keys(), *request.form.values()]
    if any("\x00" in part for part in parts):
        raise WebError(400, "malformed_request", "The request contains a NUL character.")


def init_request_guards(app: Flask) -> None:
    """Install the id converter (call before registering blueprints) and the NUL check."""
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(reject_nul_characters)
