"""Small test helpers for tee_sim tests."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """A clock the test moves by hand (injected, never patched)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def as_bytes(value: object) -> bytes:
    """Narrow a TEE output value (typed `object`) to bytes; fails the test if it is not."""
    assert isinstance(value, bytes), f"expected bytes, got {type(value).__name__}"
    return value


def as_chain(value: object) -> list[bytes]:
    """Narrow a TEE output value to a certificate chain (a list of DER bytes)."""
    assert isinstance(value, list), f"expected a list, got {type(value).__name__}"
    return [as_bytes(cert) for cert in value]
