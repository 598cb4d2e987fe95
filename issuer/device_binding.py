"""Device binding: issue a single-use challenge, verify the phone's three attested keys.

The issuer's own verifier (`issuer.devicetrust`) runs inside `complete_device_binding`, so no
caller can store keys it did not verify. A refused binding is stored with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
from issuer.devicetrust import (
    AttestationRejected,
    ManufacturerTrust,
    VerifiedKey,
    verify_device_binding,
)
from issuer.errors import Conflict, NotFound
from issuer.models import Decision, DeviceBinding, DeviceChallenge
from issuer.states import ApplicationState

CHALLENGE_BYTES = 32
CHALLENGE_TTL = timedelta(minutes=10)
MAX_BINDING_ATTEMPTS = 3


@dataclass(frozen=True)
class BindingOutcome:
    """Whether the phone was bound; on refusal the reason code and a sentence for the user."""

    accepted: bool
    reason: str | None
    message: str
    application: ApplicationView


def serial_text(serial: int | str) -> str:
    """A certificate serial as colon-separated hex bytes, as `openssl x509 -text` shows it.

    Decimal serials are 40-50 digit runs that look like card numbers to a PAN scanner.
    """
    value = int(serial)
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return ":".join(f"{byte:02X}" for byte in raw)


def _chain_entry(entry: dict[str, str]) -> dict[str, str]:
    return {name: serial_text(value) if name == "serial" and value.isdigit() else value
            for name, value in entry.items()}


def _key_summary(key: VerifiedKey) -> dict[str, Any]:
    return {
        "kind": key.kind, "security_level": key.security_level,
        "verified_boot_state": key.verified_boot_state, "device_locked": key.device_locked,
        "os_patch_level": key.os_patch_level, "app_id": key.app_id,
        "confirmation_required": key.confirmation_required,
        "device_certificate_serial": serial_text(key.device_certificate_serial),
        "chain": [_chain_entry(entry) for entry in key.chain],
        "checks": [list(check) for check in key.checks],
    }


def begin_device_binding(
    session: Session, *, application_id: str, now: datetime, rng: RandomBytes = system_random
) -> bytes:
    """A fresh 32-byte attestation challenge, valid for 10 minutes and for one attempt."""
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.INTERVIEW_DONE)
    if application.binding_attempts >= MAX_BINDING_ATTEMPTS:
        raise Conflict("no device binding attempts are left")
    challenge = rng(CHALLENGE_BYTES)
    session.add(DeviceChallenge(application_id=application.id, challenge=challenge,
                                created_at=now, expires_at=now + CHALLENGE_TTL))
    record_event(session, application=application, kind="device_challenge_issued",
                 actor="applicant", now=now, details={}, audit=False)
    session.flush()
    return challenge


def complete_device_binding(
    session: Session, *, application_id: str, challenge: bytes, signing_chain: list[bytes],
    agreement_chain: list[bytes], se_chain: list[bytes], trust: ManufacturerTrust,
    now: datetime,
) -> BindingOutcome:
    """Consume the challenge, verify the three chains, and store the binding or the refusal.

    Accepted: `interview_done` → `device_bound`. Refused: stays, unless that was the last
    attempt, then `declined` (`device_binding_refused`). An unknown, used or expired challenge
    is a `Conflict` and stores nothing.
    """
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.INTERVIEW_DONE)
    issued = session.scalar(
        select(DeviceChallenge).where(DeviceChallenge.application_id == application.id,
                                      DeviceChallenge.challenge == challenge)
    )
    if issued is None or issued.used_at is not None or issued.expires_at <= now:
        raise Conflict("the binding challenge is unknown, already used or expired; "
                       "request a new one")
    issued.used_at = now
    application.binding_attempts += 1
    try:
        verified = verify_device_binding(
            signing_chain=signing_chain, agreement_chain=agreement_chain, se_chain=se_chain,
            expected_challenge=challenge, trust_anchors=trust.trust_anchors,
            revoked_serials=trust.revoked_serials, now=now,
            trusted_boot_keys=trust.verified_boot_keys,
        )
    except AttestationRejected as rejected:
        session.add(DeviceBinding(
            application_id=application.id, accepted=False, reason=rejected.reason,
            message=rejected.message,
            chain_summary={"checks": [list(check) for check in rejected.checks]},
            created_at=now,
        ))
        details = {"reason": rejected.reason, "attempt": application.binding_attempts}
        if application.binding_attempts >= MAX_BINDING_ATTEMPTS:
            session.add(Decision(application_id=application.id, outcome="declined",
                                 reasons=["device_binding_refused", rejected.reason],
                                 credit_limit=0, decided_by="system", decided_at=now))
            transition(session, application=application, to=ApplicationState.DECLINED,
                       now=now, actor="system", kind="device_binding_refused", details=details)
        else:
            record_event(session, application=application, kind="device_binding_refused",
                         actor="applicant", now=now, details=details)
        session.flush()
        return BindingOutcome(accepted=False, reason=rejected.reason, message=rejected.message,
                              application=view_of(application))
    signing = verified.signing
    binding = DeviceBinding(
        application_id=application.id, accepted=True, reason=None, message=None,
        signing_public_key=signing.public_key,
        agreement_public_key=verified.agreement.public_key,
        se_public_key=verified.se.public_key, se_security_level=verified.se.security_level,
        security_level=signing.security_level,
        verified_boot_state=signing.verified_boot_state,
        os_patch_level=signing.os_patch_level,
        device_certificate_serial=serial_text(verified.device_certificate_serial),
        chain_summary={"signing": _key_summary(signing),
                       "agreement": _key_summary(verified.agreement),
                       "se": _key_summary(verified.se)},
        created_at=now,
    )
    session.add(binding)
    session.flush()
    transition(session, application=application, to=ApplicationState.DEVICE_BOUND, now=now,
               actor="applicant", kind="device_bound",
               details={"device_binding_id": binding.id,
                        "device_certificate_serial":
                            serial_text(verified.device_certificate_serial)})
    return BindingOutcome(accepted=True, reason=None, message="Your phone is bound.",
                          application=view_of(application))


def accepted_binding(session: Session, *, application_id: str) -> DeviceBinding:
    """The application's accepted device binding."""
    binding = session.scalar(
        select(DeviceBinding).where(DeviceBinding.application_id == application_id,
                                    DeviceBinding.accepted.is_(True))
        .order_by(DeviceBinding.id.desc()).limit(1)
    )
    if binding is None:
        raise NotFound("this application has no bound device")
    return binding
