"""Deciding an application: gather the evidence, run the pure rules, store the outcome;
and the staff decision on applications sent to manual review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.applications import ApplicationView, lock_application, transition, view_of
from issuer.clock import require_aware
from issuer.decision import (
    AttestationVerdict,
    DecisionInputs,
    DecisionResult,
    Outcome,
    decide_application,
)
from issuer.device_binding import accepted_binding
from issuer.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from issuer.identity import age_on, beijing_date
from issuer.models import (
    Application,
    Decision,
    InterviewRecord,
    ReviewAction,
    SignedAgreement,
    StaffUser,
)
from issuer.onboarding import latest_liveness
from issuer.states import ApplicationState


@dataclass(frozen=True)
class DecisionView:
    """A stored decision."""

    outcome: str
    reasons: tuple[str, ...]
    credit_limit: int
    decided_by: str
    decided_at: datetime
    application: ApplicationView


def _view(decision: Decision, application: Application) -> DecisionView:
    return DecisionView(outcome=decision.outcome, reasons=tuple(decision.reasons),
                        credit_limit=decision.credit_limit, decided_by=decision.decided_by,
                        decided_at=decision.decided_at, application=view_of(application))


def gather_inputs(session: Session, *, application: Application, today: date) -> DecisionInputs:
    """Collect everything the rules need from the database."""
    applicant = application.applicant
    liveness = latest_liveness(session, application_id=application.id)
    interview = session.scalar(
        select(InterviewRecord).where(InterviewRecord.application_id == application.id)
        .order_by(InterviewRecord.id.desc()).limit(1)
    )
    binding = accepted_binding(session, application_id=application.id)
    agreement = session.scalar(
        select(SignedAgreement).where(SignedAgreement.application_id == application.id)
    )
    if applicant is None or liveness is None or interview is None:
        raise Conflict("application is missing identity, liveness or interview records")
    return DecisionInputs(
        today=today,
        age=age_on(date.fromisoformat(applicant.birth_date), today),
        annual_income=applicant.annual_income,
        identity_checks_passed=True,  # submit_identity refuses anything that fails them
        liveness_passed=liveness.passed,
        liveness_score=liveness.score,
        interview_flags=frozenset(interview.flags),
        attestation=AttestationVerdict(
            accepted=binding.accepted,
            security_level=binding.security_level or "Software",
            verified_boot_state=binding.verified_boot_state or "Unverified",
            os_patch_level=binding.os_patch_level,
            revoked=False,  # the verifier refuses revoked devices at binding time
        ),
        signature_valid=agreement is not None and agreement.signed_at is not None,
        offered_credit_limit=agreement.credit_limit if agreement is not None else None,
    )


def decide(session: Session, *, application_id: str, now: datetime) -> DecisionView:
    """Run the decision rules on an `agreement_signed` application and store the result."""
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    if application.state != ApplicationState.AGREEMENT_SIGNED:
        existing = latest_decision(session, application_id=application.id)
        if existing is not None:
            return _view(existing, application)  # deciding twice returns the first decision
        raise IllegalTransition(subject="application", current=application.state,
                                requested="decided")
    inputs = gather_inputs(session, application=application, today=beijing_date(now))
    result: DecisionResult = decide_application(inputs)
    decision = Decision(application_id=application.id, outcome=result.outcome.value,
                        reasons=list(result.reasons), credit_limit=result.credit_limit,
                        decided_by="system", decided_at=now)
    session.add(decision)
    transition(session, application=application, to=ApplicationState(result.outcome.value),
               now=now, actor="system", kind="decided",
               details={"outcome": result.outcome.value, "reasons": list(result.reasons),
                        "credit_limit": result.credit_limit})
    return _view(decision, application)


def latest_decision(session: Session, *, application_id: str) -> Decision | None:
    """The most recent decision on an application."""
    return session.scalar(
        select(Decision).where(Decision.application_id == application_id)
        .order_by(Decision.id.desc()).limit(1)
    )


def record_staff_decision(
    session: Session, *, application_id: str, staff_user_id: int, outcome: str, note: str,
    now: datetime, credit_limit: int | None = None,
) -> DecisionView:
    """A staff member approves or declines an application in `manual_review`.

    Permission checks are the console's job; this records who did it, with the note.
    """
    now = require_aware(now)
    if outcome not in (Outcome.APPROVE.value, Outcome.DECLINE.value):
        raise ValidationFailed({"outcome": "Outcome must be approved or declined."})
    if not note.strip():
        raise ValidationFailed({"note": "A note explaining the decision is required."})
    staff = session.get(StaffUser, staff_user_id)
    if staff is None or not staff.active:
        raise NotFound("no such active staff user")
    application = lock_application(session, application_id=application_id, now=now)
    previous = latest_decision(session, application_id=application.id)
    limit = 0
    if outcome == Outcome.APPROVE.value:
        offered = previous.credit_limit if previous is not None else 0
        limit = offered if credit_limit is None else credit_limit
        if not 0 < limit <= max(offered, 0):
            raise ValidationFailed({"credit_limit": "Staff may lower the offered limit, "
                                    f"not raise it (offered CNY {offered})."})
    actor = f"staff:{staff.username}"
    decision = Decision(application_id=application.id, outcome=outcome,
                        reasons=["staff_review"], credit_limit=limit, decided_by=actor,
                        decided_at=now)
    session.add(decision)
    session.add(ReviewAction(application_id=application.id, staff_user_id=staff.id,
                             action=outcome, note=note.strip(), at=now))
    transition(session, application=application, to=ApplicationState(outcome), now=now,
               actor=actor, kind="staff_decision",
               details={"outcome": outcome, "credit_limit": limit, "note": note.strip()})
    return _view(decision, application)
