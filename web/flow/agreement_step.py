"""Step 6: the agreement, confirmed on the phone's trusted UI and signed in its TEE."""

from __future__ import annotations

from issuer.agreement import AgreementOffer, AgreementOutcome, begin_agreement, complete_agreement
from web.clock import now
from web.database import db_session


def offer_agreement(*, application_id: str) -> AgreementOffer:
    """The exact agreement text and a fresh nonce for the phone to show and sign."""
    return begin_agreement(db_session(), application_id=application_id, now=now())


def submit_signature(*, application_id: str, message: bytes, signature: bytes
                     ) -> AgreementOutcome:
    """Verify the signed confirmation (a refusal is stored; the caller commits it)."""
    return complete_agreement(db_session(), application_id=application_id, message=message,
                              signature=signature, now=now())
