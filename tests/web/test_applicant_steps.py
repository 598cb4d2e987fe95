"""Step pages in the browser flow: consistent wording and accessible markup."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.api_driver import ApiApplicant, ready_applicant
from tests.web.test_decision_pages import open_in_browser
from tests.web.test_pages import csrf_token

pytestmark = pytest.mark.integration

STATIC = Path(__file__).resolve().parents[2] / "web" / "static" / "applicant"
TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates" / "applicant"


def interviewing(client: FlaskClient, app: Flask) -> ApiApplicant:
    """An applicant past the camera check, open in the browser session."""
    applicant = ready_applicant(client, app)
    applicant.pass_liveness()
    open_in_browser(client, applicant)
    return applicant


def test_the_camera_check_is_called_so_everywhere_the_applicant_reads_it() -> None:
    script = (STATIC / "liveness.js").read_text()
    assert re.findall(r'"[^"\n]*liveness check[^"\n]*"', script, re.IGNORECASE) == []
    page = (TEMPLATES / "liveness.html").read_text()
    assert re.findall(r">[^<]*liveness check[^<]*<", page, re.IGNORECASE) == []
    assert "Retry the camera check" in (TEMPLATES / "liveness.html").read_text()


def test_unanswered_questions_get_a_sentence(client: FlaskClient, app: Flask) -> None:
    interviewing(client, app)
    page = client.get("/application/interview").get_data(as_text=True)
    token = re.search(r'name="interview_token" value="([^"]+)"', page)
    assert token
    response = client.post("/application/interview", data={
        "csrf_token": csrf_token(page), "interview_token": token.group(1)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    errors = re.findall(r'data-field="[a-z_]+">([^<]+)<', html)
    assert errors and set(errors) == {"Please answer this question."}


def test_attempts_left_read_the_same_on_every_step(client: FlaskClient, app: Flask) -> None:
    applicant = interviewing(client, app)
    assert applicant.answer_interview().status_code == 200
    device = client.get("/application/device").get_data(as_text=True)
    assert 'Attempts left: <strong id="binding-attempts">3</strong> of 3.' in device
    liveness = (TEMPLATES / "liveness.html").read_text()
    assert '<strong id="attempts-left">{{ attempts_left }}</strong> of {{ max_attempts }}.' \
        in liveness
