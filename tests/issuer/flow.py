"""Drive real applications through the issuer's workflow, step by step, one transaction each.

The phone is a real emulated device from `tee_sim` (TEE keystore, trusted UI, secure element),
verified by the issuer's own verifier from the manufacturer's exported trust files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypedDict

from sqlalchemy.orm import Session, sessionmaker

from issuer.agreement import begin_agreement, complete_agreement
from issuer.cards import CardView, activate_card, issue_card
from issuer.decisions import decide
from issuer.device_binding import begin_device_binding, complete_device_binding
from issuer.devicetrust import ManufacturerTrust, load_manufacturer_trust
from issuer.identity import id_check_character
from issuer.keys import IssuerKeys
from issuer.onboarding import (
    begin_liveness_session,
    record_interview,
    record_liveness_result,
    start_application,
    submit_identity,
)
from issuer.provisioning import begin_provisioning, complete_provisioning, provisioning_record
from issuer.states import ApplicationState
from tee_sim import Device, DeviceStore, wallet

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
PIN = "246813"


def resident_id(region: str, birth: date, sequence: str) -> str:
    """A resident ID number with a correct check character."""
    first17 = f"{region}{birth:%Y%m%d}{sequence}"
    return first17 + id_check_character(first17)


class IdentityForm(TypedDict):
    """The identity form's fields, as `submit_identity` takes them."""

    full_name: str
    id_number: str
    mobile: str
    annual_income: int | str
    employer: str


IDENTITY: IdentityForm = {
    "full_name": "王小明",
    "id_number": resident_id("110105", date(1990, 3, 7), "123"),
    "mobile": "13812345678",
    "annual_income": 120_000,
    "employer": "Acme Trading Co., Ltd.",
}


@dataclass
class PhoneLab:
    """A phone factory (tee_sim device store) and the bank's view of its manufacturer."""

    store: DeviceStore
    keys: IssuerKeys
    trust: ManufacturerTrust

    @classmethod
    def create(cls, directory: Path, keys: IssuerKeys) -> PhoneLab:
        store = DeviceStore(directory / "devices", clock=lambda: NOW)
        store.manufacturer.export(directory / "export")
        return cls(store=store, keys=keys, trust=load_manufacturer_trust(directory / "export"))

    def phone(self, profile: str = "genuine") -> Device:
        return self.store.open(self.store.create(
            profile, issuer_public_key=bytes(self.keys.verify_key)))


@dataclass
class Flow:
    """One application driven through the workflow with one phone."""

    factory: sessionmaker[Session]
    lab: PhoneLab
    profile: str = "genuine"
    now: datetime = NOW
    identity: IdentityForm = field(default_factory=IDENTITY.copy)
    flags: tuple[str, ...] = ()
    liveness_score: float = 0.97
    application_id: str = ""
    token: str = ""
    device: Device | None = None

    def start(self) -> Flow:
        with self.factory.begin() as s:
            started = start_application(s, now=self.now)
        self.application_id, self.token = started.application.id, started.access_token
        return self

    def identity_step(self) -> Flow:
        with self.factory.begin() as s:
            submit_identity(s, application_id=self.application_id, now=self.now, keys=self.lab.keys,
                            **self.identity)
        return self

    def liveness(self, *, passed: bool = True) -> Flow:
        with self.factory.begin() as s:
            begin_liveness_session(s, application_id=self.application_id, state={"step": 0},
                                   now=self.now)
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

    def chains(self, challenge: bytes) -> dict[str, list[bytes]]:
        """The three attested chains the phone returns for `challenge`."""
        if self.device is None:
            self.device = self.lab.phone(self.profile)
        bound = wallet.bind(self.device, challenge=challenge)
        return {f"{name}_chain": list(bound[name]["chain"])  # type: ignore[call-overload]
                for name in ("signing", "agreement", "se")}

    def bind(self) -> Flow:
        with self.factory.begin() as s:
            challenge = begin_device_binding(s, application_id=self.application_id,
                                             now=self.now)
        chains = self.chains(challenge)
        with self.factory.begin() as s:
            outcome = complete_device_binding(
                s, application_id=self.application_id, challenge=challenge,
                trust=self.lab.trust, now=self.now, **chains)
        assert outcome.accepted, outcome
        return self

    def sign(self) -> Flow:
        with self.factory.begin() as s:
            offer = begin_agreement(s, application_id=self.application_id, now=self.now)
        assert self.device is not None
        confirmation = wallet.confirm(self.device, prompt=offer.text, nonce=offer.nonce)
        with self.factory.begin() as s:
            outcome = complete_agreement(s, application_id=self.application_id,
                                         message=confirmation.message,
                                         signature=confirmation.signature, now=self.now)
        assert outcome.accepted, outcome
        return self

    def decide(self) -> Flow:
        with self.factory.begin() as s:
            decide(s, application_id=self.application_id, now=self.now)
        return self

    def issue(self, idempotency_key: str = "issue-1") -> CardView:
        with self.factory.begin() as s:
            return issue_card(s, application_id=self.application_id,
                              idempotency_key=idempotency_key, keys=self.lab.keys, now=self.now)

    def provision(self) -> int:
        """Provision the card into the phone's SE; the status word the SE answered."""
        assert self.device is not None
        keys = self.lab.keys
        with self.factory.begin() as s:
            hello = begin_provisioning(s, application_id=self.application_id, keys=keys,
                                       now=self.now)
        wallet.open_channel(self.device, hello=hello)
        se_challenge = wallet.se_challenge(self.device)
        with self.factory.begin() as s:
            record = provisioning_record(s, application_id=self.application_id,
                                         se_challenge=se_challenge, keys=keys, now=self.now)
        answer = wallet.receive_provisioning(self.device, record=record)
        response = answer["response"]
        assert isinstance(response, bytes)
        with self.factory.begin() as s:
            result = complete_provisioning(s, application_id=self.application_id,
                                           record=response, keys=keys, now=self.now)
        return result.status_word

    def activate(self) -> CardView:
        assert self.device is not None
        wallet.set_pin(self.device, pin=PIN)
        with self.factory.begin() as s:
            return activate_card(s, application_id=self.application_id, now=self.now)

    def to(self, state: ApplicationState) -> Flow:
        """Advance from nothing to `state` (one of the happy-path states)."""
        steps: list[tuple[ApplicationState, Callable[[], object]]] = [
            (ApplicationState.STARTED, self.start),
            (ApplicationState.IDENTITY_SUBMITTED, self.identity_step),
            (ApplicationState.LIVENESS_PASSED, self.liveness),
            (ApplicationState.INTERVIEW_DONE, self.interview),
            (ApplicationState.DEVICE_BOUND, self.bind),
            (ApplicationState.AGREEMENT_SIGNED, self.sign),
            (ApplicationState.APPROVED, self.decide),
            (ApplicationState.ISSUED, self.issue),
        ]
        for reached, step in steps:
            step()
            if reached == state:
                return self
        raise ValueError(f"cannot drive to {state}")
