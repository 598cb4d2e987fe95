"""The JSON API end to end (liveness recorded through the issuer), with a real tee_sim phone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.cards import card_for_application
from issuer.models import ProvisioningSession
from tee_sim import wallet
from tests.web.api_driver import (
    ApiApplicant,
    Phone,
    b64,
    bind_phone,
    issue_card_after_liveness,
    provision,
    provisioning_result_record,
    sign_agreement,
    start_applicant,
    unb64,
)
from web.database import app_database

pytestmark = pytest.mark.integration


def test_api_walks_an_applicant_to_an_activated_card(client: FlaskClient, app: Flask) -> None:
    applicant = start_applicant(client, app)
    assert applicant.state() == "started"
    assert applicant.submit_identity().status_code == 200
    applicant.pass_liveness()
    assert applicant.state() == "liveness_passed"
    response = applicant.answer_interview()
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "interview_done"
    phone = Phone(app)
    response = bind_phone(applicant, phone)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "device_bound"
    response = sign_agreement(applicant, phone)
    assert response.status_code == 200, response.get_json()
    decision = applicant.post("/decision").get_json()
    assert decision["outcome"] == "approved", decision
    assert decision["credit_limit"] > 0
    issued = applicant.post("/card", None, **{"Idempotency-Key": "k-1"})
    assert issued.status_code == 201, issued.get_json()
    again = applicant.post("/card", None, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.get_json()["id"] == issued.get_json()["id"]
    card = issued.get_json()
    assert card["masked_pan"].startswith("62") and "*" in card["masked_pan"]
    assert provision(applicant, phone).status_code == 200
    assert wallet_card(phone)["personalized"] is True
    wallet_set_pin(phone, "2468")
    activated = applicant.post("/card/activate")
    assert activated.get_json()["status"] == "active"
    wrong = applicant.post("/card/reveal", {"device_id": phone.device_id, "pin": "1111"})
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "pin_rejected"
    shown = applicant.post("/card/reveal", {"device_id": phone.device_id, "pin": "2468"})
    assert shown.status_code == 200, shown.get_json()
    details = shown.get_json()
    assert details["pan"][:6] == card["masked_pan"][:6]
    assert details["pan"][-4:] == card["masked_pan"][-4:]
    assert len(details["cvv2"]) == 3 and details["cvv2"].isdigit()
    assert applicant.state() == "activated"


def wallet_card(phone: Phone) -> dict[str, object]:

    return wallet.card_summary(phone.device)


def wallet_set_pin(phone: Phone, pin: str) -> None:

    wallet.set_pin(phone.device, pin=pin)


def approved_with_card(client: FlaskClient, app: Flask) -> tuple[ApiApplicant, Phone]:
    """An applicant whose card is issued (not yet provisioned), and the bound phone."""
    applicant = start_applicant(client, app)
    assert applicant.submit_identity().status_code == 200
    applicant.pass_liveness()
    return applicant, issue_card_after_liveness(applicant, app)


def test_opening_provisioning_again_after_the_card_is_in_the_phone_is_refused(
    client: FlaskClient, app: Flask
) -> None:
    # A retried "add to phone" must not forget that the secure element holds the card: the
    # SE accepts one personalization only, so forgetting it would block activation for good.
    applicant, phone = approved_with_card(client, app)
    assert provision(applicant, phone).status_code == 200
    again = applicant.post("/card/provisioning")
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["error"]["code"] == "conflict"
    assert applicant.get("/card").get_json()["provisioned"] is True
    wallet_set_pin(phone, "2468")
    activated = applicant.post("/card/activate")
    assert activated.status_code == 200, activated.get_json()
    assert activated.get_json()["status"] == "active"


def test_a_channel_opened_after_the_card_reached_the_phone_does_not_hide_it(
    client: FlaskClient, app: Flask
) -> None:
    # Applications stuck before 2ff7cc8: a retried "add to phone" opened a new channel after
    # the SE was personalized. The card is in the phone whatever was opened after that.
    applicant, phone = approved_with_card(client, app)
    assert provision(applicant, phone).status_code == 200
    with app_database(app).sessions() as session, session.begin():
        card = card_for_application(session, application_id=applicant.application_id)
        assert card is not None
        now = datetime.now(UTC)
        session.add(ProvisioningSession(card_id=card.id, channel_state_ciphertext=b"old",
                                        status="open", result=None, created_at=now,
                                        updated_at=now))
    assert applicant.get("/card").get_json()["provisioned"] is True
    wallet_set_pin(phone, "2468")
    activated = applicant.post("/card/activate")
    assert activated.status_code == 200, activated.get_json()
    assert activated.get_json()["status"] == "active"


def test_a_provisioning_result_sent_again_after_a_lost_answer_gets_the_same_answer(
    client: FlaskClient, app: Flask
) -> None:
    """The phone's PROVISION_RESULT record resent byte for byte (the first answer was lost)
    answers the recorded result again; another record after it stays a 409."""
    applicant, phone = approved_with_card(client, app)
    answer = b64(provisioning_result_record(applicant, phone))
    first = applicant.post("/card/provisioning/result", {"record": answer})
    assert first.status_code == 200, first.get_json()
    again = applicant.post("/card/provisioning/result", {"record": answer})
    assert again.status_code == 200, again.get_json()
    assert again.get_data() == first.get_data()
    other = bytearray(unb64(answer))
    other[-1] ^= 1
    refused = applicant.post("/card/provisioning/result", {"record": b64(bytes(other))})
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "conflict"
    assert applicant.get("/card").get_json()["provisioned"] is True
    wallet_set_pin(phone, "2468")
    assert applicant.post("/card/activate").get_json()["status"] == "active"
