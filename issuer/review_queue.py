"""The review queue: cases waiting for staff first, with filters and search."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from issuer.models import Applicant, Application, Card, Decision, DeviceBinding, StaffUser
from issuer.permissions import Permission, require_permission
from issuer.review_models import CaseAssignment, PendingOverride
from issuer.staff_sessions import StaffPrincipal
from issuer.states import ApplicationState

MAX_PAGE = 200
# A started application has nothing for staff to review yet: the queue, its state filter and
# its counts all leave it out.
_IN_QUEUE = Application.state != ApplicationState.STARTED.value
_MASKED_PAN = re.compile(r"(\d{6})[\s*xX•.]*(\d{4})")
_LAST4 = re.compile(r"[*xX•.\s]*(\d{4})")
_FULL_PAN = re.compile(r"\d{12,19}")


def normalise_search(text: str | None) -> str | None:
    """The search text to use and show back: a full card number typed by mistake is masked at
    once (first six, last four), so it is never echoed in a page or kept anywhere."""
    if text is None:
        return None
    compact = re.sub(r"[\s-]", "", text)
    if _FULL_PAN.fullmatch(compact):
        return compact[:6] + "******" + compact[-4:]
    return text.strip() or None


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows; every field optional."""

    state: str | None = None
    reason: str | None = None
    device_profile: str | None = None  # "<security level>/<boot state>"
    date_from: date | None = None
    date_to: date | None = None
    search: str | None = None  # application id, masked PAN (622202******1234) or last four


@dataclass(frozen=True)
class QueueRow:
    """One application in the queue."""

    application_id: str
    state: str
    created_at: datetime
    updated_at: datetime
    applicant_name: str | None
    outcome: str | None
    reasons: tuple[str, ...]
    device_profile: str | None
    assignee: str | None
    override_pending: bool
    masked_pan: str | None


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue, the total that matched, and the choices for the filters."""

    rows: tuple[QueueRow, ...]
    total: int
    states: tuple[str, ...]
    reasons: tuple[str, ...]
    device_profiles: tuple[str, ...]


def _profile(security_level: str | None, boot_state: str | None) -> str | None:
    if security_level is None:
        return None
    return f"{security_level}/{boot_state or '?'}"


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def list_queue(
    session: Session, *, viewer: StaffPrincipal, filters: QueueFilter, limit: int = 50,
    offset: int = 0,
) -> QueuePage:
    """Applications for review: manual review first, then pending overrides, then the rest
    newest first. Needs `review:read`."""
    require_permission(role=viewer.role, permission=Permission.REVIEW_READ)
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    pending = select(PendingOverride.application_id).where(PendingOverride.status == "pending")
    query = select(Application.id, Application.state, Application.created_at,
                   Application.updated_at).where(_IN_QUEUE)
    if filters.state:
        query = query.where(Application.state == filters.state)
    if filters.date_from:
        query = query.where(Application.created_at >= _day_start(filters.date_from))
    if filters.date_to:
        query = query.where(
            Application.created_at < _day_start(filters.date_to) + timedelta(days=1))
    search = (filters.search or "").strip()
    if search:
        masked = _MASKED_PAN.fullmatch(search)
        last4 = _LAST4.fullmatch(search)
        if masked:
            query = query.where(Application.id.in_(select(Card.application_id).where(
                Card.pan_first6 == masked.group(1), Card.pan_last4 == masked.group(2))))
        elif last4:
            query = query.where(Application.id.in_(select(Card.application_id).where(
                Card.pan_last4 == last4.group(1))))
        else:
            query = query.where(Application.id == search)
    priority = case(
        (Application.state == ApplicationState.MANUAL_REVIEW.value, 0),
        (Application.id.in_(pending), 1),
        else_=2,
    )
    query = query.order_by(priority, Application.updated_at.desc(), Application.id)
    applications = session.execute(query).all()
    # One query each for the latest decision and the latest accepted binding of every case.
    latest_decision = select(func.max(Decision.id)).group_by(Decision.application_id)
    decisions = {row.application_id: (row.outcome, tuple(row.reasons or ()))
                 for row in session.execute(select(
                     Decision.application_id, Decision.outcome, Decision.reasons)
                     .where(Decision.id.in_(latest_decision)))}
    latest_binding = select(func.max(DeviceBinding.id)).where(
        DeviceBinding.accepted.is_(True)).group_by(DeviceBinding.application_id)
    profiles = {row.application_id: _profile(row.security_level, row.verified_boot_state)
                for row in session.execute(select(
                    DeviceBinding.application_id, DeviceBinding.security_level,
                    DeviceBinding.verified_boot_state)
                    .where(DeviceBinding.id.in_(latest_binding)))}

    rows: list[QueueRow] = []
    all_reasons: set[str] = set()
    all_profiles: set[str] = set()
    pending_ids = set(session.scalars(pending))
    for application in applications:
        outcome, reasons = decisions.get(application.id, (None, ()))
        profile = profiles.get(application.id)
        all_reasons.update(reasons)
        if profile:
            all_profiles.add(profile)
        if filters.reason and filters.reason not in reasons:
            continue
        if filters.device_profile and filters.device_profile != profile:
            continue
        rows.append(QueueRow(
            application_id=application.id, state=application.state,
            created_at=application.created_at, updated_at=application.updated_at,
            applicant_name=None,  # filled below for the page only
            outcome=outcome, reasons=reasons, device_profile=profile, assignee=None,
            override_pending=application.id in pending_ids, masked_pan=None,
        ))
    page = rows[offset:offset + limit]
    filled = tuple(_fill(session, row) for row in page)
    states = tuple(sorted(set(session.scalars(
        select(Application.state).where(_IN_QUEUE).distinct()))))
    return QueuePage(rows=filled, total=len(rows), states=states,
                     reasons=tuple(sorted(all_reasons)),
                     device_profiles=tuple(sorted(all_profiles)))


def _fill(session: Session, row: QueueRow) -> QueueRow:
    name = session.scalar(select(Applicant.full_name).join(
        Application, Application.applicant_id == Applicant.id).where(
        Application.id == row.application_id))
    assignee = session.scalar(select(StaffUser.username).join(
        CaseAssignment, CaseAssignment.staff_user_id == StaffUser.id).where(
        CaseAssignment.application_id == row.application_id))
    card = session.execute(select(Card.pan_first6, Card.pan_last4).where(
        Card.application_id == row.application_id)).first()
    masked = None if card is None else f"{card.pan_first6}******{card.pan_last4}"
    return replace(row, applicant_name=name, assignee=assignee, masked_pan=masked)


def queue_counts(session: Session, *, viewer: StaffPrincipal) -> dict[str, int]:
    """How many applications of the queue are in each state (for the queue header)."""
    require_permission(role=viewer.role, permission=Permission.REVIEW_READ)
    return {state: count for state, count in session.execute(
        select(Application.state, func.count()).where(_IN_QUEUE).group_by(Application.state))}
