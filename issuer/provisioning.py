"""Provisioning the issued card into the phone's secure element over the secure channel.

hello (issuer → phone TEE) → SE challenge (phone) → sealed PROVISION record (issuer) →
PROVISION_RESULT record (phone). Channel state between requests is stored encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from issuer.applications import lock_application, record_event
from issuer.clock import RandomBytes, require_aware, system_random
from issuer.device_binding import accepted_binding
from issuer.devicetrust import (
    ChannelError,
    DeviceTrustError,
    IssuerChannel,
    seal_personalization,
)
from issuer.errors import Conflict, NotFound
from issuer.keys import IssuerKeys
from issuer.models import Card, ProvisioningSession
from issuer.states import CardStatus
from issuer.vault import decrypt_number, encrypt_number, open_card_field

SW_OK = 0x9000


@dataclass(frozen=True)
class ProvisioningResult:
    """The SE applet's answer: personalized, or the status word it refused with."""

    personalized: bool
    status_word: int
    reason: str | None


def _card_of(session: Session, application_id: str) -> Card:
    card = session.scalar(select(Card).where(Card.application_id == application_id))
    if card is None:
        raise NotFound("no card has been issued for this application")
    return card


def _latest_session(session: Session, card: Card) -> ProvisioningSession:
    row = session.scalar(select(ProvisioningSession).where(ProvisioningSession.card_id == card.id)
                         .order_by(ProvisioningSession.id.desc()).limit(1))
    if row is None:
        raise Conflict("no provisioning channel is open; start provisioning first")
    return row


def _load_channel(row: ProvisioningSession, keys: IssuerKeys) -> IssuerChannel:
    return IssuerChannel.from_bytes(bytes.fromhex(
        decrypt_number(kek=keys.kek, ciphertext=row.channel_state_ciphertext)))


def _store_channel(row: ProvisioningSession, channel: IssuerChannel, keys: IssuerKeys,
                   rng: RandomBytes) -> None:
    row.channel_state_ciphertext = encrypt_number(kek=keys.kek, number=channel.to_bytes().hex(),
                                                  rng=rng)


def begin_provisioning(
    session: Session, *, application_id: str, keys: IssuerKeys, now: datetime,
    rng: RandomBytes = system_random,
) -> bytes:
    """Open a secure channel to the bound phone's attested agreement key; returns the hello."""
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    card = _card_of(session, application.id)
    if card.status != CardStatus.INACTIVE:
        raise Conflict("the card is already provisioned and activated, or closed")
    if is_provisioned(session, card_id=card.id):
        # The SE takes one personalization only: a new channel would only hide that the card
        # is already in the phone, and activation would wait for it forever.
        raise Conflict("the card is already in the phone; activate it")
    binding = accepted_binding(session, application_id=application.id)
    assert binding.agreement_public_key is not None
    try:
        opened = IssuerChannel.begin(device_public_key=binding.agreement_public_key,
                                     issuer_signing_key=keys.signing_key)
    except ChannelError as exc:
        raise Conflict(exc.message) from None
    row = ProvisioningSession(card_id=card.id, channel_state_ciphertext=b"", status="open",
                              created_at=now, updated_at=now)
    _store_channel(row, opened.channel, keys, rng)
    session.add(row)
    record_event(session, application=application, kind="provisioning_started",
                 actor="system", now=now, details={"card_id": card.id}, audit=False)
    session.flush()
    return opened.hello


def provisioning_record(
    session: Session, *, application_id: str, se_challenge: bytes, keys: IssuerKeys,
    now: datetime, rng: RandomBytes = system_random,
) -> bytes:
    """The PROVISION record: card personalization sealed to the SE key, for this challenge."""
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    card = _card_of(session, application.id)
    row = _latest_session(session, card)
    if row.status != "open":
        raise Conflict("this provisioning channel was already used; start provisioning again")
    binding = accepted_binding(session, application_id=application.id)
    assert binding.se_public_key is not None
    fields = {
        "pan": open_card_field(kek=keys.kek, application_id=card.application_id, field="pan",
                                ciphertext=card.pan_ciphertext),
        "dpan": open_card_field(kek=keys.kek, application_id=card.application_id, field="dpan",
                                ciphertext=card.dpan_ciphertext),
        "expiry": card.expiry,
        "cardholder": card.cardholder_name,
        "card_key": open_card_field(kek=keys.kek, application_id=card.application_id,
                                    field="card_key", ciphertext=card.card_key_ciphertext),
        "card_ref": str(card.id),
    }
    try:
        sealed = seal_personalization(card_fields=fields, se_public_key=binding.se_public_key,
                                      se_challenge=se_challenge,
                                      issuer_signing_key=keys.signing_key)
        channel, record = _load_channel(row, keys).provision(sealed_payload=sealed)
    except DeviceTrustError as exc:
        raise Conflict(exc.message) from None
    _store_channel(row, channel, keys, rng)
    row.status, row.updated_at = "sent", now
    session.flush()
    return record


def complete_provisioning(
    session: Session, *, application_id: str, record: bytes, keys: IssuerKeys, now: datetime,
    rng: RandomBytes = system_random,
) -> ProvisioningResult:
    """Open the phone's PROVISION_RESULT record and store whether the SE is personalized.

    The same record sent again once its result is stored (a retry after a lost answer) gets
    that result again and changes nothing; any other record then is a `Conflict`.
    """
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    card = _card_of(session, application.id)
    row = _latest_session(session, card)
    digest = hashlib.sha256(record).digest()
    if (row.status in ("personalized", "failed") and row.result is not None
            and row.result_record_hash is not None
            and hmac.compare_digest(row.result_record_hash, digest)):
        return _result_of(int(row.result, 16))
    if row.status != "sent":
        raise Conflict("no provisioning record is awaiting an answer")
    try:
        channel, status_word = _load_channel(row, keys).open_provision_result(record)
    except ChannelError as exc:
        raise Conflict(exc.message) from None
    _store_channel(row, channel, keys, rng)
    outcome = _result_of(status_word)
    row.status = "personalized" if outcome.personalized else "failed"
    row.result = f"{status_word:04X}"
    row.result_record_hash = digest
    row.updated_at = now
    record_event(session, application=application, kind="provisioning_result", actor="system",
                 now=now, details={"card_id": card.id, "status_word": row.result})
    session.flush()
    return outcome


def _result_of(status_word: int) -> ProvisioningResult:
    personalized = status_word == SW_OK
    return ProvisioningResult(personalized=personalized, status_word=status_word,
                              reason=None if personalized else f"se_status_{status_word:04X}")


def is_provisioned(session: Session, *, card_id: int) -> bool:
    """Whether any provisioning of the card personalized the secure element.

    Any, not the latest: the SE takes one personalization only, so once one succeeded the card
    is in the phone whatever channel was opened after it (before 2ff7cc8 a retried "add to
    phone" could open one, and would otherwise have blocked activation for good).
    """
    return bool(session.scalar(select(exists().where(
        ProvisioningSession.card_id == card_id,
        ProvisioningSession.status == "personalized"))))
