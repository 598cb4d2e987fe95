"""Request rate limits: at most N requests per fixed time window for one subject.

A subject is a client address (creating applications or phones) or an application (posting
liveness frames). Counters live behind `RateCounterStore`: the database by default
(`SqlRateCounterStore`), Redis when the web layer is configured with `REDIS_URL`. Fixed
windows are cheap and atomic in both stores; at a window boundary a client can send up to
twice the limit within one window's length, which the limits below allow for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from issuer.clock import require_aware
from issuer.errors import IssuerError
from issuer.rate_limit_models import RateCounter

KEY_CHARS = 160


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests per `window` for one subject; `what` names them for messages."""

    name: str
    limit: int
    window: timedelta
    what: str

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("a rate limit allows at least one request")
        if self.window < timedelta(seconds=1):
            raise ValueError("a rate limit window is at least one second")


class RateLimited(IssuerError):
    """Too many requests; `retry_after` is the number of seconds until the window ends."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateCounterStore(Protocol):
    """Counters of requests per window bucket."""

    def hit(self, key: str, *, expires_at: datetime, now: datetime) -> int:
        """Count one request against `key` and return its count so far, atomically.

        The counter may be forgotten once `expires_at` has passed.
        """


class SqlRateCounterStore:
    """Counters in the `rate_counter` table, in the caller's transaction.

    One `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` per request: atomic on PostgreSQL
    and SQLite (whose transactions here are serialised by BEGIN IMMEDIATE). The first request
    of a bucket also deletes expired buckets, so the table holds about one row per active
    subject and limit.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def hit(self, key: str, *, expires_at: datetime, now: datetime) -> int:
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        counted = insert(RateCounter).values(key=key, count=1, expires_at=expires_at) \
            .on_conflict_do_update(index_elements=["key"],
                                   set_={"count": RateCounter.count + 1}) \
            .returning(RateCounter.count)
        count = int(self.session.execute(counted).scalar_one())
        if count == 1:
            self.session.execute(delete(RateCounter).where(RateCounter.expires_at <= now))
        return count


def _window_end(limit: RateLimit, now: datetime) -> tuple[int, datetime]:
    seconds = limit.window.total_seconds()
    index = math.floor(now.timestamp() / seconds)
    return index, datetime.fromtimestamp((index + 1) * seconds, tz=UTC)


def check_rate(store: RateCounterStore, *, limit: RateLimit, subject: str,
               now: datetime) -> int:
    """Count one request of `subject` against `limit`; returns how many remain in the window.

    Raises `RateLimited` (with the seconds until the window ends) once the limit is used up.
    """
    now = require_aware(now)
    index, ends = _window_end(limit, now)
    key = f"{limit.name}:{index}:{subject}"[:KEY_CHARS]
    count = store.hit(key, expires_at=ends, now=now)
    if count > limit.limit:
        retry_after = max(1, math.ceil((ends - now).total_seconds()))
        raise RateLimited(f"Too many {limit.what}; try again in {retry_after} s.",
                          retry_after=retry_after)
    return limit.limit - count
