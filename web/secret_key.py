"""Flask's SECRET_KEY, derived from the issuer key file so every worker process agrees."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from issuer.keys import IssuerKeys

_PURPOSE = b"cardsim/web/flask-secret-key/v1"


def derive_secret_key(key_file: Path) -> bytes:
    """Create the key file if absent, then derive a 32-byte secret from its content.

    The derivation is one-way (HMAC-SHA256 keyed with the file), so the cookie-signing
    key reveals nothing about the issuer's keys.
    """
    IssuerKeys.load_or_create(key_file)
    return hmac.new(key_file.read_bytes(), _PURPOSE, hashlib.sha256).digest()
