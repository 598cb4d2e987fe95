"""Applicant forms: every field error in one round, on the page and through the JSON API."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.api_driver import start_applicant
from tests.web.test_pages import start, submit_identity

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
