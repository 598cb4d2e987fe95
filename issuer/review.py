"""Staff review actions: take a case, approve / decline / ask to redo, four-eyes overrides,
card freeze / unfreeze / close, and the audited PAN reveal.

Every function re-checks the actor's permission (the web layer checks too), writes the
hash-chained audit log with the actor, and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.applications import lock_application, record_event, state_before, transition
from issuer.audit import append_audit
from issuer.cards import close_card, freeze_card, unfreeze_card
from issuer.clock import require_aware
from issuer.decision import Outcome
from issuer.decisions import latest_decision, record_staff_decision
from issuer.errors import AccessDenied, AccountLocked, Conflict, NotFound, ValidationFailed
from issuer.models import Application, Card, Decision, ReviewAction, StaffUser
from issuer.permissions import Permission, require_permission
from issuer.plain_text import has_hidden_characters
from issuer.review_models import CaseAssignment, PendingOverride
from issuer.staff_accounts import count_wrong_password, is_locked, password_matches
from issuer.staff_sessions import StaffPrincipal
from issuer.states import ApplicationState, CardStatus
from issuer.vault import mask_number, open_card_field

MAX_COMMENT_LENGTH = 2000
NO_LIMIT_TO_APPROVE = "The application has no offered credit limit to approve."
DECLINED_BEFORE_SIGNING = ("The application was declined before its agreement was signed: "
                           "there is no bound phone and no signed agreement to issue a card "
                           "on. The applicant has to apply again.")
# An application sent back to the applicant gets at least this long to redo the step.
REDO_WINDOW = timedelta(hours=72)


class ReviewVerb(StrEnum):
    """A decision a reviewer can take on a case."""

    APPROVE = "approve"
    DECLINE = "decline"
    REDO = "redo"
    OVERRIDE = "override"


class CardAction(StrEnum):
    """A card lifecycle action by staff."""

    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    CLOSE = "close"


class RedoStep(StrEnum):
    """A step the applicant can be asked to do again."""

    LIVENESS = "liveness"
    INTERVIEW = "interview"
    DEVICE_BINDING = "device_binding"


# The state an application returns to so that the named step is the next one.
REDO_TARGET: dict[RedoStep, ApplicationState] = {
    RedoStep.LIVENESS: ApplicationState.IDENTITY_SUBMITTED,
    RedoStep.INTERVIEW: ApplicationState.LIVENESS_PASSED,
    RedoStep.DEVICE_BINDING: ApplicationState.INTERVIEW_DONE,
}

REVIEW_REASONS: dict[ReviewVerb, dict[str, str]] = {
    ReviewVerb.APPROVE: {
        "evidence_sufficient": "Evidence reviewed and sufficient",
        "flag_explained": "Interview flag explained by the transcript",
        "device_risk_accepted": "Device risk acceptable for this limit",
        "liveness_confirmed": "Liveness confirmed from keyframes and traces",
    },
    ReviewVerb.DECLINE: {
        "identity_doubt": "Identity could not be confirmed",
        "spoof_suspected": "Presentation attack suspected",
        "coercion_suspected": "Applicant may be acting under pressure",
        "device_untrusted": "Device not trustworthy",
        "fraud_suspected": "Fraud pattern suspected",
    },
    ReviewVerb.REDO: {
        "evidence_unclear": "Evidence too unclear to decide",
        "answers_inconsistent": "Answers inconsistent; ask again",
        "device_issue": "Device problem; bind again",
    },
    ReviewVerb.OVERRIDE: {
        "false_positive": "Automatic decline was a false positive",
        "documented_exception": "Documented policy exception",
        "issue_resolved": "Cause of the decline has been resolved",
    },
}

CARD_REASONS: dict[CardAction, dict[str, str]] = {
    CardAction.FREEZE: {
        "customer_request": "Customer request",
        "suspected_fraud": "Suspected fraud",
        "lost_device": "Phone lost or stolen",
    },
    CardAction.UNFREEZE: {
        "customer_request": "Customer request",
        "fraud_cleared": "Fraud suspicion cleared",
        "device_recovered": "Phone recovered",
    },
    CardAction.CLOSE: {
        "customer_request": "Customer request",
        "fraud_confirmed": "Fraud confirmed",
        "compliance": "Compliance decision",
    },
}


@dataclass(frozen=True)
class ActionResult:
    """What an action did, for the flash message and the JSON response."""

    application_id: str
    action: str
    new_state: str
    audit_seq: int


@dataclass(frozen=True)
class OverrideView:
    """A four-eyes override proposal."""

    id: int
    application_id: str
    proposed_by: str
    reason: str
    comment: str
    proposed_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None


@dataclass(frozen=True)
class CardActionResult:
    """A card's status after a staff action."""

    card_id: int
    application_id: str
    old_status: str
    new_status: str


@dataclass(frozen=True, repr=False)
class RevealedPan:
    """A full card number, for display once. Never log or store this object."""

    card_id: int
    pan: str
    masked: str
    audit_seq: int

    def __repr__(self) -> str:
        return f"RevealedPan(card_id={self.card_id}, masked={self.masked!r})"


def _clean_reason(reasons: dict[str, str], reason: str, *, purpose: str) -> str:
    """The reason code if `reasons` lists it; else the message names the choices by label."""
    if reason not in reasons:
        labels = [f"“{label}”" for label in reasons.values()]
        choices = ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else labels[0]
        raise ValidationFailed({"reason": f"Choose a reason {purpose}: {choices}."})
    return reason


def _clean_comment(comment: str, *, required: bool = True) -> str:
    text = comment.strip()
    if required and not text:
        raise ValidationFailed({"comment": "A comment is required."})
    if len(text) > MAX_COMMENT_LENGTH:
        raise ValidationFailed({"comment": f"At most {MAX_COMMENT_LENGTH} characters."})
    if has_hidden_characters(text, layout="\n\r\t"):  # line breaks and tabs are layout
        raise ValidationFailed({"comment": "The comment contains a control character or an "
                                           "invisible formatting character."})
    return text


def _active_staff(session: Session, actor: StaffPrincipal) -> StaffUser:
    user = session.get(StaffUser, actor.staff_user_id)
    if user is None or not user.active:
        raise AccessDenied("This staff account is not active.")
    return user


def assignee_of(session: Session, *, application_id: str) -> CaseAssignment | None:
    """Who holds the case, if anyone."""
    return session.get(CaseAssignment, application_id)


def _require_holder(session: Session, *, application_id: str, actor: StaffPrincipal) -> None:
    holder = assignee_of(session, application_id=application_id)
    if holder is None:
        raise Conflict("Take the case before acting on it.")
    if holder.staff_user_id != actor.staff_user_id:
        raise Conflict("Another reviewer holds this case; it is read-only for you.")


def _audit(
    session: Session, *, actor: StaffPrincipal, action: str, subject: str,
    details: dict[str, object], now: datetime,
) -> int:
    return append_audit(session, actor=actor.actor, action=action, subject=subject,
                        details=details, now=now).seq


def take_case(
    session: Session, *, application_id: str, actor: StaffPrincipal, now: datetime
) -> ActionResult:
    """Assign the case to the actor; a case held by someone else cannot be taken."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.REVIEW_DECIDE)
    _active_staff(session, actor)
    application = lock_application(session, application_id=application_id, now=now)
    if application.state not in (ApplicationState.MANUAL_REVIEW, ApplicationState.DECLINED):
        raise Conflict(f"Only cases in manual review or declined can be taken "
                       f"(this one is {application.state}).")
    holder = assignee_of(session, application_id=application_id)
    if holder is not None:
        if holder.staff_user_id == actor.staff_user_id:
            raise Conflict("You already hold this case.")
        raise Conflict("Another reviewer holds this case.")
    session.add(CaseAssignment(application_id=application_id,
                               staff_user_id=actor.staff_user_id, assigned_at=now))
    session.flush()
    seq = _audit(session, actor=actor, action="review.take",
                 subject=f"application:{application_id}", details={}, now=now)
    return ActionResult(application_id, "take", application.state, seq)


def release_case(
    session: Session, *, application_id: str, actor: StaffPrincipal, now: datetime
) -> ActionResult:
    """Give a held case back to the queue (only its holder can)."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.REVIEW_DECIDE)
    application = lock_application(session, application_id=application_id, now=now)
    _require_holder(session, application_id=application_id, actor=actor)
    holder = assignee_of(session, application_id=application_id)
    session.delete(holder)
    session.flush()
    seq = _audit(session, actor=actor, action="review.release",
                 subject=f"application:{application_id}", details={}, now=now)
    return ActionResult(application_id, "release", application.state, seq)


def _finish_case(session: Session, *, application_id: str) -> None:
    holder = assignee_of(session, application_id=application_id)
    if holder is not None:
        session.delete(holder)
        session.flush()


def decide_case(
    session: Session, *, application_id: str, actor: StaffPrincipal, verb: str, reason: str,
    comment: str, now: datetime,
) -> ActionResult:
    """Approve or decline a case in manual review that the actor holds."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.REVIEW_DECIDE)
    if verb not in (ReviewVerb.APPROVE, ReviewVerb.DECLINE):
        raise ValidationFailed({"action": "Action must be approve or decline."})
    kind = ReviewVerb(verb)
    reason = _clean_reason(REVIEW_REASONS[kind], reason, purpose=f"to {kind.value}")
    text = _clean_comment(comment)
    _active_staff(session, actor)
    application = lock_application(session, application_id=application_id, now=now)
    if application.state != ApplicationState.MANUAL_REVIEW:
        raise Conflict(f"Only cases in manual review can be decided "
                       f"(this one is {application.state}).")
    _require_holder(session, application_id=application_id, actor=actor)
    outcome = Outcome.APPROVE if kind is ReviewVerb.APPROVE else Outcome.DECLINE
    record_staff_decision(session, application_id=application_id,
                          staff_user_id=actor.staff_user_id, outcome=outcome.value,
                          note=f"[{reason}] {text}", now=now)
    _finish_case(session, application_id=application_id)
    seq = _audit(session, actor=actor, action=f"review.{kind.value}",
                 subject=f"application:{application_id}",
                 details={"reason": reason, "comment": text}, now=now)
    return ActionResult(application_id, kind.value, application.state, seq)


def request_redo(
    session: Session, *, application_id: str, actor: StaffPrincipal, step: str, reason: str,
    comment: str, now: datetime,
) -> ActionResult:
    """Send a held manual-review case back so the applicant does `step` again."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.REVIEW_DECIDE)
    try:
        redo = RedoStep(step)
    except ValueError:
        raise ValidationFailed({"step": "Step must be one of: "
                                + ", ".join(s.value for s in RedoStep) + "."}) from None
    reason = _clean_reason(REVIEW_REASONS[ReviewVerb.REDO], reason,
                           purpose="to ask for a redo")
    text = _clean_comment(comment)
    user = _active_staff(session, actor)
    application = lock_application(session, application_id=application_id, now=now)
    if application.state != ApplicationState.MANUAL_REVIEW:
        raise Conflict(f"Only cases in manual review can be sent back "
                       f"(this one is {application.state}).")
    _require_holder(session, application_id=application_id, actor=actor)
    # A fresh allowance for the repeated step, and time to do it.
    if redo is RedoStep.LIVENESS:
        application.liveness_sessions = 0
        application.liveness_state = None
    elif redo is RedoStep.DEVICE_BINDING:
        application.binding_attempts = 0
    application.expires_at = max(application.expires_at, now + REDO_WINDOW)
    session.add(ReviewAction(application_id=application_id, staff_user_id=user.id,
                             action=f"redo_{redo.value}", note=f"[{reason}] {text}", at=now))
    transition(session, application=application, to=REDO_TARGET[redo], now=now,
               actor=actor.actor, kind="staff_redo",
               details={"step": redo.value, "reason": reason})
    _finish_case(session, application_id=application_id)
    seq = _audit(session, actor=actor, action="review.redo",
                 subject=f"application:{application_id}",
                 details={"step": redo.value, "reason": reason, "comment": text}, now=now)
    return ActionResult(application_id, "redo", application.state, seq)


def _override_view(session: Session, row: PendingOverride) -> OverrideView:
    def name(staff_id: int | None) -> str | None:
        if staff_id is None:
            return None
        user = session.get(StaffUser, staff_id)
        return user.username if user is not None else str(staff_id)

    return OverrideView(
        id=row.id, application_id=row.application_id, proposed_by=name(row.proposed_by_id) or "",
        reason=row.reason, comment=row.comment, proposed_at=row.proposed_at, status=row.status,
        decided_by=name(row.decided_by_id), decided_at=row.decided_at,
        decision_comment=row.decision_comment,
    )


def pending_override(session: Session, *, application_id: str) -> OverrideView | None:
    """The open override proposal of an application, if any."""
    row = session.scalar(select(PendingOverride).where(
        PendingOverride.application_id == application_id, PendingOverride.status == "pending"))
    return None if row is None else _override_view(session, row)


def overrides_of(session: Session, *, application_id: str) -> tuple[OverrideView, ...]:
    """Every override proposal of an application, oldest first."""
    rows = session.scalars(select(PendingOverride).where(
        PendingOverride.application_id == application_id).order_by(PendingOverride.id))
    return tuple(_override_view(session, row) for row in rows)


def override_refusal(session: Session, *, application_id: str,
                     offered_credit_limit: int | None) -> str | None:
    """Why an override could not approve this declined application, or None if it could.

    Only a limit above zero can be approved (below the minimum income the scorecard offers
    0), and only a decline made on a signed agreement: an application stopped earlier (camera
    check attempts used up, phone refused) has no bound phone and no signed agreement to
    issue a card on.
    """
    if offered_credit_limit is None or offered_credit_limit <= 0:
        return NO_LIMIT_TO_APPROVE
    before = state_before(session, application_id=application_id,
                          state=ApplicationState.DECLINED)
    if before != ApplicationState.AGREEMENT_SIGNED:
        return DECLINED_BEFORE_SIGNING
    return None


def propose_override(
    session: Session, *, application_id: str, actor: StaffPrincipal, reason: str, comment: str,
    now: datetime,
) -> OverrideView:
    """Propose approving an automatically declined case; a different supervisor must confirm."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.REVIEW_DECIDE)
    reason = _clean_reason(REVIEW_REASONS[ReviewVerb.OVERRIDE], reason,
                           purpose="for an override")
    text = _clean_comment(comment)
    _active_staff(session, actor)
    application = lock_application(session, application_id=application_id, now=now)
    if application.state != ApplicationState.DECLINED:
        raise Conflict("Only a declined application can be overridden.")
    decision = latest_decision(session, application_id=application_id)
    if decision is None or decision.decided_by != "system":
        raise Conflict("Only an automatic decline can be overridden.")
    refusal = override_refusal(session, application_id=application_id,
                               offered_credit_limit=application.offered_credit_limit)
    if refusal is not None:
        # Confirming would fail the same way; refuse now rather than leave a proposal
        # that can never be confirmed.
        raise Conflict(refusal)
    _require_holder(session, application_id=application_id, actor=actor)
    if pending_override(session, application_id=application_id) is not None:
        raise Conflict("An override is already waiting for confirmation.")
    row = PendingOverride(application_id=application_id, proposed_by_id=actor.staff_user_id,
                          reason=reason, comment=text, proposed_at=now, status="pending")
    session.add(row)
    session.flush()
    record_event(session, application=application, kind="override_proposed",
                 actor=actor.actor, now=now,
                 details={"override_id": row.id, "reason": reason, "comment": text})
    return _override_view(session, row)


def _lock_pending(
    session: Session, *, application_id: str, override_id: int, actor: StaffPrincipal,
    now: datetime,
) -> tuple[PendingOverride, Application]:
    """Lock the application first, then read the proposal fresh: two supervisors deciding
    at once are serialised, and the second sees the first one's decision. The proposal must
    be one of `application_id` (the case whose page the supervisor read)."""
    row = session.get(PendingOverride, override_id)
    if row is None or row.application_id != application_id:
        raise NotFound("No such override proposal for this case.")
    application = lock_application(session, application_id=row.application_id, now=now)
    row = session.scalar(select(PendingOverride).where(PendingOverride.id == override_id)
                         .execution_options(populate_existing=True))
    assert row is not None
    if row.status != "pending":
        raise Conflict(f"This override was already {row.status}.")
    if row.proposed_by_id == actor.staff_user_id:
        raise Conflict("Four-eyes rule: the override must be confirmed by a supervisor other "
                       "than the person who proposed it.")
    return row, application


def confirm_override(
    session: Session, *, application_id: str, override_id: int, actor: StaffPrincipal,
    comment: str, now: datetime,
) -> ActionResult:
    """A second person (supervisor) confirms an override: the application is approved."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.REVIEW_OVERRIDE)
    text = _clean_comment(comment)
    user = _active_staff(session, actor)
    row, application = _lock_pending(session, application_id=application_id,
                                    override_id=override_id, actor=actor, now=now)
    limit = application.offered_credit_limit or 0
    refusal = override_refusal(session, application_id=application.id,
                               offered_credit_limit=limit)
    if refusal is not None:
        raise Conflict(refusal)
    session.add(Decision(application_id=application.id, outcome=Outcome.APPROVE.value,
                         reasons=["staff_override", row.reason], credit_limit=limit,
                         decided_by=actor.actor, decided_at=now))
    session.add(ReviewAction(application_id=application.id, staff_user_id=user.id,
                             action="override_confirmed", note=text, at=now))
    row.status, row.decided_by_id, row.decided_at, row.decision_comment = (
        "confirmed", user.id, now, text)
    proposer = session.get(StaffUser, row.proposed_by_id)
    transition(session, application=application, to=ApplicationState.APPROVED, now=now,
               actor=actor.actor, kind="override_confirmed",
               details={"override_id": row.id, "reason": row.reason,
                        "proposed_by": proposer.username if proposer else None,
                        "credit_limit": limit})
    _finish_case(session, application_id=application.id)
    seq = _audit(session, actor=actor, action="review.override_confirmed",
                 subject=f"application:{application.id}",
                 details={"override_id": row.id, "comment": text}, now=now)
    return ActionResult(application.id, "override_confirmed", application.state, seq)


def reject_override(
    session: Session, *, application_id: str, override_id: int, actor: StaffPrincipal,
    comment: str, now: datetime,
) -> ActionResult:
    """A supervisor other than the proposer rejects an override; the decline stands."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.REVIEW_OVERRIDE)
    text = _clean_comment(comment)
    user = _active_staff(session, actor)
    row, application = _lock_pending(session, application_id=application_id,
                                    override_id=override_id, actor=actor, now=now)
    row.status, row.decided_by_id, row.decided_at, row.decision_comment = (
        "rejected", user.id, now, text)
    session.add(ReviewAction(application_id=application.id, staff_user_id=user.id,
                             action="override_rejected", note=text, at=now))
    record_event(session, application=application, kind="override_rejected", actor=actor.actor,
                 now=now, details={"override_id": row.id, "comment": text}, audit=False)
    _finish_case(session, application_id=application.id)
    seq = _audit(session, actor=actor, action="review.override_rejected",
                 subject=f"application:{application.id}",
                 details={"override_id": row.id, "comment": text}, now=now)
    return ActionResult(application.id, "override_rejected", application.state, seq)


def change_card_status(
    session: Session, *, card_id: int, actor: StaffPrincipal, action: str, reason: str,
    comment: str, now: datetime,
) -> CardActionResult:
    """Freeze, unfreeze or close a card through the issuer's card lifecycle (which records a
    card event and an audit entry with the actor)."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.CARD_FREEZE)
    try:
        kind = CardAction(action)
    except ValueError:
        raise ValidationFailed({"action": "Action must be freeze, unfreeze or close."}) from None
    reason = _clean_reason(CARD_REASONS[kind], reason, purpose=f"to {kind.value} a card")
    text = _clean_comment(comment, required=False)
    _active_staff(session, actor)
    card = session.get(Card, card_id)
    if card is None:
        raise NotFound("No such card.")
    old = card.status
    if kind is CardAction.UNFREEZE and old != CardStatus.FROZEN:
        raise Conflict(f"Only a frozen card can be unfrozen (this one is {old}).")
    change = {CardAction.FREEZE: freeze_card, CardAction.UNFREEZE: unfreeze_card,
              CardAction.CLOSE: close_card}[kind]
    view = change(session, card_id=card_id, actor=actor.actor,
                  reason=f"[{reason}] {text}".strip(), now=now)
    return CardActionResult(view.id, view.application_id, old, view.status.value)


def reveal_pan(
    session: Session, *, card_id: int, actor: StaffPrincipal, password: str, kek: bytes,
    now: datetime,
) -> RevealedPan:
    """Decrypt a card's full PAN for a supervisor who re-entered their password. Audited
    (with the masked number only) whether it succeeds or the password is wrong."""
    now = require_aware(now)
    require_permission(role=actor.role, permission=Permission.CARD_REVEAL_PAN)
    user = _active_staff(session, actor)
    card = session.get(Card, card_id)
    if card is None:
        raise NotFound("No such card.")
    masked = f"{card.pan_first6}******{card.pan_last4}"
    session.refresh(user, with_for_update=True)  # parallel attempts counted one after another
    # The re-entered password counts against the same lockout as the login form, so a
    # hijacked session cannot guess the password here without limit.
    if is_locked(user, now=now):
        _audit(session, actor=actor, action="card.pan_reveal_refused", subject=f"card:{card.id}",
               details={"pan": masked, "why": "account locked"}, now=now)
        raise AccountLocked("Too many wrong passwords: this account is locked for a while; "
                            "the PAN was not revealed.")
    if not password_matches(user, password):
        details: dict[str, object] = {"pan": masked, "why": "wrong password"}
        locked_until = count_wrong_password(user, now=now)
        if locked_until is not None:
            details["locked_until"] = locked_until.isoformat()
        _audit(session, actor=actor, action="card.pan_reveal_refused", subject=f"card:{card.id}",
               details=details, now=now)
        raise AccessDenied("Password not accepted; the PAN was not revealed.")
    user.failed_logins = 0
    pan = open_card_field(kek=kek, application_id=card.application_id, field="pan",
                          ciphertext=card.pan_ciphertext)
    seq = _audit(session, actor=actor, action="card.pan_revealed", subject=f"card:{card.id}",
                 details={"pan": mask_number(pan), "application_id": card.application_id},
                 now=now)
    return RevealedPan(card_id=card.id, pan=pan, masked=mask_number(pan), audit_seq=seq)
