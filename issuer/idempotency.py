"""Idempotency keys: one rule for every call a client may retry with an `Idempotency-Key`
(card issuance, starting an application)."""

from __future__ import annotations

from issuer.errors import ValidationFailed

MAX_IDEMPOTENCY_KEY = 128


def check_idempotency_key(key: str, *, field: str = "idempotency_key",
                          min_length: int = 1) -> str:
    """`key` if it has `min_length` to 128 printable characters, else `ValidationFailed`."""
    if not min_length <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise ValidationFailed({field: f"Idempotency key must be {min_length}-"
                                       f"{MAX_IDEMPOTENCY_KEY} printable characters."})
    return key
