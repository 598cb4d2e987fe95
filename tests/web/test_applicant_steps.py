"""Step pages in the browser flow: consistent wording, accessible markup, the card's status."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.cards import card_for_application, freeze_card
from tee_sim import wallet
from tests.web.api_driver import (
    HONEST_ANSWERS,
    ApiApplicant,
    issue_card_after_liveness,
    provision,
    ready_applicant,
)
from tests.web.test_decision_pages import open_in_browser
from tests.web.test_pages import csrf_token, start, submit_identity
from web.database import app_database

pytestmark = pytest.mark.integration

STATIC = Path(__file__).resolve().parents[2] / "web" / "static" / "applicant"
TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates" / "applicant"


class Described(HTMLParser):
    """Every element's id, and what each input's aria-describedby names."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("id"):
            self.ids.add(str(named["id"]))
        if tag == "input" and named.get("type") != "hidden":
            key = str(named.get("id") or f"{named.get('name')}={named.get('value')}")
            self.inputs[key] = named

    def described_by(self, key: str) -> list[str]:
        names = (self.inputs[key].get("aria-describedby") or "").split()
        assert all(name in self.ids for name in names), (key, names)
        return names


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


def test_help_and_errors_describe_their_inputs(client: FlaskClient) -> None:
    html = start(client)
    page = Described(html)
    assert page.described_by("id_number") == ["id_number-help"]
    assert page.described_by("mobile") == ["mobile-help"]
    assert page.described_by("full_name") == []
    response = submit_identity(client, html, mobile="12345", full_name="")
    errors = Described(response.get_data(as_text=True))  # type: ignore[attr-defined]
    assert errors.described_by("mobile") == ["mobile-help", "mobile-error"]
    assert errors.described_by("full_name") == ["full_name-error"]
    assert errors.inputs["mobile"]["aria-invalid"] == "true"
    assert "aria-invalid" not in errors.inputs["employer"]


def test_interview_errors_mark_and_describe_the_answers(client: FlaskClient, app: Flask) -> None:
    interviewing(client, app)
    page = client.get("/application/interview").get_data(as_text=True)
    token = re.search(r'name="interview_token" value="([^"]+)"', page)
    assert token
    html = client.post("/application/interview", data={
        "csrf_token": csrf_token(page), "interview_token": token.group(1),
        "answer_voluntary": "yes"}).get_data(as_text=True)
    form = Described(html)
    assert form.inputs["answer_employer"]["aria-invalid"] == "true"
    assert form.described_by("answer_employer") == ["employer-error"]
    assert form.inputs["answer_confirm_name=yes"]["aria-invalid"] == "true"
    assert form.described_by("answer_confirm_name=no") == ["confirm_name-error"]
    assert "aria-invalid" not in form.inputs["answer_voluntary=yes"]


def test_an_interview_page_left_open_too_long_shows_the_questions_again(
        client: FlaskClient, app: Flask) -> None:
    applicant = interviewing(client, app)
    page = client.get("/application/interview").get_data(as_text=True)
    token = re.search(r'name="interview_token" value="([^"]+)"', page)
    assert token
    app.config["CARDSIM_CLOCK"].advance(31 * 60)
    answers = {f"answer_{q}": v for q, v in HONEST_ANSWERS.items()}
    response = client.post("/application/interview", data={
        "csrf_token": csrf_token(page), "interview_token": token.group(1), **answers})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "open for more than 30 minutes, so your answers were not saved" in html
    fresh = re.search(r'name="interview_token" value="([^"]+)"', html)
    assert fresh and fresh.group(1) != token.group(1)  # the form can be answered again
    assert applicant.state() == "liveness_passed"


def test_done_steps_say_so_to_screen_readers(client: FlaskClient) -> None:
    page = start(client)
    steps = re.findall(r'<li class="step step-(\w+)"[^>]*>(.*?)</li>', page, re.DOTALL)
    assert [status for status, _ in steps][:3] == ["done", "current", "todo"]
    for status, body in steps:
        hidden = '<span class="visually-hidden"> (completed)</span>' in body
        assert hidden == (status == "done")
    assert ".visually-hidden {" in (STATIC / "app.css").read_text()


def test_the_phone_side_button_is_at_least_24_css_pixels_wide() -> None:
    css = (STATIC / "app.css").read_text()
    rule = re.search(r"\.phone-side-button \{([^}]*)\}", css)
    assert rule
    width = re.search(r"(?<![-\w])width: ([^;]+);", rule.group(1))
    height = re.search(r"(?<![-\w])height: ([^;]+);", rule.group(1))
    assert width and height
    assert width.group(1) == "max(1.6rem, 24px)"  # never under 24 px, whatever the root size
    assert height.group(1) == "6rem"


def test_a_card_frozen_by_the_bank_says_so_and_whom_to_ask(client: FlaskClient,
                                                           app: Flask) -> None:
    applicant = interviewing(client, app)
    phone = issue_card_after_liveness(applicant, app)
    assert provision(applicant, phone).status_code == 200
    wallet.set_pin(phone.device, pin="2468")
    assert applicant.post("/card/activate").get_json()["status"] == "active"
    active = client.get("/application/card").get_data(as_text=True)
    assert 'data-status="active"' in active and 'data-testid="card-frozen"' not in active
    with app_database(app).sessions() as session, session.begin():
        card = card_for_application(session, application_id=applicant.application_id)
        assert card is not None
        freeze_card(session, card_id=card.id, actor="staff:rita", reason="[suspected_fraud]",
                    now=datetime.now(UTC))
    frozen = client.get("/application/card").get_data(as_text=True)
    assert 'data-status="frozen"' in frozen and 'data-testid="card-frozen"' in frozen
    assert "Your bank has frozen this card" in frozen and "customer service" in frozen


def test_there_is_a_favicon(client: FlaskClient) -> None:
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert ico.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get("/").get_data(as_text=True)
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert icons == ["/static/favicon.svg", "/favicon.ico"]
    svg = client.get(icons[0])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
