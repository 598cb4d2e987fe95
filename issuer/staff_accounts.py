"""Staff accounts: argon2id password hashes, roles, lockout after repeated failures."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.audit import append_audit
from issuer.clock import require_aware
from issuer.errors import AccessDenied, AccountLocked, Conflict, ValidationFailed
from issuer.models import StaffUser
from issuer.permissions import Role
from issuer.staff_throttle import USERNAME_POLICY

MAX_FAILED_LOGINS = USERNAME_POLICY.max_failures
LOCKOUT = USERNAME_POLICY.lockout
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,31}")
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so timing does not reveal which usernames exist.
_DUMMY_HASH = _HASHER.hash("cardsim-dummy-password-for-timing")


@dataclass(frozen=True)
class StaffView:
    """A staff account without its password hash."""

    id: int
    username: str
    role: Role
    active: bool



def is_locked(user: StaffUser, *, now: datetime) -> bool:
    """Whether too many wrong passwords have locked the account at `now`."""
    return user.locked_until is not None and user.locked_until > now


def password_matches(user: StaffUser, password: str) -> bool:
    """Whether `password` is the account's (argon2id verification)."""
    try:
        return bool(_HASHER.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def count_wrong_password(user: StaffUser, *, now: datetime) -> datetime | None:
    """Count a wrong password against the account's lockout (the login form and the PAN
    reveal share the count); returns when the lock ends if this one locked the account."""
    user.failed_logins += 1
    if user.failed_logins < MAX_FAILED_LOGINS:
        return None
    user.locked_until = now + LOCKOUT
    user.failed_logins = 0
    return user.locked_until


def _view(user: StaffUser) -> StaffView:
    return StaffView(id=user.id, username=user.username, role=Role(user.role),
                     active=user.active)


def create_staff(
    session: Session, *, username: str, password: str, role: str, now: datetime,
    actor: str = "system",
) -> StaffView:
    """Create a staff account; usernames are lower-case, passwords at least 12 characters."""
    now = require_aware(now)
    errors: dict[str, str] = {}
    if not _USERNAME.fullmatch(username):
        errors["username"] = ("Username must be 3-32 characters: lower-case letters, digits, "
                              "'.', '_' or '-', starting with a letter.")
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Password must be at least {MIN_PASSWORD_LENGTH} characters."
    if role not in {r.value for r in Role}:
        errors["role"] = "Role must be one of: " + ", ".join(r.value for r in Role) + "."
    if errors:
        raise ValidationFailed(errors)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict(f"staff user {username!r} already exists")
    user = StaffUser(username=username, password_hash=_HASHER.hash(password), role=role,
                     failed_logins=0, active=True, created_at=now)
    session.add(user)
    session.flush()
    append_audit(session, actor=actor, action="staff.created", subject=f"staff:{username}",
                 details={"role": role}, now=now)
    return _view(user)


def authenticate_staff(
    session: Session, *, username: str, password: str, now: datetime
) -> StaffView:
    """Check a login. Wrong passwords count towards a 15-minute lockout after 5 failures.

    The caller must commit even when this raises, so failure counts persist.
    """
    now = require_aware(now)
    # Locked for the rest of the transaction: parallel attempts on one account are checked one
    # after the other, so its failure count and lockout are exact (PostgreSQL; SQLite
    # transactions here are serialised anyway).
    user = session.scalar(select(StaffUser).where(StaffUser.username == username)
                          .with_for_update())
    if user is None:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY_HASH, password)
        raise AccessDenied("unknown username or wrong password")
    if not user.active:
        # Answer like a wrong password unless the password is right, so the message
        # does not tell a stranger that the username exists.
        if not password_matches(user, password):
            raise AccessDenied("unknown username or wrong password")
        raise AccountLocked("this account is deactivated")
    if is_locked(user, now=now):
        raise AccountLocked("too many failed logins; try again later")
    if not password_matches(user, password):
        details: dict[str, object] = {"failed_logins": user.failed_logins + 1}
        locked_until = count_wrong_password(user, now=now)
        if locked_until is not None:
            details["locked_until"] = locked_until.isoformat()
        append_audit(session, actor=f"staff:{username}", action="staff.login_failed",
                     subject=f"staff:{username}", details=details, now=now)
        raise AccessDenied("unknown username or wrong password")
    user.failed_logins = 0
    user.locked_until = None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    append_audit(session, actor=f"staff:{username}", action="staff.login",
                 subject=f"staff:{username}", details={}, now=now)
    return _view(user)
