"""Drive real applications through the issuer's workflow, step by step, one transaction each.

The phone is a PKI built in the test (tests/issuer/devicetrust/forge.py): real certificates,
real Ed25519 signatures, verified by the issuer's real verifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from issuer.agreement import begin_agreement, complete_agreement
from issuer.decisions import decide
from issuer.device_binding import begin_device_binding, complete_device_binding
from issuer.devicetrust import ManufacturerTrust, confirmation_message
from issuer.identity import id_check_character
from issuer.onboarding import (
    record_interview,
    record_liveness_result,
    save_liveness_state,
    start_application,
    submit_identity,
)
from issuer.states import ApplicationState
from tests.issuer.devicetrust.forge import Attestation, ForgedDevice, forged_device

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)  # inside the forged certificates' validity


def resident_id(region: str, birth: date, sequence: str) -> str:
    """A resident ID number with a correct check character."""
    first17 = f"{region}{birth:%Y%m%d}{sequence}"
    return first17 + id_check_character(first17)


IDENTITY = {
    "full_name": "王小明",
    "id_number": resident_id("110105", date(1990, 3, 7), "123"),
    "mobile": "13812345678",
    "annual_income": 120_000,
    "employer": "Acme Trading Co., Ltd.",
}


@dataclass
class Phone:
    """A phone with attestation keys under its own manufacturer root."""

    device: ForgedDevice = field(default_factory=forged_device)
    signing_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    attestation: Attestation = field(default_factory=Attestation)

    @property
    def trust(self) -> ManufacturerTrust:
        return ManufacturerTrust(trust_anchors=(self.device.root.cert,),
                                 revoked_serials=frozenset(), verified_boot_keys=None)

    def bind(self, challenge: bytes) -> dict[str, list[bytes]]:
        """The three attested chains `wallet.bind` would return for this challenge."""
        base = replace(self.attestation, challenge=challenge)
        return {
            "signing_chain": self.device.attest(
                replace(base, confirmation=True, user_presence=True),
                kind="ed25519", leaf_key=self.signing_key),
            "agreement_chain": self.device.attest(replace(base, purposes=(6,)), kind="x25519"),
            "se_chain": self.device.attest(
                replace(base, purposes=(6,), attestation_level=2, keymint_level=2),
                kind="x25519"),
        }

    def confirm(self, text: str, nonce: bytes) -> tuple[bytes, bytes]:
        """What the trusted UI returns after the applicant presses the button."""
        message = confirmation_message(prompt_text=text, nonce=nonce)
        return message, self.signing_key.sign(message)


@dataclass
class Flow:
    """One application driven through the workflow."""

    factory: sessionmaker[Session]
    phone: Phone = field(default_factory=Phone)
    now: datetime = NOW
    identity: dict[str, object] = field(default_factory=lambda: dict(IDENTITY))
    flags: tuple[str, ...] = ()
    liveness_score: float = 0.97
    application_id: str = ""
    token: str = ""

    def start(self) -> Flow:
        with self.factory.begin() as s:
            started = start_application(s, now=self.now)
        self.application_id, self.token = started.application.id, started.access_token
        return self

    def identity_step(self) -> Flow:
        with self.factory.begin() as s:
            submit_identity(s, application_id=self.application_id, now=self.now,
                            **self.identity)  # type: ignore[arg-type]
        return self

    def liveness(self, *, passed: bool = True) -> Flow:
        with self.factory.begin() as s:
            save_liveness_state(s, application_id=self.application_id, state={"step": 0},
                                new_session=True, now=self.now)
        with self.factory.begin() as s:
            record_liveness_result(
                s, application_id=self.application_id, passed=passed,
                score=self.liveness_score if passed else 0.2,
                details={"challenges": ["blink", "turn_left"]}, keyframes=[b"keyframe"],
                now=self.now)
        return self

    def interview(self) -> Flow:
        with self.factory.begin() as s:
            record_interview(s, application_id=self.application_id,
                             answers={"voluntary": "yes"}, flags=list(self.flags),
                             script_version="v1", now=self.now)
        return self

    def bind(self) -> Flow:
        with self.factory.begin() as s:
            challenge = begin_device_binding(s, application_id=self.application_id,
                                             now=self.now)
        with self.factory.begin() as s:
            outcome = complete_device_binding(
                s, application_id=self.application_id, challenge=challenge,
                trust=self.phone.trust, now=self.now, **self.phone.bind(challenge))
        assert outcome.accepted, outcome
        return self

    def sign(self) -> Flow:
        with self.factory.begin() as s:
            offer = begin_agreement(s, application_id=self.application_id, now=self.now)
        message, signature = self.phone.confirm(offer.text, offer.nonce)
        with self.factory.begin() as s:
            outcome = complete_agreement(s, application_id=self.application_id,
                                         message=message, signature=signature, now=self.now)
        assert outcome.accepted, outcome
        return self

    def decide(self) -> Flow:
        with self.factory.begin() as s:
            decide(s, application_id=self.application_id, now=self.now)
        return self

    def to(self, state: ApplicationState) -> Flow:
        """Advance from nothing to `state` (one of the happy-path states)."""
        steps = [
            (ApplicationState.STARTED, self.start),
            (ApplicationState.IDENTITY_SUBMITTED, self.identity_step),
            (ApplicationState.LIVENESS_PASSED, self.liveness),
            (ApplicationState.INTERVIEW_DONE, self.interview),
            (ApplicationState.DEVICE_BOUND, self.bind),
            (ApplicationState.AGREEMENT_SIGNED, self.sign),
            (ApplicationState.APPROVED, self.decide),
        ]
        for reached, step in steps:
            step()
            if reached == state:
                return self
        raise ValueError(f"cannot drive to {state}")
