"""The audit log as auditors see it: filtered pages and chain verification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from issuer.audit import AuditVerification, verify_audit_chain
from issuer.models import AuditEntry
from issuer.permissions import Permission, require_permission
from issuer.staff_sessions import StaffPrincipal

MAX_PAGE = 500


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show; text filters match a prefix (actor, action) or exactly."""

    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditRow:
    """One audit entry, hashes as hex."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    hash_hex: str
    prev_hash_hex: str


@dataclass(frozen=True)
class AuditPage:
    """A page of entries (newest first) and how many matched."""

    rows: tuple[AuditRow, ...]
    total: int


def _row(entry: AuditEntry) -> AuditRow:
    return AuditRow(seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action,
                    subject=entry.subject, details=dict(entry.details or {}),
                    hash_hex=entry.hash.hex(), prev_hash_hex=entry.prev_hash.hex())


def list_audit(
    session: Session, *, viewer: StaffPrincipal, filters: AuditFilter, limit: int = 100,
    offset: int = 0,
) -> AuditPage:
    """Entries matching `filters`, newest first. Needs `audit:read`."""
    require_permission(role=viewer.role, permission=Permission.AUDIT_READ)
    conditions: list[Any] = []
    if filters.actor:
        conditions.append(AuditEntry.actor.startswith(filters.actor, autoescape=True))
    if filters.action:
        conditions.append(AuditEntry.action.startswith(filters.action, autoescape=True))
    if filters.subject:
        conditions.append(AuditEntry.subject == filters.subject)
    if filters.date_from:
        conditions.append(AuditEntry.at >= datetime.combine(filters.date_from, time.min, UTC))
    if filters.date_to:
        conditions.append(AuditEntry.at < datetime.combine(filters.date_to, time.min, UTC)
                          + timedelta(days=1))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    entries = session.scalars(select(AuditEntry).where(*conditions)
                              .order_by(AuditEntry.seq.desc())
                              .limit(max(1, min(limit, MAX_PAGE))).offset(max(0, offset)))
    return AuditPage(rows=tuple(_row(e) for e in entries), total=total)


def entries_about(session: Session, *, subjects: tuple[str, ...]) -> tuple[AuditRow, ...]:
    """Every entry about the given subjects, oldest first (for case exports)."""
    entries = session.scalars(select(AuditEntry).where(AuditEntry.subject.in_(subjects))
                              .order_by(AuditEntry.seq))
    return tuple(_row(e) for e in entries)


def verify_chain(session: Session, *, viewer: StaffPrincipal) -> AuditVerification:
    """Recompute the whole hash chain; reports the first broken entry. Needs `audit:read`."""
    require_permission(role=viewer.role, permission=Permission.AUDIT_READ)
    return verify_audit_chain(session)
