"""Template filters of the console."""

from __future__ import annotations

import json

from web.staff import staff_bp


@staff_bp.app_template_filter("details_text")
def details_text(value: object) -> str:
    """Audit and timeline details as readable JSON: keys sorted, non-ASCII kept as written.

    Returns plain text (not markup), so autoescape escapes `<`, `&` and quotes where the
    template shows it; `|tojson` would show them as \\u003c escapes instead.
    """
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
