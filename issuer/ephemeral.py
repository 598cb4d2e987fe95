"""Short-lived state behind small store interfaces: in-progress liveness sessions, login
throttles and staff console sessions.

The database implementations here (`Sql*Store`, bound to the caller's `Session`, written in
its transaction) are the defaults of every domain function that takes a store; the web layer
supplies Redis implementations when `REDIS_URL` is set. Business records (the liveness attempt
counter, results, keyframes, events, audit entries) never go through these stores: they stay
in the database in both cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from issuer.errors import Conflict
from issuer.models import Application
from issuer.review_models import LoginThrottle, StaffSession
from issuer.staff_throttle import ThrottleState

JsonDict = dict[str, Any]


# --- liveness ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LivenessSnapshot:
    """One stored version of an in-progress liveness session's state."""

    version: int
    state: JsonDict


class LivenessStateStore(Protocol):
    """Where in-progress liveness states live, by application and session key.

    The database decides which session key is current (`Application.liveness_state` holds the
    pointer); a store only keeps versions of states, with compare-and-set.
    """

    def load(self, *, application_id: str, key: str) -> LivenessSnapshot | None:
        """The stored state of session `key`, or None (never stored, discarded or lost)."""

    def save(self, *, application_id: str, key: str, state: JsonDict, expected_version: int,
             ttl: timedelta) -> int:
        """Store `state` if the stored version is `expected_version` (0: nothing stored yet);
        return the new version. Any other stored version raises `Conflict`."""

    def discard(self, *, application_id: str, key: str) -> None:
        """Forget the state of session `key` (missing is fine)."""


class SqlLivenessStateStore:
    """States in the application's `liveness_state` JSON column, next to the session pointer.

    The column holds `{"session", "key", "version", "state"}`; writes need the caller to hold
    the application lock (`lock_application`), which every domain caller does.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def _column(self, application_id: str, key: str) -> JsonDict | None:
        application = self.session.get(Application, application_id)
        column = application.liveness_state if application is not None else None
        if column is None or pointer_key(column) != key:
            return None
        return column

    def load(self, *, application_id: str, key: str) -> LivenessSnapshot | None:
        column = self._column(application_id, key)
        if column is None:
            return None
        if key == LEGACY_KEY:
            return LivenessSnapshot(version=0, state=column)
        state = column.get("state")
        if not isinstance(state, dict):
            return None
        return LivenessSnapshot(version=int(column.get("version", 0)), state=state)

    def save(self, *, application_id: str, key: str, state: JsonDict, expected_version: int,
             ttl: timedelta) -> int:
        column = self._column(application_id, key)
        if column is None:
            raise Conflict("no liveness session is in progress")
        current = 0 if key == LEGACY_KEY else int(column.get("version", 0))
        if current != expected_version:
            raise Conflict("another frame of this session was processed meanwhile; "
                           "send frames one at a time")
        application = self.session.get(Application, application_id)
        assert application is not None  # _column found it
        number = column.get("session", application.liveness_sessions)
        if key == LEGACY_KEY:
            number = application.liveness_sessions
        application.liveness_state = {"session": number, "key": key, "version": current + 1,
                                      "state": state}
        self.session.flush()
        return current + 1

    def discard(self, *, application_id: str, key: str) -> None:
        column = self._column(application_id, key)
        if column is not None and key != LEGACY_KEY:
            application = self.session.get(Application, application_id)
            assert application is not None
            application.liveness_state = {k: column[k] for k in ("session", "key")
                                          if k in column}
            self.session.flush()


# A state stored before session keys existed: the raw state in the column, no pointer fields.
LEGACY_KEY = "legacy"


def pointer_key(column: JsonDict) -> str:
    """The session key named by an `Application.liveness_state` value."""
    key = column.get("key")
    return key if isinstance(key, str) else LEGACY_KEY


# --- login throttles -----------------------------------------------------------------------

class ThrottleStore(Protocol):
    """Failed-login counters by key (`user:<name>`, `ip:<address>`)."""

    def get(self, key: str) -> ThrottleState:
        """The counter of `key` (an empty one when none is stored)."""

    def update(self, key: str, change: Callable[[ThrottleState], ThrottleState], *,
               ttl: timedelta) -> ThrottleState:
        """Atomically replace the counter by `change(counter)`; kept at least `ttl`."""

    def clear(self, key: str) -> None:
        """Forget the counter of `key`."""


def _throttle_state(row: LoginThrottle | None) -> ThrottleState:
    if row is None:
        return ThrottleState()
    return ThrottleState(failures=row.failures, first_failure_at=row.first_failure_at,
                         locked_until=row.locked_until)


class SqlThrottleStore:
    """Counters in `staff_login_throttle`, updated under a row lock."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> ThrottleState:
        return _throttle_state(self.session.get(LoginThrottle, key, populate_existing=True))

    def update(self, key: str, change: Callable[[ThrottleState], ThrottleState], *,
               ttl: timedelta) -> ThrottleState:
        # One upsert that always yields the row and locks it for the rest of the transaction
        # (ON CONFLICT DO UPDATE takes the row lock; the update itself changes nothing).
        # Insert-if-absent followed by SELECT ... FOR UPDATE could find no row on PostgreSQL
        # when a concurrent transaction inserted it and deleted it again (a successful login
        # clears its counter). SQLite transactions here are serialised by BEGIN IMMEDIATE.
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        row = self.session.execute(
            insert(LoginThrottle).values(key=key, failures=0)
            .on_conflict_do_update(index_elements=["key"],
                                   set_={"failures": LoginThrottle.failures})
            .returning(LoginThrottle.failures, LoginThrottle.first_failure_at,
                       LoginThrottle.locked_until)).one()
        new = change(ThrottleState(failures=row.failures, first_failure_at=row.first_failure_at,
                                   locked_until=row.locked_until))
        self.session.execute(
            sql_update(LoginThrottle).where(LoginThrottle.key == key)
            .values(failures=new.failures, first_failure_at=new.first_failure_at,
                    locked_until=new.locked_until))  # also refreshes a row loaded earlier
        return new

    def clear(self, key: str) -> None:
        row = self.session.get(LoginThrottle, key)
        if row is not None:
            self.session.delete(row)
            self.session.flush()


# --- staff console sessions ----------------------------------------------------------------

@dataclass(frozen=True)
class StaffSessionRecord:
    """A live console session; only the SHA-256 of the browser's token is kept."""

    token_hash: str
    staff_user_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    idle_timeout_seconds: int
    client_ip: str


class StaffSessionStore(Protocol):
    """Live staff console sessions by token hash."""

    def add(self, record: StaffSessionRecord) -> None:
        """Store a new session (kept until its absolute expiry)."""

    def get(self, token_hash: str) -> StaffSessionRecord | None:
        """The session if it exists and was not ended (expiry is the caller's check)."""

    def touch(self, token_hash: str, *, now: datetime) -> None:
        """Mark the session used at `now` (no effect on an ended session)."""

    def end(self, token_hash: str, *, now: datetime) -> bool:
        """End the session; False when it was unknown or already ended."""

    def end_all_for_user(self, staff_user_id: int, *, now: datetime) -> int:
        """End every session of a staff member; returns how many were live."""

    def count_active(self, staff_user_id: int, *, now: datetime) -> int:
        """How many of the staff member's sessions are live and before their expiry."""


class SqlStaffSessionStore:
    """Sessions in `staff_session`; ended rows stay, with `ended_at` set."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _live(self, token_hash: str) -> StaffSession | None:
        row = self.session.get(StaffSession, token_hash)
        return row if row is not None and row.ended_at is None else None

    def add(self, record: StaffSessionRecord) -> None:
        self.session.add(StaffSession(
            token_hash=record.token_hash, staff_user_id=record.staff_user_id,
            created_at=record.created_at, last_seen_at=record.last_seen_at,
            expires_at=record.expires_at, idle_timeout_seconds=record.idle_timeout_seconds,
            ended_at=None, client_ip=record.client_ip))
        self.session.flush()

    def get(self, token_hash: str) -> StaffSessionRecord | None:
        row = self._live(token_hash)
        if row is None:
            return None
        return StaffSessionRecord(
            token_hash=row.token_hash, staff_user_id=row.staff_user_id,
            created_at=row.created_at, last_seen_at=row.last_seen_at,
            expires_at=row.expires_at, idle_timeout_seconds=row.idle_timeout_seconds,
            client_ip=row.client_ip)

    def touch(self, token_hash: str, *, now: datetime) -> None:
        row = self._live(token_hash)
        if row is not None:
            row.last_seen_at = now
            self.session.flush()

    def end(self, token_hash: str, *, now: datetime) -> bool:
        row = self._live(token_hash)
        if row is None:
            return False
        row.ended_at = now
        self.session.flush()
        return True

    def end_all_for_user(self, staff_user_id: int, *, now: datetime) -> int:
        rows = list(self.session.scalars(select(StaffSession).where(
            StaffSession.staff_user_id == staff_user_id, StaffSession.ended_at.is_(None))))
        for row in rows:
            row.ended_at = now
        self.session.flush()
        return len(rows)

    def count_active(self, staff_user_id: int, *, now: datetime) -> int:
        return self.session.scalar(select(func.count()).select_from(StaffSession).where(
            StaffSession.staff_user_id == staff_user_id, StaffSession.ended_at.is_(None),
            StaffSession.expires_at > now)) or 0
