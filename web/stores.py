"""Where short-lived state lives: chosen once per app from `REDIS_URL`.

Without `REDIS_URL`, in-progress liveness states, login throttles, request rate counters and
staff console sessions are kept in the database by the issuer's SQL stores, in the request's
transaction. With it, they are kept in Redis (`web.redis_stores`); everything else stays in the
database.
"""

from __future__ import annotations

from flask import Flask, current_app

from issuer.ephemeral import (
    LivenessStateStore,
    SqlLivenessStateStore,
    SqlStaffSessionStore,
    SqlThrottleStore,
    StaffSessionStore,
    ThrottleStore,
)
from issuer.rate_limits import RateCounterStore, SqlRateCounterStore
from web.database import db_session
from web.redis_stores import RedisStores

_EXTENSION = "cardsim_redis"


def init_stores(app: Flask) -> RedisStores | None:
    """Open the Redis stores when `app.config["REDIS_URL"]` is set (validated by the config)."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    stores = RedisStores.open(str(url), prefix=str(app.config["CARDSIM_REDIS_PREFIX"]))
    app.extensions[_EXTENSION] = stores
    return stores


def redis_stores(app: Flask | None = None) -> RedisStores | None:
    """The Redis stores of `app` (default: the current app), or None when not configured."""
    target = app if app is not None else current_app
    stores: RedisStores | None = target.extensions.get(_EXTENSION)
    return stores


def liveness_store() -> LivenessStateStore:
    """This app's store of in-progress liveness states."""
    stores = redis_stores()
    return stores.liveness if stores is not None else SqlLivenessStateStore(db_session())


def throttle_store() -> ThrottleStore:
    """This app's store of failed-login counters."""
    stores = redis_stores()
    return stores.throttles if stores is not None else SqlThrottleStore(db_session())


def rate_counter_store() -> RateCounterStore:
    """This app's store of request rate counters."""
    stores = redis_stores()
    return stores.rate_counters if stores is not None else SqlRateCounterStore(db_session())


def staff_session_store() -> StaffSessionStore:
    """This app's store of staff console sessions."""
    stores = redis_stores()
    return stores.staff_sessions if stores is not None else SqlStaffSessionStore(db_session())
