"""The credit agreement: text with limit and prices, confirmed on the phone's trusted UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.applications import (
    ApplicationView,
    lock_application,
    record_event,
    require_state,
    transition,
    view_of,
)
from issuer.clock import RandomBytes, require_aware, system_random
from issuer.device_binding import accepted_binding
from issuer.devicetrust import ConfirmationRejected, verify_confirmation
from issuer.errors import Conflict
from issuer.identity import beijing_date
from issuer.models import SignedAgreement
from issuer.states import ApplicationState
from issuer.terms import agreement_text

NONCE_BYTES = 32
OFFER_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class AgreementOffer:
    """The prompt to show on the phone, the nonce to bind it, and the limit it states."""

    text: str
    nonce: bytes
    credit_limit: int


@dataclass(frozen=True)
class AgreementOutcome:
    """Whether the signature was accepted; on refusal the reason code and a sentence."""

    accepted: bool
    reason: str | None
    message: str
    application: ApplicationView


def begin_agreement(
    session: Session, *, application_id: str, now: datetime, rng: RandomBytes = system_random
) -> AgreementOffer:
    """Prepare (or renew, with a fresh nonce) the agreement for a `device_bound` application."""
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.DEVICE_BOUND)
    applicant = application.applicant
    if applicant is None or application.offered_credit_limit is None:
        raise Conflict("application has no identity on file")
    limit = application.offered_credit_limit
    text = agreement_text(full_name=applicant.full_name, credit_limit=limit,
                          application_id=application.id, today=beijing_date(now))
    nonce = rng(NONCE_BYTES)
    row = session.scalar(
        select(SignedAgreement).where(SignedAgreement.application_id == application.id)
    )
    if row is None:
        row = SignedAgreement(application_id=application.id, refusals=[])
        session.add(row)
    row.text, row.nonce, row.credit_limit, row.created_at = text, nonce, limit, now
    record_event(session, application=application, kind="agreement_offered", actor="applicant",
                 now=now, details={"credit_limit": limit}, audit=False)
    session.flush()
    return AgreementOffer(text=text, nonce=nonce, credit_limit=limit)


def complete_agreement(
    session: Session, *, application_id: str, message: bytes, signature: bytes, now: datetime
) -> AgreementOutcome:
    """Verify the trusted-UI signature over the offered text and nonce (single use).

    Accepted: `device_bound` → `agreement_signed`. Refused: the refusal is stored and a new
    offer (new nonce) is needed.
    """
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.DEVICE_BOUND)
    row = session.scalar(
        select(SignedAgreement).where(SignedAgreement.application_id == application.id)
    )
    if row is None or not row.nonce:
        raise Conflict("no agreement has been offered; request it first")
    if row.created_at + OFFER_TTL <= now:
        raise Conflict("the agreement offer expired; request it again")
    binding = accepted_binding(session, application_id=application.id)
    assert binding.signing_public_key is not None
    nonce = row.nonce
    row.nonce = b""  # single use, whatever the outcome
    try:
        verify_confirmation(public_key=binding.signing_public_key, prompt_text=row.text,
                            nonce=nonce, message=message, signature=signature)
    except ConfirmationRejected as rejected:
        row.refusals = [*row.refusals, {"at": now.isoformat(), "reason": rejected.reason}]
        record_event(session, application=application, kind="agreement_refused",
                     actor="applicant", now=now, details={"reason": rejected.reason})
        session.flush()
        return AgreementOutcome(accepted=False, reason=rejected.reason, message=rejected.message,
                                application=view_of(application))
    row.message, row.signature, row.signed_at = message, signature, now
    transition(session, application=application, to=ApplicationState.AGREEMENT_SIGNED, now=now,
               actor="applicant", kind="agreement_signed",
               details={"credit_limit": row.credit_limit})
    return AgreementOutcome(accepted=True, reason=None, message="Agreement signed.",
                            application=view_of(application))
