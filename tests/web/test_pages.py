"""Applicant pages: consent, stepper, resume, expiry, CSRF, escaping, security headers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.api_driver import IDENTITY
from tests.web.conftest import SteppingClock

pytestmark = pytest.mark.integration



class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, on* handlers, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower() for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{tag} {name}=" for name in names
                       if name.startswith("on") or name == "style"]


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def start(client: FlaskClient) -> str:
    page = client.get("/").get_data(as_text=True)
    response = client.post("/start", data={"consent": "yes", "csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/identity")
    return client.get("/application/identity").get_data(as_text=True)


def submit_identity(client: FlaskClient, page: str, **changes: str) -> object:
    form = {**IDENTITY, **changes, "csrf_token": csrf_token(page)}
    return client.post("/application/identity", data=form)


def assert_no_inline_code(html: str) -> None:
    finder = InlineCodeFinder()
    finder.feed(html)
    assert finder.found == []


def test_consent_is_required_and_the_stepper_is_shown(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="stepper"' in page and "consent" in page
    refused = client.post("/start", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 422
    assert "Please agree to the processing" in refused.get_data(as_text=True)
    identity = start(client)
    assert 'aria-current="step"' in identity and ">Identity<" in identity


def test_forms_without_csrf_token_are_refused(client: FlaskClient) -> None:
    refused = client.post("/start", data={"consent": "yes"})
    assert refused.status_code == 400 and "expired" in refused.get_data(as_text=True)
    page = start(client)
    assert submit_identity(client, page).status_code == 302  # type: ignore[attr-defined]
    no_header = client.post("/application/liveness/session", json={})
    assert no_header.status_code == 400
    assert no_header.get_json()["error"]["code"] == "csrf_failed"
    frame = client.post("/application/liveness/frame", data=b"\xff\xd8\xff",
                        content_type="image/jpeg")
    assert frame.status_code == 400 and frame.get_json()["error"]["code"] == "csrf_failed"
    with_header = client.post("/application/liveness/session", json={},
                              headers={"X-CSRFToken": csrf_token(page)})
    assert with_header.status_code == 200, with_header.get_json()
    assert with_header.get_json()["liveness"]["challenges_total"] == 3


def test_identity_errors_are_shown_per_field_and_escaped(client: FlaskClient) -> None:
    page = start(client)
    attack = "<img src=x onerror=alert(1)>"
    response = submit_identity(client, page, full_name=attack, id_number="110105199003071238",
                               mobile="999")
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert attack not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    errors = dict(re.findall(r'data-field="([a-z_]+)">([^<]+)<', html))
    assert set(errors) == {"full_name", "id_number", "mobile"}
    assert_no_inline_code(html)


def test_every_step_resumes_after_reload_and_the_cookie_holds_no_personal_data(
    client: FlaskClient,
) -> None:
    page = start(client)
    submit_identity(client, page)
    assert client.get("/application").headers["Location"].endswith("/application/liveness")
    assert client.get("/application/identity").headers["Location"].endswith("/liveness")
    assert client.get("/application/card").headers["Location"].endswith("/liveness")
    liveness = client.get("/application/liveness").get_data(as_text=True)
    assert "Attempts left: <strong id=\"attempts-left\">3</strong>" in liveness
    assert_no_inline_code(liveness)
    cookie = client.get_cookie("cardsim_applicant")
    assert cookie is not None and cookie.http_only
    assert IDENTITY["id_number"] not in cookie.value and "13812345678" not in cookie.value


def test_an_application_expires(make_app: object, clock: SteppingClock) -> None:
    app: Flask = make_app(CARDSIM_APPLICATION_TTL_HOURS=1.0)  # type: ignore[operator]
    with app.test_client() as client:
        start(client)
        clock.advance(3601)
        expired = client.get("/application", follow_redirects=True).get_data(as_text=True)
        assert 'data-outcome="expired"' in expired and "has expired" in expired
        refused = client.post("/application/identity", data={
            **IDENTITY, "csrf_token": csrf_token(expired)})
        assert refused.status_code == 302  # back to the decision page, nothing stored
        assert client.get("/application").headers["Location"].endswith("/decision")


def test_security_headers_on_every_kind_of_response(client: FlaskClient) -> None:
    for url in ("/", "/api/v1/openapi.json", "/static/applicant/app.css", "/nope",
                "/api/v1/nope", "/device/phones/nope"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"


def test_no_template_has_inline_script_or_style(app: Flask) -> None:
    from pathlib import Path

    root = Path(app.root_path) / "templates"
    for template in [*root.glob("*.html"), *(root / "applicant").glob("*.html"),
                     *(root / "errors").glob("*.html")]:
        assert_no_inline_code(template.read_text())


def test_errors_are_friendly_pages_for_browsers(client: FlaskClient) -> None:
    response = client.get("/application/identity/nothing", headers={"Accept": "text/html"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and 'data-testid="error-page"' in html
    assert "Traceback" not in html
