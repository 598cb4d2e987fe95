"""Injectable time and randomness: callers pass these so tests can control them."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

RandomBytes = Callable[[int], bytes]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def system_random(length: int) -> bytes:
    """Cryptographically secure random bytes from the operating system."""
    return os.urandom(length)


def require_aware(value: datetime, *, name: str = "now") -> datetime:
    """Reject naive datetimes: the issuer reasons only in absolute time."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)
