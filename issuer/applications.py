"""Loading, locking, expiring and transitioning applications; every change is logged twice:
in the application's timeline and in the audit chain."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.audit import append_audit
from issuer.errors import Conflict, IssuerError, NotFound
from issuer.models import Application, ApplicationEvent
from issuer.states import EXPIRABLE_STATES, ApplicationState, check_application_transition

DEFAULT_TTL_HOURS = 72.0


def application_ttl_from_env() -> timedelta:
    """`CARDSIM_APPLICATION_TTL_HOURS` (default 72): how long an unfinished application lives."""
    raw = os.environ.get("CARDSIM_APPLICATION_TTL_HOURS", "").strip()
    if not raw:
        return timedelta(hours=DEFAULT_TTL_HOURS)
    try:
        hours = float(raw)
    except ValueError:
        raise IssuerError("CARDSIM_APPLICATION_TTL_HOURS must be a number of hours") from None
    if not 0 < hours <= 24 * 365:
        raise IssuerError("CARDSIM_APPLICATION_TTL_HOURS must be between 0 and 8760")
    return timedelta(hours=hours)


@dataclass(frozen=True)
class ApplicationView:
    """What the web layer may show about an application."""

    id: str
    state: ApplicationState
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    liveness_sessions: int
    binding_attempts: int
    offered_credit_limit: int | None


def view_of(application: Application) -> ApplicationView:
    """Snapshot of an application row."""
    return ApplicationView(
        id=application.id, state=ApplicationState(application.state),
        created_at=application.created_at, updated_at=application.updated_at,
        expires_at=application.expires_at, liveness_sessions=application.liveness_sessions,
        binding_attempts=application.binding_attempts,
        offered_credit_limit=application.offered_credit_limit,
    )


def lock_application(session: Session, *, application_id: str, now: datetime) -> Application:
    """Load an application for update (row lock on PostgreSQL), expiring it if overdue.

    SQLite needs no row lock: every issuer transaction there starts with BEGIN IMMEDIATE.
    """
    application = session.scalar(
        select(Application)
        .where(Application.id == application_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # the lock may have waited for a commit
    )
    if application is None:
        raise NotFound("no such application")
    if application.state in EXPIRABLE_STATES and now >= application.expires_at:
        transition(session, application=application, to=ApplicationState.EXPIRED, now=now,
                   actor="system", kind="expired", details={})
    return application


def record_event(
    session: Session, *, application: Application, kind: str, actor: str, now: datetime,
    details: dict[str, Any], audit: bool = True,
) -> None:
    """Timeline entry (and audit entry) for something that is not a state change."""
    session.add(ApplicationEvent(application_id=application.id, at=now, kind=kind,
                                 from_state=None, to_state=None, actor=actor, details=details))
    if audit:
        append_audit(session, actor=actor, action=f"application.{kind}",
                     subject=f"application:{application.id}", details=details, now=now)


def transition(
    session: Session, *, application: Application, to: ApplicationState, now: datetime,
    actor: str, kind: str, details: dict[str, Any],
) -> None:
    """Move the application to `to` if allowed (else `IllegalTransition`), logging it."""
    current = application.state
    check_application_transition(current, to)
    application.state = to.value
    application.updated_at = now
    session.add(ApplicationEvent(application_id=application.id, at=now, kind=kind,
                                 from_state=current, to_state=to.value, actor=actor,
                                 details=details))
    append_audit(session, actor=actor, action="application.transition",
                 subject=f"application:{application.id}",
                 details={"from": current, "to": to.value, "kind": kind, **details}, now=now)
    session.flush()


def require_state(application: Application, *expected: ApplicationState) -> None:
    """Raise `Conflict` when the requested step is not valid in the application's state."""
    if application.state not in {s.value for s in expected}:
        wanted = " or ".join(s.value for s in expected)
        raise Conflict(f"application is {application.state}; this step needs it to be {wanted}")


def state_before(session: Session, *, application_id: str,
                 state: ApplicationState) -> ApplicationState | None:
    """The state the application was in when it last moved into `state` (None if it never
    did): where a declined, abandoned or expired application stopped."""
    previous = session.scalar(
        select(ApplicationEvent.from_state)
        .where(ApplicationEvent.application_id == application_id,
               ApplicationEvent.to_state == state.value)
        .order_by(ApplicationEvent.id.desc()).limit(1))
    return ApplicationState(previous) if previous is not None else None
