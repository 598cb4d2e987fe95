"""The one rule for free text people type and staff read: no hidden characters."""

from __future__ import annotations

import unicodedata


def has_hidden_characters(text: str, *, layout: str = "") -> bool:
    """Whether `text` holds a control, format, surrogate, private-use or unassigned character
    (Unicode category C), other than those in `layout` (e.g. line breaks in a comment).

    Such a character shows nothing itself or changes how the text around it is drawn (a bidi
    override redraws what staff read), and a lone surrogate cannot be shown at all.
    """
    return any(unicodedata.category(c).startswith("C") and c not in layout for c in text)
