"""Template filters of the console."""

from __future__ import annotations

import json

from issuer.decision import REASON_LABELS
from issuer.review import REVIEW_REASONS, ReviewVerb
from web.staff import staff_bp


@staff_bp.app_template_filter("details_text")
def details_text(value: object) -> str:
    """Audit and timeline details as readable JSON: keys sorted, non-ASCII kept as written.

    Returns plain text (not markup), so autoescape escapes `<`, `&` and quotes where the
    template shows it; `|tojson` would show them as \\u003c escapes instead.
    """
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@staff_bp.app_template_filter("cny")
def cny(amount: int | None) -> str:
    """An amount in yuan with thousands grouped, as the agreement writes it: CNY 90,000."""
    return "—" if amount is None else f"CNY {amount:,}"


@staff_bp.app_template_filter("override_reason")
def override_reason(code: str) -> str:
    """The label the override form showed for a reason code (the code if it is unknown)."""
    return REVIEW_REASONS[ReviewVerb.OVERRIDE].get(code, code)


@staff_bp.app_template_filter("decision_reason")
def decision_reason(code: str) -> str:
    """Staff's words for a decision reason code (the code itself if it has none, e.g. a
    phone verifier's reason such as `custom_os`)."""
    return REASON_LABELS.get(code, code)
