"""One contract for the short-lived state stores, run against the SQL stores (SQLite and
PostgreSQL) and the Redis stores (a real redis-server of the test's own), through the issuer's
domain functions; then what only Redis has (TTLs, restarts)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from issuer.ephemeral import (
    LivenessStateStore,
    SqlLivenessStateStore,
    SqlStaffSessionStore,
    SqlThrottleStore,
    StaffSessionRecord,
    StaffSessionStore,
    ThrottleStore,
)
from issuer.errors import Conflict
from issuer.keys import IssuerKeys
from issuer.models import Application, AuditEntry
from issuer.onboarding import (
    advance_liveness,
    begin_liveness_session,
    current_liveness,
    record_liveness_result,
    start_application,
    submit_identity,
)
from issuer.staff_accounts import create_staff
from issuer.staff_sessions import (
    SessionExpired,
    SessionPolicy,
    check_login_throttle,
    end_staff_session,
    record_login_failure,
    resume_staff_session,
    start_staff_session,
)
from issuer.staff_throttle import ThrottleState
from tests.issuer.flow import IDENTITY, NOW
from tests.redis_fixtures import RedisServer
from web.redis_stores import RedisStores

pytestmark = pytest.mark.integration
POLICY = SessionPolicy(absolute=timedelta(hours=2), idle=timedelta(minutes=10))


@dataclass
class Backend:
    """The database and, for the Redis backend, the Redis stores the domain functions get."""

    kind: str
    factory: sessionmaker[Session]
    redis: RedisStores | None

    def liveness(self, session: Session) -> LivenessStateStore:
        return self.redis.liveness if self.redis else SqlLivenessStateStore(session)

    def throttles(self, session: Session) -> ThrottleStore:
        return self.redis.throttles if self.redis else SqlThrottleStore(session)

    def staff_sessions(self, session: Session) -> StaffSessionStore:
        return self.redis.staff_sessions if self.redis else SqlStaffSessionStore(session)


@pytest.fixture(params=["sql", "redis"])
def backend(request: pytest.FixtureRequest, session_factory: sessionmaker[Session],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if request.param == "sql":
        yield Backend("sql", session_factory, None)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    stores = RedisStores.open(server.url, prefix="test:")
    yield Backend("redis", session_factory, stores)
    stores.client.close()


def new_application(factory: sessionmaker[Session]) -> str:
    with factory.begin() as s:
        application_id = start_application(s, now=NOW).application.id
        submit_identity(s, application_id=application_id, now=NOW, keys=IssuerKeys.generate(),
                        **IDENTITY)
    return application_id


def test_liveness_state_compare_and_set_and_one_result_per_session(backend: Backend) -> None:
    factory = backend.factory
    application_id = new_application(factory)
    with factory.begin() as s:
        first = begin_liveness_session(s, application_id=application_id, state={"frame": 0},
                                       now=NOW, liveness_store=backend.liveness(s))
    assert (first.session, first.version) == (1, 1)
    with factory.begin() as s, pytest.raises(Conflict, match="already in progress"):
        begin_liveness_session(s, application_id=application_id, state={"frame": 0},
                               now=NOW, liveness_store=backend.liveness(s))
    with factory() as s:
        assert current_liveness(s, application_id=application_id,
                                liveness_store=backend.liveness(s)) == first
    with factory.begin() as s:
        second = advance_liveness(s, application_id=application_id, progress=first,
                                  state={"frame": 1}, now=NOW,
                                  liveness_store=backend.liveness(s))
    assert (second.version, second.state) == (2, {"frame": 1})
    # A frame applied to the first version lost the race: refused, the state is untouched.
    with factory.begin() as s, pytest.raises(Conflict, match="meanwhile"):
        advance_liveness(s, application_id=application_id, progress=first,
                         state={"frame": "stale"}, now=NOW, liveness_store=backend.liveness(s))
    with factory() as s:
        now_stored = current_liveness(s, application_id=application_id,
                                      liveness_store=backend.liveness(s))
    assert now_stored == second
    with factory.begin() as s:
        record_liveness_result(s, application_id=application_id, passed=False, score=0.1,
                               details={}, keyframes=[], now=NOW, session_key=second.key)
    with factory.begin() as s:
        backend.liveness(s).discard(application_id=application_id, key=second.key)
    with factory() as s:
        assert current_liveness(s, application_id=application_id,
                                liveness_store=backend.liveness(s)) is None
        assert backend.liveness(s).load(application_id=application_id, key=second.key) is None
    with factory.begin() as s, pytest.raises(Conflict, match="already has its result"):
        record_liveness_result(s, application_id=application_id, passed=True, score=0.9,
                               details={}, keyframes=[], now=NOW, session_key=second.key)
    with factory.begin() as s:  # the next attempt gets a new key
        third = begin_liveness_session(s, application_id=application_id, state={"frame": 0},
                                       now=NOW, liveness_store=backend.liveness(s))
    assert third.session == 2 and third.key != second.key and third.version == 1


def test_concurrent_frames_on_one_version_exactly_one_wins(backend: Backend) -> None:
    factory = backend.factory
    application_id = new_application(factory)
    with factory.begin() as s:
        start = begin_liveness_session(s, application_id=application_id, state={"n": 0},
                                       now=NOW, liveness_store=backend.liveness(s))
    barrier = threading.Barrier(8)

    def frame(n: int) -> bool:
        barrier.wait()
        try:
            with factory.begin() as s:
                advance_liveness(s, application_id=application_id, progress=start,
                                 state={"n": n}, now=NOW, liveness_store=backend.liveness(s))
        except Conflict:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(frame, range(1, 9)))
    assert won.count(True) == 1, won
    with factory() as s:
        stored = current_liveness(s, application_id=application_id,
                                  liveness_store=backend.liveness(s))
    assert stored is not None and stored.version == 2
    assert stored.state == {"n": won.index(True) + 1}


def test_twenty_concurrent_login_failures_are_all_counted(backend: Backend) -> None:
    factory = backend.factory
    barrier = threading.Barrier(20)

    def fail(_: int) -> None:
        barrier.wait()
        with factory.begin() as s:
            record_login_failure(s, username="Alice", client_ip="192.0.2.9", now=NOW,
                                 throttle_store=backend.throttles(s))

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(fail, range(20)))
    with factory() as s:
        store = backend.throttles(s)
        user, address = store.get("user:alice"), store.get("ip:192.0.2.9")
        lockouts = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "staff.login_throttled"))
    assert (user.failures, address.failures) == (20, 20)
    assert user.locked_until == NOW + timedelta(minutes=15)
    # Each key reached its limit exactly once (5 for the name, 20 for the address): audited once.
    assert lockouts == 2
    with factory() as s, pytest.raises(Exception, match="Too many failed logins"):
        check_login_throttle(s, username="alice", client_ip="198.51.100.1", now=NOW,
                             throttle_store=backend.throttles(s))
    with factory.begin() as s:
        backend.throttles(s).clear("user:alice")
    with factory() as s:
        assert backend.throttles(s).get("user:alice") == ThrottleState()


def test_staff_sessions_live_touch_end_and_end_all(backend: Backend) -> None:
    factory = backend.factory
    with factory.begin() as s:
        alice = create_staff(s, username="alice", password="correct horse battery",
                             role="reviewer", now=NOW).id
    tokens = []
    for minute in range(3):
        with factory.begin() as s:
            tokens.append(start_staff_session(
                s, staff_user_id=alice, client_ip="10.0.0.1", policy=POLICY,
                now=NOW + timedelta(minutes=minute), session_store=backend.staff_sessions(s)))
    with factory.begin() as s:
        principal = resume_staff_session(s, token=tokens[0], now=NOW + timedelta(minutes=9),
                                         session_store=backend.staff_sessions(s))
    assert principal.username == "alice"
    with factory() as s:
        store = backend.staff_sessions(s)
        assert store.count_active(alice, now=NOW + timedelta(minutes=9)) == 3
        record = store.get(_hash(tokens[0]))
    assert record is not None and record.last_seen_at == NOW + timedelta(minutes=9)
    # Idle for 10 minutes since its last use: over (and ended, not only refused).
    with factory.begin() as s, pytest.raises(SessionExpired, match="expired"):
        resume_staff_session(s, token=tokens[1], now=NOW + timedelta(minutes=12),
                             session_store=backend.staff_sessions(s))
    with factory() as s:
        assert backend.staff_sessions(s).get(_hash(tokens[1])) is None
    with factory.begin() as s:
        end_staff_session(s, token=tokens[0], now=NOW + timedelta(minutes=13),
                          session_store=backend.staff_sessions(s))
        end_staff_session(s, token=tokens[0], now=NOW + timedelta(minutes=13),
                          session_store=backend.staff_sessions(s))  # twice: one audit entry
        logouts = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "staff.logout"))
    assert logouts == 1
    with factory.begin() as s:
        store = backend.staff_sessions(s)
        store.touch(_hash(tokens[0]), now=NOW + timedelta(minutes=14))  # no revival
        assert store.get(_hash(tokens[0])) is None
        assert store.end_all_for_user(alice, now=NOW + timedelta(minutes=14)) == 1
        assert store.count_active(alice, now=NOW + timedelta(minutes=14)) == 0
    with factory() as s, pytest.raises(SessionExpired):
        resume_staff_session(s, token=tokens[2], now=NOW + timedelta(minutes=15),
                             session_store=backend.staff_sessions(s))


def _hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


# --- Redis only ------------------------------------------------------------------------------

@pytest.fixture
def redis_backend(redis_server: RedisServer, sqlite_factory: sessionmaker[Session]
                  ) -> Iterator[Backend]:
    stores = RedisStores.open(redis_server.url, prefix="test:")
    yield Backend("redis", sqlite_factory, stores)
    stores.client.close()


@pytest.fixture
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    from issuer.db import make_engine, make_session_factory, upgrade_database

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'cardsim.db'}"
    upgrade_database(url)
    sqlite_engine = make_engine(url)
    yield make_session_factory(sqlite_engine)
    sqlite_engine.dispose()


def test_every_redis_key_has_its_ttl_and_nothing_goes_to_the_tables(
    redis_backend: Backend, redis_server: RedisServer
) -> None:
    factory, stores = redis_backend.factory, redis_backend.redis
    assert stores is not None
    application_id = new_application(factory)
    with factory.begin() as s:
        progress = begin_liveness_session(s, application_id=application_id, state={"a": 1},
                                          now=NOW, liveness_store=stores.liveness)
        application = s.get(Application, application_id)
        assert application is not None
        lifetime = application.expires_at - NOW
        assert application.liveness_state == {"session": 1, "key": progress.key}  # no state
        record_login_failure(s, username="bob", client_ip="10.9.9.9", now=NOW,
                             throttle_store=stores.throttles)
        bob = create_staff(s, username="bob", password="correct horse battery",
                           role="reviewer", now=NOW).id
        token = start_staff_session(s, staff_user_id=bob, client_ip="10.9.9.9", now=NOW,
                                    policy=POLICY, session_store=stores.staff_sessions)
    look = redis_server.client()
    ttl_ms = {_text(key): look.pttl(key) for key in look.keys("test:*")}
    expected = {
        f"test:liveness:{application_id}:{progress.key}": lifetime,
        "test:throttle:user:bob": timedelta(minutes=30),
        "test:throttle:ip:10.9.9.9": timedelta(minutes=30),
        f"test:staff_session:{_hash(token)}": POLICY.absolute,
        f"test:staff_sessions:{bob}": POLICY.absolute,
    }
    assert set(ttl_ms) == set(expected)
    for key, ttl in expected.items():
        assert ttl.total_seconds() * 1000 - 5000 < ttl_ms[key] <= ttl.total_seconds() * 1000, key
    with factory() as s:
        from issuer.review_models import LoginThrottle, StaffSession

        assert s.scalar(select(func.count()).select_from(StaffSession)) == 0
        assert s.scalar(select(func.count()).select_from(LoginThrottle)) == 0


def test_after_a_redis_restart_the_lost_session_stays_used(
    redis_backend: Backend, redis_server: RedisServer
) -> None:
    factory, stores = redis_backend.factory, redis_backend.redis
    assert stores is not None
    application_id = new_application(factory)
    with factory.begin() as s:
        lost = begin_liveness_session(s, application_id=application_id, state={"a": 1},
                                      now=NOW, liveness_store=stores.liveness)
    redis_server.restart()  # no persistence: everything is gone
    with factory() as s:  # the pooled connection died with the server; one reconnect
        assert current_liveness(s, application_id=application_id,
                                liveness_store=stores.liveness) is None
    with factory.begin() as s, pytest.raises(Conflict):
        advance_liveness(s, application_id=application_id, progress=lost, state={"a": 2},
                         now=NOW, liveness_store=stores.liveness)
    with factory.begin() as s:
        again = begin_liveness_session(s, application_id=application_id, state={"a": 1},
                                       now=NOW, liveness_store=stores.liveness)
    assert again.session == 2


def test_redis_down_raises_a_redis_connection_error(
    redis_backend: Backend, redis_server: RedisServer
) -> None:
    import redis

    stores = redis_backend.redis
    assert stores is not None
    redis_server.stop()
    with pytest.raises(redis.exceptions.ConnectionError):
        stores.throttles.get("user:alice")
    with pytest.raises(redis.exceptions.ConnectionError):
        stores.staff_sessions.add(StaffSessionRecord(
            token_hash="0" * 64, staff_user_id=1, created_at=NOW, last_seen_at=NOW,
            expires_at=NOW + timedelta(hours=1), idle_timeout_seconds=60, client_ip=""))


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key
