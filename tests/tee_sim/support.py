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
