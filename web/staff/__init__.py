"""The bank staff console: a blueprint under /staff with its own templates and static files."""

from __future__ import annotations

from flask import Blueprint

staff_bp = Blueprint("staff", __name__, url_prefix="/staff")

# Route modules register themselves on `staff_bp` when imported.
from web.staff import (  # noqa: E402, F401
    auth,
    errors,
    filters,
    views_admin,
    views_audit,
    views_cards,
    views_cases,
)
