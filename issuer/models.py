"""SQLAlchemy 2.x typed models of the issuer: applicants, applications, cards, staff, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, UTCDateTime

JsonDict = dict[str, Any]


class Applicant(Base):
    """The person applying, as declared on the identity form and validated.

    The resident ID and mobile numbers are stored sealed (`issuer.personal_data`) beside their
    masked forms, which is all any page shows.
    """

    __tablename__ = "applicant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(100))
    id_number_sealed: Mapped[bytes] = mapped_column(LargeBinary(128))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[str] = mapped_column(String(10))  # ISO date, from the ID number
    mobile_sealed: Mapped[bytes] = mapped_column(LargeBinary(128))
    mobile_masked: Mapped[str] = mapped_column(String(11))
    annual_income: Mapped[int] = mapped_column(BigInteger)  # yuan
    employer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Application(Base):
    """One onboarding session, from the first page to an activated card."""

    __tablename__ = "application"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    access_token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("applicant.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    liveness_state: Mapped[JsonDict | None] = mapped_column(JSON)
    liveness_sessions: Mapped[int] = mapped_column(Integer, default=0)
    binding_attempts: Mapped[int] = mapped_column(Integer, default=0)
    offered_credit_limit: Mapped[int | None] = mapped_column(BigInteger)
    # Started with an Idempotency-Key (`issuer.onboarding.start_application`): the key's keyed
    # hash, the hash of the request it came with, and, for a short window and only until the
    # access token is first used, that token encrypted under the KEK to answer a retry.
    idempotency_key_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    creation_request_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    creation_replay: Mapped[bytes | None] = mapped_column(LargeBinary)
    creation_replay_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    applicant: Mapped[Applicant | None] = relationship()


class ApplicationEvent(Base):
    """Timeline entry: one per state transition or notable step of an application."""

    __tablename__ = "application_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    details: Mapped[JsonDict] = mapped_column(JSON, default=dict)


class LivenessResult(Base):
    """Outcome of one finished liveness session, with evidence keyframes."""

    __tablename__ = "liveness_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    details: Mapped[JsonDict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    keyframes: Mapped[list[LivenessKeyframe]] = relationship(
        order_by="LivenessKeyframe.position", cascade="all, delete-orphan"
    )


class LivenessKeyframe(Base):
    """One encoded evidence image (JPEG/PNG bytes) of a liveness session."""

    __tablename__ = "liveness_keyframe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    liveness_result_id: Mapped[int] = mapped_column(ForeignKey("liveness_result.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    image: Mapped[bytes] = mapped_column(LargeBinary)


class InterviewRecord(Base):
    """Answers and flags of the scripted interview."""

    __tablename__ = "interview_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # not unique: staff may send an applicant back to redo the interview
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    script_version: Mapped[str] = mapped_column(String(32))
    answers: Mapped[JsonDict] = mapped_column(JSON)
    flags: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeviceChallenge(Base):
    """A single-use attestation challenge issued for device binding."""

    __tablename__ = "device_challenge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeviceBinding(Base):
    """A device binding attempt: attested keys and verified chain summary, or the refusal."""

    __tablename__ = "device_binding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    signing_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    agreement_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    se_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    se_security_level: Mapped[str | None] = mapped_column(String(32))
    device_certificate_serial: Mapped[str | None] = mapped_column(String(64))
    security_level: Mapped[str | None] = mapped_column(String(32))
    verified_boot_state: Mapped[str | None] = mapped_column(String(32))
    os_patch_level: Mapped[int | None] = mapped_column(Integer)  # YYYYMM
    chain_summary: Mapped[JsonDict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SignedAgreement(Base):
    """The credit agreement shown on the phone's trusted UI and its TEE signature."""

    __tablename__ = "signed_agreement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(32))
    credit_limit: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refusals: Mapped[list[JsonDict]] = mapped_column(JSON, default=list)


class Decision(Base):
    """The credit decision for an application, automatic or by staff."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    credit_limit: Mapped[int] = mapped_column(BigInteger)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Card(Base):
    """An issued card. The PAN is stored only encrypted plus a keyed hash; never CVV2."""

    __tablename__ = "card"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    pan_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    pan_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    pan_first6: Mapped[str] = mapped_column(String(6))
    pan_last4: Mapped[str] = mapped_column(String(4))
    dpan_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    dpan_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    dpan_last4: Mapped[str] = mapped_column(String(4))
    card_key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)  # ARQC key, under the KEK
    cardholder_name: Mapped[str] = mapped_column(String(100))
    expiry: Mapped[str] = mapped_column(String(4))  # YYMM
    service_code: Mapped[str] = mapped_column(String(3))
    credit_limit: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProvisioningSession(Base):
    """Secure-channel state for provisioning a card into the phone's secure element.

    Channel keys and sequence numbers are kept encrypted under the KEK so any worker process
    can continue the exchange.
    """

    __tablename__ = "provisioning_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    channel_state_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))  # open / sent / personalized / failed
    result: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of the PROVISION_RESULT record that set `result`: its byte-identical resend (a
    # retry after a lost answer) gets the same answer instead of a conflict
    result_record_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardEvent(Base):
    """A card lifecycle change with who did it and why."""

    __tablename__ = "card_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)


class StaffUser(Base):
    """A bank employee account for the review console."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReviewAction(Base):
    """Something a staff member did on an application (note, approve, decline, escalate...)."""

    __tablename__ = "review_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """One link of the tamper-evident audit chain; `hash` covers `prev_hash` and the content."""

    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("prev_hash"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                      autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[JsonDict] = mapped_column(JSON)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
