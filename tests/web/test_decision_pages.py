"""The decision page: manual review, coming back later to a staff decision, and the card."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.decisions import record_staff_decision
from issuer.staff_accounts import create_staff
from tests.web.api_driver import (
    ApiApplicant,
    Phone,
    bind_phone,
    ready_applicant,
    sign_agreement,
)
from tests.web.test_pages import csrf_token, start, submit_identity
from web.database import app_database

pytestmark = pytest.mark.integration


def signed_applicant(client: FlaskClient, app: Flask, **answers: str) -> ApiApplicant:
    applicant = ready_applicant(client, app)
    applicant.pass_liveness()
    assert applicant.answer_interview(think_ms=2500, **answers).status_code == 200
    phone = Phone(app)
    assert bind_phone(applicant, phone).status_code == 200
    assert sign_agreement(applicant, phone).status_code == 200
    return applicant


def open_in_browser(client: FlaskClient, applicant: ApiApplicant) -> None:
    """The same application in the browser session (id + token, as after /start)."""
    with client.session_transaction() as session:
        session["application_id"] = applicant.application_id
        session["access_token"] = applicant.token


def decide_in_browser(client: FlaskClient, applicant: ApiApplicant) -> str:
    """Open the signed application: the page decides nothing until its button is pressed."""
    open_in_browser(client, applicant)
    page = client.get("/application", follow_redirects=True).get_data(as_text=True)
    assert 'data-outcome="pending"' in page and "See my decision" in page
    assert applicant.state() == "agreement_signed"  # a GET (or a prefetch) decided nothing
    decided = client.post("/application/decision", data={"csrf_token": csrf_token(page)})
    assert decided.status_code == 303 and decided.headers["Location"].endswith("/decision")
    assert applicant.state() != "agreement_signed"
    return client.get("/application/decision").get_data(as_text=True)


def test_deciding_needs_the_pages_csrf_token(client: FlaskClient, app: Flask) -> None:
    applicant = signed_applicant(client, app)
    open_in_browser(client, applicant)
    assert client.post("/application/decision").status_code == 400
    assert applicant.state() == "agreement_signed"


def test_manual_review_page_then_the_staff_decision_when_coming_back(
    client: FlaskClient, app: Flask
) -> None:
    applicant = signed_applicant(client, app, voluntary="no")
    page = decide_in_browser(client, applicant)
    assert 'data-outcome="manual_review"' in page and "review your application" in page
    assert "Get my card" not in page
    now = datetime.now(UTC)
    with app_database(app).sessions() as session, session.begin():
        staff = create_staff(session, username="rita", password="a long staff password",
                             role="supervisor", now=now)
        record_staff_decision(session, application_id=applicant.application_id,
                              staff_user_id=staff.id, outcome="approved",
                              note="called the applicant: voluntary after all", now=now)
    later = client.get("/application", follow_redirects=True).get_data(as_text=True)
    assert 'data-outcome="approved"' in later and "Get my card" in later


def test_declined_page_is_clear_and_final(client: FlaskClient, app: Flask) -> None:
    applicant = signed_applicant(client, app, paid_or_asked="yes")
    page = decide_in_browser(client, applicant)
    assert 'data-outcome="declined"' in page and "cannot offer you a card" in page
    assert "interview_paid_to_apply" not in page  # internal reason codes stay internal
    assert "Your answers to our questions did not allow us to offer you a card." in page
    assert applicant.application_id in page  # the reference to quote to customer service
    assert "step-skipped" not in page  # declined after every step was done
    assert client.get("/application/card").headers["Location"].endswith("/decision")


def test_income_below_the_minimum_is_declined_right_after_the_identity_form(
        client: FlaskClient) -> None:
    submit_identity(client, start(client), annual_income="20000")
    page = client.get("/application", follow_redirects=True).get_data(as_text=True)
    assert 'data-outcome="declined"' in page
    assert "below the minimum of CNY 24,000" in page
    assert "Close this application" in page
    # The stepper does not claim the steps the applicant never reached were completed.
    assert re.findall(r'class="step step-(\w+)"', page) == [
        "done", "done", "skipped", "skipped", "skipped", "skipped", "current", "todo"]
    assert page.count("(not reached)") == 4
    # No camera check is asked of an applicant who is already declined.
    assert client.get("/application/liveness").headers["Location"].endswith("/decision")
    closed = client.post("/application/leave", data={"csrf_token": csrf_token(page)})
    assert closed.status_code == 302 and closed.headers["Location"].endswith("/")
    assert "Start my application" in client.get("/").get_data(as_text=True)
