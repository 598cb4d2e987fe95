"""Reading the console's plain HTML forms and query strings (CSRF is checked globally)."""

from __future__ import annotations

from datetime import date

from flask import request

from issuer.errors import ValidationFailed

MAX_FIELD = 2000


def field(name: str, *, required: bool = True) -> str:
    """A trimmed form field; a missing required field is a `ValidationFailed`."""
    value = request.form.get(name, "").strip()
    if required and not value:
        raise ValidationFailed({name: "This field is required."})
    return value[:MAX_FIELD + 1]


def query_text(name: str, *, limit: int = 100) -> str | None:
    """A trimmed query-string value, or None when empty."""
    value = request.args.get(name, "").strip()[:limit]
    return value or None


# Filters search this range; the ends leave room for the day arithmetic of a date filter.
QUERY_DATES = (date(2000, 1, 1), date(2999, 12, 31))


def query_date(name: str) -> date | None:
    """An ISO date from the query string; a malformed one is a `ValidationFailed`."""
    value = query_text(name, limit=10)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed({name: "Use a date like 2026-01-31."}) from None
    if not QUERY_DATES[0] <= day <= QUERY_DATES[1]:
        raise ValidationFailed({name: f"Use a date between {QUERY_DATES[0].isoformat()} and "
                                      f"{QUERY_DATES[1].isoformat()}."})
    return day


def query_page() -> int:
    """The 1-based page number from `?page=`, 1 when absent or malformed."""
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1
