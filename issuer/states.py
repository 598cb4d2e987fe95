"""Application and card state machines: the only allowed transitions, checked in one place."""

from __future__ import annotations

from enum import StrEnum

from issuer.errors import IllegalTransition


class ApplicationState(StrEnum):
    """Where one onboarding session stands."""

    STARTED = "started"
    IDENTITY_SUBMITTED = "identity_submitted"
    LIVENESS_PASSED = "liveness_passed"
    INTERVIEW_DONE = "interview_done"
    DEVICE_BOUND = "device_bound"
    AGREEMENT_SIGNED = "agreement_signed"
    APPROVED = "approved"
    DECLINED = "declined"
    MANUAL_REVIEW = "manual_review"
    ISSUED = "issued"
    ACTIVATED = "activated"
    ABANDONED = "abandoned"
    EXPIRED = "expired"


class CardStatus(StrEnum):
    """Lifecycle of an issued card; `closed` is final."""

    INACTIVE = "inactive"
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


A = ApplicationState

# Before a decision the applicant may walk away (abandoned) or run out of time (expired).
_OPEN_STATES = (
    A.STARTED,
    A.IDENTITY_SUBMITTED,
    A.LIVENESS_PASSED,
    A.INTERVIEW_DONE,
    A.DEVICE_BOUND,
    A.AGREEMENT_SIGNED,
)

APPLICATION_TRANSITIONS: dict[ApplicationState, frozenset[ApplicationState]] = {
    A.STARTED: frozenset({A.IDENTITY_SUBMITTED}),
    # declined straight away when liveness attempts are exhausted
    A.IDENTITY_SUBMITTED: frozenset({A.LIVENESS_PASSED, A.DECLINED}),
    A.LIVENESS_PASSED: frozenset({A.INTERVIEW_DONE}),
    # declined straight away when device binding was refused too often
    A.INTERVIEW_DONE: frozenset({A.DEVICE_BOUND, A.DECLINED}),
    A.DEVICE_BOUND: frozenset({A.AGREEMENT_SIGNED}),
    A.AGREEMENT_SIGNED: frozenset({A.APPROVED, A.DECLINED, A.MANUAL_REVIEW}),
    # Staff may also send the applicant back to redo liveness, the interview or device binding.
    A.MANUAL_REVIEW: frozenset(
        {A.APPROVED, A.DECLINED, A.IDENTITY_SUBMITTED, A.LIVENESS_PASSED, A.INTERVIEW_DONE}
    ),
    A.APPROVED: frozenset({A.ISSUED}),
    A.ISSUED: frozenset({A.ACTIVATED}),
    A.DECLINED: frozenset({A.APPROVED}),  # only by a four-eyes staff override
    A.ACTIVATED: frozenset(),
    A.ABANDONED: frozenset(),
    A.EXPIRED: frozenset(),
}
for _state in _OPEN_STATES:
    APPLICATION_TRANSITIONS[_state] = APPLICATION_TRANSITIONS[_state] | {A.ABANDONED, A.EXPIRED}

EXPIRABLE_STATES = frozenset(_OPEN_STATES)

C = CardStatus
CARD_TRANSITIONS: dict[CardStatus, frozenset[CardStatus]] = {
    C.INACTIVE: frozenset({C.ACTIVE, C.CLOSED}),
    C.ACTIVE: frozenset({C.FROZEN, C.CLOSED}),
    C.FROZEN: frozenset({C.ACTIVE, C.CLOSED}),
    C.CLOSED: frozenset(),
}


def check_application_transition(current: str, requested: ApplicationState) -> ApplicationState:
    """Return the validated target state or raise `IllegalTransition`."""
    state = ApplicationState(current)
    if requested not in APPLICATION_TRANSITIONS[state]:
        raise IllegalTransition(subject="application", current=state, requested=requested)
    return requested


def check_card_transition(current: str, requested: CardStatus) -> CardStatus:
    """Return the validated target card status or raise `IllegalTransition`."""
    status = CardStatus(current)
    if requested not in CARD_TRANSITIONS[status]:
        raise IllegalTransition(subject="card", current=status, requested=requested)
    return requested
