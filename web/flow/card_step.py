"""Step 7b: issuance, provisioning into the phone's SE over the secure channel, activation,
and the cardholder's transient reveal of the full details."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from issuer.cards import (
    CardDetails,
    CardView,
    activate_card,
    card_for_application,
    issue_card,
    reveal_card_details,
)
from issuer.device_binding import accepted_binding
from issuer.errors import NotFound
from issuer.keys import IssuerKeys
from issuer.onboarding import get_applicant
from issuer.provisioning import (
    ProvisioningResult,
    begin_provisioning,
    complete_provisioning,
    is_provisioned,
    provisioning_record,
)
from web.clock import now
from web.database import db_session

KEYS_EXTENSION = "cardsim_issuer_keys"


def issuer_keys() -> IssuerKeys:
    """The issuer keys loaded from the key file at app start."""
    keys: IssuerKeys = current_app.extensions[KEYS_EXTENSION]
    return keys


@dataclass(frozen=True)
class CardPage:
    """The masked card as the applicant sees it."""

    card: CardView
    cardholder: str
    provisioned: bool

    @property
    def masked_pan(self) -> str:
        """First 6 / last 4, grouped by four for display."""
        return " ".join(self.card.masked_pan[i:i + 4] for i in range(0, 16, 4))

    @property
    def expiry_display(self) -> str:
        """MM/YY."""
        return f"{self.card.expiry[2:]}/{self.card.expiry[:2]}"

    @property
    def status(self) -> str:
        """Card lifecycle status."""
        return self.card.status.value

    @property
    def credit_limit(self) -> int:
        """Credit limit in yuan."""
        return self.card.credit_limit

    def to_dict(self) -> dict[str, object]:
        """JSON form (masked only)."""
        return {
            "id": self.card.id, "masked_pan": self.card.masked_pan,
            "masked_dpan": self.card.masked_dpan, "expiry": self.card.expiry,
            "status": self.status, "credit_limit": self.credit_limit,
            "cardholder": self.cardholder, "provisioned": self.provisioned,
            "activated_at": self.card.activated_at.isoformat() if self.card.activated_at
            else None,
        }


def issue(*, application_id: str, idempotency_key: str) -> CardView:
    """Issue (idempotently) the approved application's card."""
    return issue_card(db_session(), application_id=application_id,
                      idempotency_key=idempotency_key, keys=issuer_keys(), now=now())


def card_page(*, application_id: str) -> CardPage:
    """The masked card of this application; NotFound when none was issued."""
    session = db_session()
    card = card_for_application(session, application_id=application_id)
    if card is None:
        raise NotFound("no card has been issued for this application yet")
    person = get_applicant(session, application_id=application_id)
    return CardPage(card=card, cardholder=person.full_name,
                    provisioned=is_provisioned(session, card_id=card.id))


def provisioning_hello(*, application_id: str) -> bytes:
    """Open the secure channel to the bound phone: the issuer's signed hello."""
    return begin_provisioning(db_session(), application_id=application_id, keys=issuer_keys(),
                              now=now())


def provisioning_payload(*, application_id: str, se_challenge: bytes) -> bytes:
    """The PROVISION record carrying the personalization sealed to the SE."""
    return provisioning_record(db_session(), application_id=application_id,
                               se_challenge=se_challenge, keys=issuer_keys(), now=now())


def provisioning_result(*, application_id: str, record: bytes) -> ProvisioningResult:
    """The phone's PROVISION_RESULT record, opened and stored."""
    return complete_provisioning(db_session(), application_id=application_id, record=record,
                                 keys=issuer_keys(), now=now())


def activate(*, application_id: str) -> CardView:
    """inactive → active once the card is in the phone and its PIN is set."""
    return activate_card(db_session(), application_id=application_id, now=now())


def bound_signing_key(*, application_id: str) -> bytes:
    """The attested signing public key of the application's bound phone."""
    binding = accepted_binding(db_session(), application_id=application_id)
    if binding.signing_public_key is None:
        raise NotFound("this application has no bound device")
    return binding.signing_public_key


def reveal(*, application_id: str) -> CardDetails:
    """Full PAN + CVV2 for the cardholder (audited). Callers must have checked the PIN."""
    card = card_for_application(db_session(), application_id=application_id)
    if card is None:
        raise NotFound("no card has been issued for this application yet")
    return reveal_card_details(db_session(), card_id=card.id, keys=issuer_keys(),
                               actor=f"applicant:{application_id}", now=now())
