"""Step 7a: the decision (automatic on a signed agreement, or by staff after review)."""

from __future__ import annotations

from dataclasses import dataclass

from issuer.applications import ApplicationView
from issuer.decisions import decide, latest_decision
from issuer.states import ApplicationState
from web.clock import now
from web.database import db_session

# Plain words for the reason codes an applicant may see on a decline.
APPLICANT_REASONS = {
    "liveness_attempts_exhausted": "The camera check did not succeed within the allowed attempts.",
    "device_binding_refused": "Your phone's security could not be verified.",
}


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
    return tuple(dict.fromkeys(APPLICANT_REASONS[c] for c in codes if c in APPLICANT_REASONS))
