"""Drive the JSON API like an automation client, with a real emulated phone (tee_sim).

Liveness is the one step these helpers can also complete without a camera: `pass_liveness`
records a real passed verdict through the issuer's own function, for tests of the later steps.
The full-flow tests with real frames live in test_liveness_api.py and tests/e2e.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from issuer.keys import IssuerKeys
from issuer.onboarding import begin_liveness_session, record_liveness_result
from tee_sim import DeviceStore, wallet
from tests.issuer.flow import resident_id
from web.database import app_database

IDENTITY: dict[str, Any] = {
    "full_name": "王小明",
    "id_number": resident_id("110105", date(1990, 3, 7), "123"),
    "mobile": "13812345678",
    "annual_income": "120000",
    "employer": "Acme Trading Co., Ltd.",
}

HONEST_ANSWERS = {
    "confirm_name": "yes", "confirm_birth_date": "yes", "voluntary": "yes",
    "paid_or_asked": "no", "interest_rate": "18.25%", "annual_fee": "CNY 200",
    "employer": "Acme Trading",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


@dataclass
class ApiApplicant:
    """One applicant driving `/api/v1` with its bearer token."""

    client: FlaskClient
    app: Flask
    application_id: str
    token: str

    @property
    def base(self) -> str:
        return f"/api/v1/applications/{self.application_id}"

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def get(self, path: str = "") -> TestResponse:
        return self.client.get(self.base + path, headers=self.headers())

    def post(self, path: str, body: Any = None, **headers: str) -> TestResponse:
        return self.client.post(self.base + path, json=body, headers=self.headers(**headers))

    def state(self) -> str:
        state: str = self.get().get_json()["state"]
        return state

    def submit_identity(self, **overrides: Any) -> TestResponse:
        return self.post("/identity", {**IDENTITY, **overrides})

    def pass_liveness(self) -> None:
        """Record a passed liveness verdict through the issuer (no camera in unit tests)."""
        database = app_database(self.app)
        clock = self.app.config.get("CARDSIM_CLOCK")
        now = clock() if clock is not None else datetime.now(UTC)
        with database.sessions() as session, session.begin():
            begin_liveness_session(session, application_id=self.application_id, state={}, now=now)
            record_liveness_result(session, application_id=self.application_id, passed=True,
                                   score=1.0, details={"source": "test fixture"},
                                   keyframes=[], now=now)

    def answer_interview(self, *, think_ms: int = 2500, **changes: str) -> TestResponse:
        """Answer honestly (except `changes`), taking `think_ms` per answer on the app clock."""
        served = self.get("/interview").get_json()
        clock = self.app.config.get("CARDSIM_CLOCK")
        if clock is not None and hasattr(clock, "advance"):
            clock.advance(think_ms * len(served["questions"]) / 1000)
        answers = [{"question_id": q["id"], "value": changes.get(q["id"], HONEST_ANSWERS[q["id"]]),
                    "response_ms": think_ms} for q in served["questions"]]
        return self.post("/interview", {"token": served["token"], "answers": answers})


class AppClock(Protocol):
    """The stepping clock tests give the app (`CARDSIM_CLOCK`)."""

    def __call__(self) -> datetime: ...

    def advance(self, seconds: float) -> None: ...


def feed_frames(applicant: ApiApplicant, clock: AppClock, frames: list[bytes], *,
                after_frame: Callable[[int], None] | None = None,
                max_frames: int = 400) -> dict[str, Any]:
    """Post `frames` in a loop at 10 fps on the app clock until the session finishes; each
    answer must be 200. `after_frame(i)` runs after every unfinished frame. The last answer."""
    body: dict[str, Any] = {}
    for i in range(max_frames):
        clock.advance(0.1)
        response = applicant.client.post(
            applicant.base + "/liveness/frames", data=frames[i % len(frames)],
            content_type="image/jpeg",
            headers=applicant.headers(**{"X-Client-Timestamp":
                                         str(int(clock().timestamp() * 1000))}))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        if body["finished"]:
            return body
        if after_frame is not None:
            after_frame(i)
    raise AssertionError(f"session did not finish in {max_frames} frames: {body}")


def ready_applicant(client: FlaskClient, app: Flask) -> ApiApplicant:
    """An applicant that has started and submitted the identity form."""
    applicant = start_applicant(client, app)
    assert applicant.submit_identity().status_code == 200
    return applicant


def start_applicant(client: FlaskClient, app: Flask) -> ApiApplicant:
    """POST /applications with consent."""
    response = client.post("/api/v1/applications", json={"consent": True})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    return ApiApplicant(client=client, app=app, application_id=body["id"],
                        token=body["access_token"])


class Phone:
    """An emulated phone of a profile, created in the app's device dir like the panel does."""

    def __init__(self, app: Flask, profile: str = "genuine") -> None:
        keys = IssuerKeys.load_or_create(Path(app.config["CARDSIM_KEY_FILE"]))
        self.store = DeviceStore(Path(app.config["CARDSIM_DEVICE_DIR"]))
        self.device_id = self.store.create(profile, issuer_public_key=bytes(keys.verify_key))
        self.store.manufacturer.export(self.store.directory)  # as the phone panel does
        self.device = self.store.open(self.device_id)

    def chains(self, challenge: bytes) -> dict[str, list[str]]:
        keys = wallet.bind(self.device, challenge=challenge)
        return {name: [b64(der) for der in key["chain"]]  # type: ignore[attr-defined]
                for name, key in keys.items()}


def bind_phone(applicant: ApiApplicant, phone: Phone) -> TestResponse:
    challenge = unb64(applicant.post("/device-binding/challenge").get_json()["challenge"])
    return applicant.post("/device-binding", {"challenge": b64(challenge),
                                              "chains": phone.chains(challenge)})


def sign_agreement(applicant: ApiApplicant, phone: Phone) -> TestResponse:
    offer = applicant.get("/agreement").get_json()
    signed = wallet.confirm(phone.device, prompt=offer["prompt"], nonce=unb64(offer["nonce"]))
    return applicant.post("/agreement", {"message": b64(signed.message),
                                         "signature": b64(signed.signature)})


def provisioning_result_record(applicant: ApiApplicant, phone: Phone) -> bytes:
    """Open the channel, carry the issuer's PROVISION record to the phone, return its answer."""
    hello = unb64(applicant.post("/card/provisioning").get_json()["hello"])
    wallet.open_channel(phone.device, hello=hello)
    se_challenge = wallet.se_challenge(phone.device)
    record = unb64(applicant.post("/card/provisioning/payload",
                                  {"se_challenge": b64(se_challenge)}).get_json()["record"])
    delivered = wallet.receive_provisioning(phone.device, record=record)
    answer = delivered["response"]
    assert isinstance(answer, bytes)
    return answer


def provision(applicant: ApiApplicant, phone: Phone) -> TestResponse:
    """Put the issued card into the phone's secure element."""
    return applicant.post("/card/provisioning/result",
                          {"record": b64(provisioning_result_record(applicant, phone))})


def issue_card_after_liveness(applicant: ApiApplicant, app: Flask) -> Phone:
    """Interview, a new bound phone, the signed agreement, approval and an issued card."""
    assert applicant.answer_interview().status_code == 200
    phone = Phone(app)
    assert bind_phone(applicant, phone).status_code == 200
    assert sign_agreement(applicant, phone).status_code == 200
    assert applicant.post("/decision").get_json()["outcome"] == "approved"
    assert applicant.post("/card", None, **{"Idempotency-Key": "k-1"}).status_code == 201
    return phone
