"""Applicant forms: every field error in one round (page and JSON API); starting again and
cancelling are explicit choices."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer.models import Application, ApplicationEvent
from issuer.states import ApplicationState
from tests.web.api_driver import start_applicant
from tests.web.test_pages import csrf_token, start, submit_identity
from web.database import app_database

pytestmark = pytest.mark.integration

BAD_IDENTITY = {"id_number": "110105199003071238", "mobile": "12345", "annual_income": "-5",
                "employer": ""}


def test_the_identity_page_reports_missing_and_invalid_fields_together(
    client: FlaskClient,
) -> None:
    page = start(client)
    response = submit_identity(client, page, **BAD_IDENTITY)
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 422  # type: ignore[attr-defined]
    errors = dict(re.findall(r'data-field="([a-z_]+)">([^<]+)<', html))
    assert set(errors) == {"id_number", "mobile", "annual_income", "employer"}
    assert "check character" in errors["id_number"]
    assert errors["employer"] == "This field is required."
    assert client.get("/application").headers["Location"].endswith("/identity")


def test_the_api_reports_missing_and_invalid_fields_together(
    client: FlaskClient, app: Flask,
) -> None:
    applicant = start_applicant(client, app)
    response = applicant.submit_identity(**BAD_IDENTITY, full_name=None)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"full_name", "id_number", "mobile", "annual_income", "employer"}
    assert fields["full_name"] == "This field is required."
    assert "mobile" in fields["mobile"].lower()
    assert applicant.state() == "started"


def test_starting_again_is_an_explicit_choice_while_an_application_is_in_progress(
    client: FlaskClient,
) -> None:
    start(client)
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="resume"' in home and "Cancel my application and start again" in home
    assert 'id="start-button"' not in home  # no way to replace the application by accident
    # A stale tab's Start form does not silently replace the application either.
    for form in ({"consent": "yes"}, {}):
        again = client.post("/start", data={**form, "csrf_token": csrf_token(home)})
        html = again.get_data(as_text=True)
        assert again.status_code == 409 and "already holds an application" in html
        assert 'data-testid="resume"' in html
    assert client.get("/application").headers["Location"].endswith("/identity")
    assert client.post("/application/leave", data={}).status_code == 400  # CSRF
    left = client.post("/application/leave", data={"csrf_token": csrf_token(home)})
    assert left.status_code == 302 and left.headers["Location"].endswith("/")
    fresh = client.get("/").get_data(as_text=True)
    assert "Your application is cancelled" in fresh and 'id="start-button"' in fresh
    assert 'data-testid="resume"' not in fresh
    assert client.get("/application").headers["Location"].endswith("/")


def test_the_flow_pages_offer_to_cancel_until_the_decision(client: FlaskClient) -> None:
    identity = start(client)
    assert 'id="cancel-application"' in identity
    leave_form = re.search(r'<form method="post" action="/application/leave">\s*'
                           r'<input type="hidden" name="csrf_token" value="[^"]+">', identity)
    assert leave_form, "the cancel control posts to applicant.leave with a CSRF token"
    submit_identity(client, identity, annual_income="20000")  # declined straight away
    decision = client.get("/application", follow_redirects=True).get_data(as_text=True)
    assert 'data-outcome="declined"' in decision and 'id="cancel-application"' not in decision


def test_the_consent_error_is_tied_to_its_checkbox(client: FlaskClient) -> None:
    home = client.get("/").get_data(as_text=True)
    refused = client.post("/start", data={"csrf_token": csrf_token(home)})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'aria-describedby="consent-error"' in html
    assert 'data-testid="resume"' not in html  # this browser holds no application


def test_cancelling_withdraws_the_application_at_the_bank(client: FlaskClient,
                                                           app: Flask) -> None:
    identity = start(client)
    with client.session_transaction() as session:
        application_id = session["application_id"]
    client.post("/application/leave", data={"csrf_token": csrf_token(identity)})
    with app_database(app).sessions() as s:
        application = s.get(Application, application_id)
        assert application is not None and application.state == ApplicationState.ABANDONED
        kinds = s.scalars(select(ApplicationEvent.kind).where(
            ApplicationEvent.application_id == application_id)).all()
        assert kinds[-1] == "abandoned"
