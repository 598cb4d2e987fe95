"""Staff logins and server-side console sessions, with per-username and per-IP throttling.

The browser holds only a random token; the session store (the database, or Redis when the web
layer supplies one) holds its SHA-256, the staff id and the expiry, so any worker process can
serve the session and logout or expiry takes effect at once. Throttle counters live in a store
too; the audit entries (lockouts, logouts) always go to the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from issuer.address_groups import address_group
from issuer.audit import append_audit
from issuer.clock import RandomBytes, require_aware, system_random
from issuer.ephemeral import (
    SqlStaffSessionStore,
    SqlThrottleStore,
    StaffSessionRecord,
    StaffSessionStore,
    ThrottleStore,
)
from issuer.errors import AccessDenied, AccountLocked
from issuer.models import StaffUser
from issuer.permissions import Permission, Role, has_permission, permissions_for
from issuer.staff_accounts import authenticate_staff
from issuer.staff_throttle import (
    CLIENT_IP_POLICY,
    USERNAME_POLICY,
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    locked_until,
)

TOKEN_BYTES = 32


@dataclass(frozen=True)
class SessionPolicy:
    """A session ends `absolute` after login, or after `idle` without a request."""

    absolute: timedelta = timedelta(hours=8)
    idle: timedelta = timedelta(minutes=30)


DEFAULT_SESSION_POLICY = SessionPolicy()


class SessionExpired(AccessDenied):
    """The console session token is unknown, ended, or timed out."""


@dataclass(frozen=True)
class StaffPrincipal:
    """The staff member behind a request, with the permissions of their current role."""

    staff_user_id: int
    username: str
    role: Role
    session_expires_at: datetime

    @property
    def actor(self) -> str:
        """How this person is named in the audit log and timelines."""
        return f"staff:{self.username}"

    @property
    def permissions(self) -> frozenset[Permission]:
        """Every permission the role grants."""
        return permissions_for(self.role)

    def can(self, permission: str) -> bool:
        """Whether the role grants the permission named `permission`."""
        try:
            return has_permission(role=self.role, permission=Permission(permission))
        except ValueError:
            return False


@dataclass(frozen=True)
class StaffLogin:
    """A successful login: the principal and the token for the session cookie."""

    principal: StaffPrincipal
    token: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _throttle_keys(*, username: str, client_ip: str) -> tuple[tuple[str, ThrottlePolicy], ...]:
    return ((f"user:{username.strip().lower()}"[:128], USERNAME_POLICY),
            (f"ip:{address_group(client_ip)}"[:128], CLIENT_IP_POLICY))


def _throttles(session: Session, store: ThrottleStore | None) -> ThrottleStore:
    return store if store is not None else SqlThrottleStore(session)


def _sessions(session: Session, store: StaffSessionStore | None) -> StaffSessionStore:
    return store if store is not None else SqlStaffSessionStore(session)


def check_login_throttle(
    session: Session, *, username: str, client_ip: str, now: datetime,
    throttle_store: ThrottleStore | None = None,
) -> None:
    """Raise `AccountLocked` while the username or the client address is locked out."""
    now = require_aware(now)
    store = _throttles(session, throttle_store)
    for key, _policy in _throttle_keys(username=username, client_ip=client_ip):
        if locked_until(store.get(key), now=now) is not None:
            raise AccountLocked("Too many failed logins; try again later.")


@dataclass(frozen=True)
class _Counted:
    """One throttle key after an attempt was counted against it."""

    key: str
    policy: ThrottlePolicy
    state: ThrottleState


def record_login_failure(
    session: Session, *, username: str, client_ip: str, now: datetime,
    throttle_store: ThrottleStore | None = None,
) -> None:
    """Count one failed login against the username and the client address (atomically per
    key, so concurrent failures are all counted); the lockout itself is audited."""
    now = require_aware(now)
    store = _throttles(session, throttle_store)
    counted = []
    for key, policy in _throttle_keys(username=username, client_ip=client_ip):
        def change(state: ThrottleState, policy: ThrottlePolicy = policy) -> ThrottleState:
            return after_failure(state, now=now, policy=policy)

        counted.append(_Counted(key, policy, store.update(key, change,
                                                           ttl=policy.window + policy.lockout)))
    _audit_lockouts(session, counted, now=now)


def _audit_lockouts(session: Session, counted: list[_Counted], *, now: datetime) -> None:
    """Audit every key whose lockout this failure started."""
    for taken in counted:
        state, policy = taken.state, taken.policy
        if state.locked_until is not None and state.failures == policy.max_failures:
            append_audit(session, actor="system", action="staff.login_throttled",
                         subject=taken.key,
                         details={"locked_until": state.locked_until.isoformat()}, now=now)
    session.flush()


def _reserve_login_attempt(store: ThrottleStore, *, username: str, client_ip: str,
                           now: datetime) -> list[_Counted]:
    """Count this attempt as a failure against the username and the address *before* the
    password is checked, atomically per key; `AccountLocked` while either is locked.

    Counting first is what makes the limits exact: parallel guesses cannot all pass a
    read-only check before any of their failures is recorded.
    """
    reserved = []
    for key, policy in _throttle_keys(username=username, client_ip=client_ip):
        def take(state: ThrottleState, policy: ThrottlePolicy = policy) -> ThrottleState:
            if locked_until(state, now=now) is not None:
                raise AccountLocked("Too many failed logins; try again later.")
            return after_failure(state, now=now, policy=policy)

        state = store.update(key, take, ttl=policy.window + policy.lockout)
        reserved.append(_Counted(key, policy, state))
    return reserved


def _give_back(state: ThrottleState, *, policy: ThrottlePolicy) -> ThrottleState:
    """Undo one reserved attempt (it succeeded); a lock it started is lifted with it."""
    failures = max(0, state.failures - 1)
    return replace(state, failures=failures,
                   locked_until=state.locked_until if failures >= policy.max_failures else None)


def clear_login_failures(session: Session, *, username: str,
                         throttle_store: ThrottleStore | None = None) -> None:
    """Forget the failures counted against a username (after a successful login)."""
    key = _throttle_keys(username=username, client_ip="")[0][0]
    _throttles(session, throttle_store).clear(key)


def start_staff_session(
    session: Session, *, staff_user_id: int, client_ip: str, now: datetime,
    policy: SessionPolicy = DEFAULT_SESSION_POLICY, rng: RandomBytes = system_random,
    session_store: StaffSessionStore | None = None,
) -> str:
    """Open a console session for a staff member; returns the token for the cookie."""
    now = require_aware(now)
    token = rng(TOKEN_BYTES).hex()
    _sessions(session, session_store).add(StaffSessionRecord(
        token_hash=_token_hash(token), staff_user_id=staff_user_id, created_at=now,
        last_seen_at=now, expires_at=now + policy.absolute,
        idle_timeout_seconds=int(policy.idle.total_seconds()), client_ip=client_ip[:64],
    ))
    return token


def login_staff(
    session: Session, *, username: str, password: str, client_ip: str, now: datetime,
    policy: SessionPolicy = DEFAULT_SESSION_POLICY, rng: RandomBytes = system_random,
    throttle_store: ThrottleStore | None = None, session_store: StaffSessionStore | None = None,
) -> StaffLogin:
    """Check throttles and the password, then open a session.

    Raises `AccountLocked` or `AccessDenied`. The caller must commit even when this raises,
    so that failures are counted.
    """
    now = require_aware(now)
    check_login_throttle(session, username=username, client_ip=client_ip, now=now,
                         throttle_store=throttle_store)
    store = _throttles(session, throttle_store)
    reserved = _reserve_login_attempt(store, username=username, client_ip=client_ip, now=now)
    try:
        view = authenticate_staff(session, username=username, password=password, now=now)
    except AccountLocked:
        raise
    except AccessDenied:
        _audit_lockouts(session, reserved, now=now)  # the reserved attempt is this failure
        raise
    clear_login_failures(session, username=username, throttle_store=throttle_store)
    for taken in reserved[1:]:  # the address gets its attempt back
        store.update(taken.key, partial(_give_back, policy=taken.policy),
                     ttl=taken.policy.window + taken.policy.lockout)
    token = start_staff_session(session, staff_user_id=view.id, client_ip=client_ip, now=now,
                                policy=policy, rng=rng, session_store=session_store)
    principal = StaffPrincipal(staff_user_id=view.id, username=view.username, role=view.role,
                               session_expires_at=now + policy.absolute)
    return StaffLogin(principal=principal, token=token)


def resume_staff_session(session: Session, *, token: str, now: datetime,
                         session_store: StaffSessionStore | None = None) -> StaffPrincipal:
    """The staff member of a live session (and mark it used), or raise `SessionExpired`."""
    now = require_aware(now)
    store = _sessions(session, session_store)
    token_hash = _token_hash(token) if token else ""
    record = store.get(token_hash) if token else None
    if record is None:
        raise SessionExpired("Please log in.")
    idle_deadline = record.last_seen_at + timedelta(seconds=record.idle_timeout_seconds)
    if now >= record.expires_at or now >= idle_deadline:
        store.end(token_hash, now=now)
        raise SessionExpired("Your session has expired; please log in again.")
    user = session.get(StaffUser, record.staff_user_id)
    if user is None or not user.active:
        store.end(token_hash, now=now)
        raise SessionExpired("This account is no longer active.")
    store.touch(token_hash, now=now)
    return StaffPrincipal(staff_user_id=user.id, username=user.username, role=Role(user.role),
                          session_expires_at=min(record.expires_at, now + timedelta(
                              seconds=record.idle_timeout_seconds)))


def end_staff_session(session: Session, *, token: str, now: datetime,
                      session_store: StaffSessionStore | None = None) -> None:
    """Log out: the token stops working at once. Unknown tokens are ignored."""
    now = require_aware(now)
    store = _sessions(session, session_store)
    record = store.get(_token_hash(token)) if token else None
    if record is not None and store.end(record.token_hash, now=now):
        user = session.get(StaffUser, record.staff_user_id)
        name = user.username if user is not None else str(record.staff_user_id)
        append_audit(session, actor=f"staff:{name}", action="staff.logout",
                     subject=f"staff:{name}", details={}, now=now)
        session.flush()


def active_sessions(session: Session, *, staff_user_id: int, now: datetime,
                    session_store: StaffSessionStore | None = None) -> int:
    """How many unexpired, not-ended sessions a staff member has."""
    return _sessions(session, session_store).count_active(staff_user_id, now=require_aware(now))
