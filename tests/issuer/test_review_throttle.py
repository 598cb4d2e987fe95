"""Login throttling policy: failures within a window lock the key out for a while."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from issuer.staff_throttle import ThrottlePolicy, ThrottleState, after_failure, locked_until

pytestmark = pytest.mark.unit

POLICY = ThrottlePolicy(max_failures=3, window=timedelta(minutes=10), lockout=timedelta(minutes=5))
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def fail(state: ThrottleState, minutes: float) -> ThrottleState:
    return after_failure(state, now=T0 + timedelta(minutes=minutes), policy=POLICY)


def test_locks_after_max_failures_within_window() -> None:
    state = ThrottleState()
    state = fail(state, 0)
    state = fail(state, 1)
    assert locked_until(state, now=T0 + timedelta(minutes=1)) is None
    state = fail(state, 2)
    assert locked_until(state, now=T0 + timedelta(minutes=2)) == T0 + timedelta(minutes=7)
    assert locked_until(state, now=T0 + timedelta(minutes=6, seconds=59)) is not None
    assert locked_until(state, now=T0 + timedelta(minutes=7)) is None


def test_failures_outside_window_start_a_new_count() -> None:
    state = fail(fail(ThrottleState(), 0), 1)
    state = fail(state, 12)
    assert state.failures == 1
    assert locked_until(state, now=T0 + timedelta(minutes=12)) is None


def test_failure_after_lock_expired_starts_over() -> None:
    state = fail(fail(fail(ThrottleState(), 0), 0), 0)
    state = fail(state, 6)
    assert state.failures == 1
    assert state.locked_until is None


def test_policy_rejects_zero_failures() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ThrottlePolicy(max_failures=0, window=timedelta(1), lockout=timedelta(1))
