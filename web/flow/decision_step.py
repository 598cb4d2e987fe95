"""Step 7a: the decision (automatic on a signed agreement, or by staff after review)."""

from __future__ import annotations

from dataclasses import dataclass

from issuer.applications import ApplicationView
from issuer.decision import MIN_ANNUAL_INCOME
from issuer.decisions import decide, latest_decision
from issuer.states import ApplicationState
from web.clock import now
from web.database import db_session

_PHONE = "Your phone's security could not be verified."
_ANSWERS = "Your answers to our questions did not allow us to offer you a card."
# Plain words for every decline reason code. Fraud signals get a general sentence: telling an
# applicant which check caught them would teach the next one how to pass it.
APPLICANT_REASONS = {
    "income_below_minimum": f"Your annual income is below the minimum of "
                            f"CNY {MIN_ANNUAL_INCOME:,} for this card.",
    "applicant_under_18": "Applicants must be at least 18 years old.",
    "identity_checks_failed": "We could not verify your identity.",
    "liveness_failed": "The camera check did not succeed.",
    "liveness_attempts_exhausted": "The camera check did not succeed within the allowed attempts.",
    "agreement_signature_invalid": "The card agreement could not be verified as signed on your "
                                   "phone.",
    "device_binding_refused": _PHONE,
    "attestation_rejected": _PHONE,
    "attestation_revoked": _PHONE,
    "boot_state_not_verified": _PHONE,
    "interview_paid_to_apply": _ANSWERS,
    "interview_identity_mismatch": _ANSWERS,
    "staff_review": "A member of our staff reviewed your application and could not approve it.",
}
OTHER_REASON = "Your application did not meet our requirements for this card."


@dataclass(frozen=True)
class DecisionSummary:
    """What the applicant sees of a decision."""

    outcome: str
    credit_limit: int
    reasons: tuple[str, ...]


def ensure_decision(application: ApplicationView) -> DecisionSummary | None:
    """Decide a signed application now; return the latest decision (None if none yet)."""
    if application.state == ApplicationState.AGREEMENT_SIGNED:
        view = decide(db_session(), application_id=application.id, now=now())
        return DecisionSummary(outcome=view.outcome, credit_limit=view.credit_limit,
                               reasons=_applicant_reasons(view.reasons))
    return current_decision(application)


def current_decision(application: ApplicationView) -> DecisionSummary | None:
    """The latest decision on the application, or None; decides nothing (safe for a GET)."""
    decision = latest_decision(db_session(), application_id=application.id)
    if decision is None:
        return None
    return DecisionSummary(outcome=decision.outcome, credit_limit=decision.credit_limit,
                           reasons=_applicant_reasons(tuple(decision.reasons)))


def _applicant_reasons(codes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(APPLICANT_REASONS.get(c, OTHER_REASON) for c in codes))
