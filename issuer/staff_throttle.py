"""Login throttling policy: counting failures per key and locking the key out (pure logic).

A key is a username or a client IP address. Persistence lives in `issuer.staff_login`; this
module only decides, so the rules are testable without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures within `window` lock a key, and for how long."""

    max_failures: int
    window: timedelta
    lockout: timedelta

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")


USERNAME_POLICY = ThrottlePolicy(
    max_failures=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15)
)
CLIENT_IP_POLICY = ThrottlePolicy(
    max_failures=20, window=timedelta(minutes=15), lockout=timedelta(minutes=15)
)


@dataclass(frozen=True)
class ThrottleState:
    """Failures counted since `first_failure_at`, and the lockout end if locked."""

    failures: int = 0
    first_failure_at: datetime | None = None
    locked_until: datetime | None = None


def locked_until(state: ThrottleState, *, now: datetime) -> datetime | None:
    """The end of the lockout if the key is locked at `now`, else None."""
    if state.locked_until is not None and now < state.locked_until:
        return state.locked_until
    return None


def after_failure(state: ThrottleState, *, now: datetime, policy: ThrottlePolicy) -> ThrottleState:
    """The state after one more failed attempt at `now`."""
    expired_lock = state.locked_until is not None and now >= state.locked_until
    stale = state.first_failure_at is None or now - state.first_failure_at > policy.window
    if expired_lock or stale:
        state = ThrottleState(failures=0, first_failure_at=now, locked_until=None)
    failures = state.failures + 1
    lock = now + policy.lockout if failures >= policy.max_failures else state.locked_until
    return replace(state, failures=failures, locked_until=lock)
