"""Request rate limits on the database store: fixed windows, exact counts under concurrency,
expired counters cleaned up (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from issuer.rate_limit_models import RateCounter
from issuer.rate_limits import RateLimit, RateLimited, SqlRateCounterStore, check_rate

LIMIT = RateLimit("applications", 3, timedelta(hours=1), "applications from this address")
# 10:00:00 exactly: a window of one hour starts here.
START = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


def _check(factory: sessionmaker[Session], subject: str, at: datetime,
           limit: RateLimit = LIMIT) -> int:
    with factory.begin() as s:
        return check_rate(SqlRateCounterStore(s), limit=limit, subject=subject, now=at)


@pytest.mark.unit
def test_a_limit_must_allow_a_request_per_second_or_longer() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        RateLimit("x", 0, timedelta(hours=1), "things")
    with pytest.raises(ValueError, match="at least one second"):
        RateLimit("x", 5, timedelta(milliseconds=500), "things")


@pytest.mark.integration
def test_limit_per_subject_and_window_with_retry_after(
        session_factory: sessionmaker[Session]) -> None:
    at = START + timedelta(minutes=50)
    assert [_check(session_factory, "10.0.0.1", at) for _ in range(3)] == [2, 1, 0]
    with pytest.raises(RateLimited) as refused:
        _check(session_factory, "10.0.0.1", at)
    assert refused.value.retry_after == 600  # the window ends at 11:00
    assert "Too many applications from this address" in refused.value.message
    assert _check(session_factory, "10.0.0.2", at) == 2  # another address has its own count
    assert _check(session_factory, "10.0.0.1", START + timedelta(hours=1)) == 2  # next window


@pytest.mark.integration
def test_refused_requests_do_not_extend_the_count(session_factory: sessionmaker[Session]) -> None:
    for _ in range(3):
        _check(session_factory, "a", START)
    for _ in range(5):
        with pytest.raises(RateLimited):
            _check(session_factory, "a", START + timedelta(minutes=1))
    with session_factory() as s:
        counted = s.scalar(select(RateCounter.count))
    # A refusal rolls its transaction back, so it is not counted (Redis counts it; either way
    # the client is refused until the window ends, and no longer).
    assert counted == 3
    assert _check(session_factory, "a", START + timedelta(hours=1)) == 2


@pytest.mark.integration
def test_expired_counters_are_deleted_when_a_new_window_starts(
        session_factory: sessionmaker[Session]) -> None:
    for hour in range(5):
        _check(session_factory, "a", START + timedelta(hours=hour))
        _check(session_factory, "b", START + timedelta(hours=hour))
    with session_factory() as s:
        rows = s.scalar(select(func.count()).select_from(RateCounter))
    assert rows == 2  # only the current window's counters are left


@pytest.mark.integration
def test_concurrent_requests_are_counted_exactly(session_factory: sessionmaker[Session]) -> None:
    limit = RateLimit("frames", 10, timedelta(hours=1), "frames")

    def one(_: int) -> bool:
        try:
            _check(session_factory, "app-1", START, limit)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(one, range(24)))
    assert outcomes.count(True) == 10
    with session_factory() as s:
        assert s.scalar(select(RateCounter.count)) == 10
