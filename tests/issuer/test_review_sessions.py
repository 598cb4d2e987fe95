"""Staff logins, server-side sessions and login throttling against a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from issuer.db import make_engine, make_session_factory, upgrade_database
from issuer.errors import AccessDenied, AccountLocked
from issuer.models import StaffUser
from issuer.permissions import Permission, Role
from issuer.staff_accounts import create_staff
from issuer.staff_sessions import (
    SessionExpired,
    SessionPolicy,
    end_staff_session,
    login_staff,
    resume_staff_session,
)
from tests.issuer.flow import NOW

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
POLICY = SessionPolicy(absolute=timedelta(hours=2), idle=timedelta(minutes=10))


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite file (argon2 makes these tests CPU-bound; one backend is enough)."""
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    session_factory = make_session_factory(engine)
    with session_factory.begin() as s:
        create_staff(s, username="alice", password=PASSWORD, role="supervisor", now=NOW)
        create_staff(s, username="bob", password=PASSWORD, role="reviewer", now=NOW)
    yield session_factory
    engine.dispose()


def attempt(factory: sessionmaker[Session], *, username: str = "alice",
            password: str = PASSWORD, ip: str = "10.0.0.1", minutes: float = 0) -> str:
    """One login in its own transaction, committed even when it fails (as the web does)."""
    with factory() as s:
        try:
            login = login_staff(s, username=username, password=password, client_ip=ip,
                                now=NOW + timedelta(minutes=minutes), policy=POLICY)
        finally:
            s.commit()
    return login.token


def test_login_resume_and_logout(factory: sessionmaker[Session]) -> None:
    token = attempt(factory)
    with factory.begin() as s:
        principal = resume_staff_session(s, token=token, now=NOW + timedelta(minutes=5))
    assert (principal.username, principal.role) == ("alice", Role.SUPERVISOR)
    assert principal.can(Permission.REVIEW_OVERRIDE) and not principal.can("audit:read")
    with factory.begin() as s:
        end_staff_session(s, token=token, now=NOW + timedelta(minutes=6))
    with factory() as s, pytest.raises(SessionExpired):
        resume_staff_session(s, token=token, now=NOW + timedelta(minutes=7))


def test_idle_and_absolute_expiry(factory: sessionmaker[Session]) -> None:
    token = attempt(factory)
    with factory.begin() as s:  # activity every 9 minutes keeps it alive...
        for minute in range(9, 118, 9):
            resume_staff_session(s, token=token, now=NOW + timedelta(minutes=minute))
    with factory.begin() as s, pytest.raises(SessionExpired):  # ...until the absolute limit
        resume_staff_session(s, token=token, now=NOW + timedelta(minutes=121))
    idle = attempt(factory)
    with factory.begin() as s, pytest.raises(SessionExpired):
        resume_staff_session(s, token=idle, now=NOW + timedelta(minutes=10))
    with factory() as s, pytest.raises(SessionExpired):
        resume_staff_session(s, token="not-a-token", now=NOW)


def test_tokens_are_random_and_not_stored(factory: sessionmaker[Session]) -> None:
    first, second = attempt(factory), attempt(factory)
    assert first != second and len(first) == 64
    with factory() as s:
        from issuer.review_models import StaffSession

        hashes = {row.token_hash for row in s.query(StaffSession)}
    assert first not in hashes and second not in hashes


def test_deactivated_staff_lose_their_session(factory: sessionmaker[Session]) -> None:
    token = attempt(factory)
    with factory.begin() as s:
        user = s.query(StaffUser).filter_by(username="alice").one()
        user.active = False
    with factory() as s, pytest.raises(SessionExpired, match="no longer active"):
        resume_staff_session(s, token=token, now=NOW + timedelta(minutes=1))


def test_lockout_after_five_failures_even_for_the_right_password(
    factory: sessionmaker[Session],
) -> None:
    for i in range(5):
        with pytest.raises(AccessDenied):
            attempt(factory, password="wrong password", minutes=i * 0.1)
    with pytest.raises(AccountLocked):
        attempt(factory, minutes=1)
    assert attempt(factory, minutes=16)  # lockout over


def test_unknown_usernames_lock_out_the_same_way(factory: sessionmaker[Session]) -> None:
    for _ in range(5):
        with pytest.raises(AccessDenied) as info:
            attempt(factory, username="mallory", password="guess guess guess")
        assert not isinstance(info.value, AccountLocked)
    with pytest.raises(AccountLocked):
        attempt(factory, username="mallory", password="guess guess guess")


def test_one_address_trying_many_usernames_is_locked_out(factory: sessionmaker[Session]) -> None:
    for i in range(20):
        with pytest.raises(AccessDenied):
            attempt(factory, username=f"user{i}", password="guess guess guess", ip="192.0.2.7")
    with pytest.raises(AccountLocked):
        attempt(factory, username="bob", ip="192.0.2.7")
    assert attempt(factory, username="bob", ip="192.0.2.8")
