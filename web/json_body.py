"""Reading request bodies strictly: a JSON object, or raw image bytes for liveness frames."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request

from web.errors import WebError

FRAME_CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "application/octet-stream"})


def json_object(*, allow_empty: bool = True) -> dict[str, Any]:
    """The body as a JSON object; 415 for another content type, 400 when malformed.

    An empty body counts as `{}` when `allow_empty` (for action POSTs without parameters).
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            return {}
        raise WebError(400, "malformed_json", "The request body must be a JSON object.")
    if request.mimetype != "application/json":
        raise WebError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: absurdly deep nesting is malformed input too, not a server fault.
        raise WebError(400, "malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise WebError(400, "malformed_json", "The request body must be a JSON object.")
    problem = _unstorable_text(data)
    if problem:
        raise WebError(400, "malformed_json", f"The request body contains {problem}.")
    return data


# A "\ud800" escape parses into a lone surrogate: valid JSON syntax but not Unicode text, so it
# can be neither encoded to UTF-8 (PostgreSQL, pages, logs) nor shown to staff.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable_text(value: object) -> str | None:
    """What makes a string or key of a parsed JSON value unstorable (U+0000, a lone surrogate),
    or None (iterative: JSON may nest as deep as the parser allowed)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "a NUL character"
            if _LONE_SURROGATE.search(item):
                return "an unpaired UTF-16 surrogate escape, which is not text"
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def read_frame_body() -> bytes:
    """A liveness frame posted as the raw body (image/jpeg or image/png)."""
    if request.mimetype not in FRAME_CONTENT_TYPES:
        raise WebError(415, "unsupported_media_type",
                       "Post the frame as the raw body with Content-Type image/jpeg.")
    data = request.get_data(cache=False)
    if not data:
        raise WebError(422, "frame_empty", "The frame is empty.")
    return data
