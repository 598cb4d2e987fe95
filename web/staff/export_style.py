"""The printable case export carries its stylesheet and its policy inside the page.

A saved copy of `export.html` is evidence kept outside the console: it must look the same and
stay script-free when opened from disk, where neither `/static/` nor the server's headers exist.
So the console stylesheet is inlined in a `<style>` element allowed by its hash (the console's
own policy forbids inline style), and the same policy is repeated in a `<meta>` element.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "staff" / "console.css"


@dataclass(frozen=True)
class ExportStyle:
    """The stylesheet text and the Content-Security-Policy that admits exactly it."""

    css: str
    policy: str  # for the <meta> element (no frame-ancestors there: browsers ignore it)

    @property
    def header_policy(self) -> str:
        """The policy for the response header, which can also forbid framing."""
        return f"{self.policy}; frame-ancestors 'none'"


@cache
def export_style() -> ExportStyle:
    """Read the console stylesheet once and build the export's policy around its hash."""
    css = STYLESHEET.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    policy = "; ".join((
        "default-src 'none'",
        f"style-src 'sha256-{digest}'",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
    ))
    return ExportStyle(css=css, policy=policy)
