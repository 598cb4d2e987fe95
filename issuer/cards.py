"""Card issuance (idempotent, one card per application), activation, lifecycle, reveal.

PAN and DPAN are stored only encrypted under the KEK plus a keyed hash; CVV2 is computed on
demand from the CVK pair and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.applications import lock_application, require_state, transition
from issuer.audit import append_audit
from issuer.clock import RandomBytes, require_aware, system_random
from issuer.cvv import CVV2_SERVICE_CODE, compute_cvv
from issuer.decisions import latest_decision
from issuer.errors import Conflict, NotFound, ValidationFailed
from issuer.idempotency import check_idempotency_key
from issuer.keys import IssuerKeys
from issuer.models import Card, CardEvent
from issuer.pan import new_dpan, new_pan
from issuer.provisioning import is_provisioned
from issuer.states import ApplicationState, CardStatus, check_card_transition
from issuer.vault import lookup_hash, mask_number, open_card_field, seal_card_field

CARD_VALIDITY_YEARS = 5
SERVICE_CODE = "201"  # international, chip card, normal authorisation
MAX_NUMBER_ATTEMPTS = 20


@dataclass(frozen=True)
class CardView:
    """An issued card as anyone but the cardholder may see it: masked numbers only."""

    id: int
    application_id: str
    masked_pan: str
    masked_dpan: str
    expiry: str  # YYMM
    status: CardStatus
    credit_limit: int
    created_at: datetime
    activated_at: datetime | None


@dataclass(frozen=True, repr=False)
class CardDetails:
    """Full card details for the cardholder; never log or persist this object."""

    masked_pan: str
    pan: str
    expiry: str
    cvv2: str
    cardholder_name: str

    def __repr__(self) -> str:
        return f"CardDetails({self.masked_pan})"


def card_view(card: Card) -> CardView:
    """Masked snapshot of a card row."""
    return CardView(
        id=card.id, application_id=card.application_id,
        masked_pan=card.pan_first6 + "******" + card.pan_last4,
        masked_dpan="629999******" + card.dpan_last4, expiry=card.expiry,
        status=CardStatus(card.status), credit_limit=card.credit_limit,
        created_at=card.created_at, activated_at=card.activated_at,
    )


def _expiry(now: datetime) -> str:
    return f"{(now.year + CARD_VALIDITY_YEARS) % 100:02d}{now.month:02d}"


def _unique_number(session: Session, *, make: RandomBytes, hmac_key: bytes,
                   generator: str) -> tuple[str, bytes]:
    column = Card.pan_hash if generator == "pan" else Card.dpan_hash
    for _ in range(MAX_NUMBER_ATTEMPTS):
        number = new_pan(rng=make) if generator == "pan" else new_dpan(rng=make)
        digest = lookup_hash(hmac_key=hmac_key, number=number)
        if session.scalar(select(Card.id).where(column == digest)) is None:
            return number, digest
    raise Conflict("could not find an unused card number; the BIN range is exhausted")


def issue_card(
    session: Session, *, application_id: str, idempotency_key: str, keys: IssuerKeys,
    now: datetime, rng: RandomBytes = system_random,
) -> CardView:
    """Issue the card of an `approved` application (→ `issued`), exactly once.

    Retrying with the same idempotency key returns the same card. The application row lock
    (PostgreSQL) or the BEGIN IMMEDIATE write lock (SQLite) serialises concurrent requests,
    and the unique constraint on `card.application_id` backs it up.
    """
    now = require_aware(now)
    check_idempotency_key(idempotency_key)
    application = lock_application(session, application_id=application_id, now=now)
    existing = session.scalar(select(Card).where(Card.application_id == application.id))
    if existing is not None:
        if existing.idempotency_key == idempotency_key:
            return card_view(existing)
        raise Conflict("a card was already issued for this application")
    if session.scalar(select(Card.id).where(Card.idempotency_key == idempotency_key)):
        raise Conflict("this idempotency key was already used for another application")
    require_state(application, ApplicationState.APPROVED)
    decision = latest_decision(session, application_id=application.id)
    applicant = application.applicant
    if decision is None or decision.outcome != "approved" or applicant is None:
        raise Conflict("application has no approval on file")
    pan, pan_hash = _unique_number(session, make=rng, hmac_key=keys.pan_hmac_key,
                                   generator="pan")
    dpan, dpan_hash = _unique_number(session, make=rng, hmac_key=keys.pan_hmac_key,
                                     generator="dpan")
    card = Card(
        application_id=application.id, idempotency_key=idempotency_key,
        pan_ciphertext=seal_card_field(kek=keys.kek, application_id=application.id,
                                       field="pan", value=pan, rng=rng),
        pan_hash=pan_hash, pan_first6=pan[:6], pan_last4=pan[-4:],
        dpan_ciphertext=seal_card_field(kek=keys.kek, application_id=application.id,
                                        field="dpan", value=dpan, rng=rng),
        dpan_hash=dpan_hash, dpan_last4=dpan[-4:],
        card_key_ciphertext=seal_card_field(kek=keys.kek, application_id=application.id,
                                            field="card_key", value=rng(32).hex(), rng=rng),
        cardholder_name=applicant.full_name, expiry=_expiry(now), service_code=SERVICE_CODE,
        credit_limit=decision.credit_limit, status=CardStatus.INACTIVE.value, created_at=now,
    )
    session.add(card)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("a card was issued concurrently for this application") from None
    session.add(CardEvent(card_id=card.id, at=now, from_status=None,
                          to_status=CardStatus.INACTIVE.value, actor="system",
                          reason="issued"))
    transition(session, application=application, to=ApplicationState.ISSUED, now=now,
               actor="system", kind="card_issued",
               details={"card_id": card.id, "masked_pan": mask_number(pan)})
    return card_view(card)


def get_card(session: Session, *, card_id: int) -> CardView:
    """Masked view of a card."""
    card = session.get(Card, card_id)
    if card is None:
        raise NotFound("no such card")
    return card_view(card)


def card_for_application(session: Session, *, application_id: str) -> CardView | None:
    """The card issued for an application, if any."""
    card = session.scalar(select(Card).where(Card.application_id == application_id))
    return None if card is None else card_view(card)


def find_card_by_pan(session: Session, *, pan: str, keys: IssuerKeys) -> CardView:
    """Look a card up by its full PAN through the keyed hash (the PAN is never queried)."""
    digits = pan.replace(" ", "")
    card = session.scalar(
        select(Card).where(Card.pan_hash == lookup_hash(hmac_key=keys.pan_hmac_key,
                                                        number=digits))
    ) if digits.isascii() and digits.isdigit() else None
    if card is None:
        raise NotFound("no card with this number")
    return card_view(card)


def _lock_card(session: Session, card_id: int) -> Card:
    card = session.scalar(select(Card).where(Card.id == card_id).with_for_update()
                          .execution_options(populate_existing=True))
    if card is None:
        raise NotFound("no such card")
    return card


def _change_status(session: Session, *, card: Card, to: CardStatus, actor: str, reason: str,
                   now: datetime) -> CardView:
    if not reason.strip():
        raise ValidationFailed({"reason": "A reason is required for every card status change."})
    if not actor.strip():
        raise ValidationFailed({"actor": "The actor of a card status change is required."})
    current = card.status
    check_card_transition(current, to)
    card.status = to.value
    session.add(CardEvent(card_id=card.id, at=now, from_status=current, to_status=to.value,
                          actor=actor, reason=reason.strip()))
    append_audit(session, actor=actor, action="card.status", subject=f"card:{card.id}",
                 details={"from": current, "to": to.value, "reason": reason.strip()}, now=now)
    session.flush()
    return card_view(card)


def activate_card(
    session: Session, *, application_id: str, now: datetime, actor: str = "applicant",
    reason: str = "PIN set on the phone",
) -> CardView:
    """Activate the issued card (inactive → active) and finish the application (→ activated)."""
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    card = session.scalar(select(Card).where(Card.application_id == application.id))
    if card is None:
        raise NotFound("no card has been issued for this application")
    card = _lock_card(session, card.id)
    if not is_provisioned(session, card_id=card.id):
        raise Conflict("the card has not been provisioned into the phone yet")
    view = _change_status(session, card=card, to=CardStatus.ACTIVE, actor=actor, reason=reason,
                          now=now)
    card.activated_at = now
    transition(session, application=application, to=ApplicationState.ACTIVATED, now=now,
               actor=actor, kind="card_activated", details={"card_id": card.id})
    return replace(view, activated_at=now)


def freeze_card(session: Session, *, card_id: int, actor: str, reason: str,
                now: datetime) -> CardView:
    """active → frozen."""
    return _change_status(session, card=_lock_card(session, card_id), to=CardStatus.FROZEN,
                          actor=actor, reason=reason, now=require_aware(now))


def unfreeze_card(session: Session, *, card_id: int, actor: str, reason: str,
                  now: datetime) -> CardView:
    """frozen → active."""
    return _change_status(session, card=_lock_card(session, card_id), to=CardStatus.ACTIVE,
                          actor=actor, reason=reason, now=require_aware(now))


def close_card(session: Session, *, card_id: int, actor: str, reason: str,
               now: datetime) -> CardView:
    """inactive/active/frozen → closed (final)."""
    return _change_status(session, card=_lock_card(session, card_id), to=CardStatus.CLOSED,
                          actor=actor, reason=reason, now=require_aware(now))


def card_history(session: Session, *, card_id: int) -> list[tuple[datetime, str | None, str,
                                                                   str, str]]:
    """Lifecycle changes of a card: (at, from, to, actor, reason), oldest first."""
    rows = session.scalars(select(CardEvent).where(CardEvent.card_id == card_id)
                           .order_by(CardEvent.id)).all()
    return [(e.at, e.from_status, e.to_status, e.actor, e.reason) for e in rows]


def reveal_card_details(
    session: Session, *, card_id: int, keys: IssuerKeys, actor: str, now: datetime
) -> CardDetails:
    """Decrypt the PAN and compute CVV2 for the cardholder (audited; closed cards refused)."""
    now = require_aware(now)
    card = session.get(Card, card_id)
    if card is None:
        raise NotFound("no such card")
    if card.status == CardStatus.CLOSED:
        raise Conflict("the card is closed")
    pan = open_card_field(kek=keys.kek, application_id=card.application_id, field="pan",
                          ciphertext=card.pan_ciphertext)
    cvv2 = compute_cvv(cvk_a=keys.cvk_a, cvk_b=keys.cvk_b, pan=pan, expiry=card.expiry,
                       service_code=CVV2_SERVICE_CODE)
    append_audit(session, actor=actor, action="card.details_revealed",
                 subject=f"card:{card.id}", details={}, now=now)
    return CardDetails(masked_pan=mask_number(pan), pan=pan, expiry=card.expiry, cvv2=cvv2,
                       cardholder_name=card.cardholder_name)
