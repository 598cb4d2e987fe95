"""Template filters of the console."""

from __future__ import annotations

import json
import unicodedata

from issuer.decision import REASON_LABELS
from issuer.review import REVIEW_REASONS, ReviewVerb
from web.staff import staff_bp


def _invisible(char: str) -> bool:
    """Controls, format characters (bidi overrides and isolates, zero-width spaces), line and
    paragraph separators: characters that show nothing themselves or change how the text
    around them is drawn."""
    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _json_escape(char: str) -> str:
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}"
                   for i in range(0, len(units), 2))


@staff_bp.app_template_filter("details_text")
def details_text(value: object) -> str:
    """Audit and timeline details as readable JSON: keys sorted, non-ASCII kept as written
    except invisible characters, which are written as their JSON escapes (`\\u202e`) so that
    none can hide or reorder the text around it (a right-to-left override in a comment would
    otherwise draw the rest of the details backwards).

    Returns plain text (not markup), so autoescape escapes `<`, `&` and quotes where the
    template shows it; `|tojson` would show them as \\u003c escapes instead.
    """
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    # These characters occur only inside JSON strings, where an escape means the same.
    return "".join(_json_escape(c) if _invisible(c) else c for c in text)


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
