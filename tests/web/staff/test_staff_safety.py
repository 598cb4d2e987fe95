"""Console safety: CSRF, escaping of applicant text, lockout, cookies, headers, no PAN leaks,
tamper detection in the audit view."""

from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import select, update

from issuer.models import Applicant, Application, AuditEntry, Card
from issuer.review_models import CaseAssignment
from issuer.states import ApplicationState
from tests.web.staff.conftest import PASSWORD, Console, csrf_token

pytestmark = pytest.mark.integration
XSS = "<img src=x onerror=alert(1)>"


def test_actions_without_or_with_a_wrong_csrf_token_are_refused(console: Console) -> None:
    case = console.manual_review_case()
    client = console.login("supervisor")
    for form in ({}, {"csrf_token": "forged"}):
        response = client.post(f"/staff/cases/{case}/take", data=form)
        assert response.status_code == 400
        assert "CSRF" in response.get_data(as_text=True)
    api = client.post(f"/staff/cases/{case}/take", headers={"Accept": "application/json"})
    assert api.status_code == 400 and api.get_json()["error"]["code"] == "csrf_failed"
    with console.factory() as s:
        assert s.get(CaseAssignment, case) is None
    # A token from another browser session is not accepted either.
    other = console.app.test_client()
    foreign = csrf_token(other)
    assert client.post(f"/staff/cases/{case}/take",
                       data={"csrf_token": foreign}).status_code == 400
    assert console.post("supervisor", f"/staff/cases/{case}/take").status_code == 303


def test_login_form_needs_csrf(console: Console) -> None:
    client = console.app.test_client()
    response = client.post("/staff/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert "cardsim_staff" not in response.headers.get("Set-Cookie", "")


def test_applicant_text_is_escaped_on_every_page(console: Console) -> None:
    flow = console.flow(flags=("interview_not_voluntary",))
    flow.identity = {**flow.identity, "employer": XSS}
    flow.to(ApplicationState.AGREEMENT_SIGNED).decide()
    with console.factory.begin() as s:  # as if an older validator had let it through
        application = s.get(Application, flow.application_id)
        assert application is not None and application.applicant_id is not None
        s.execute(update(Applicant).where(Applicant.id == application.applicant_id)
                  .values(full_name=XSS))
    console.login("supervisor")
    pages = [
        console.get("supervisor", "/staff/"),
        console.get("supervisor", f"/staff/cases/{flow.application_id}"),
        console.get("supervisor", f"/staff/cases/{flow.application_id}/export.html"),
        console.get("supervisor", f"/staff/?q={XSS}"),
    ]
    console.login("auditor")
    pages.append(console.get("auditor", "/staff/audit"))
    for page in pages:
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<img src=x" not in html
    case_html = pages[1].get_data(as_text=True)
    assert case_html.count("&lt;img src=x onerror=alert(1)&gt;") >= 2  # name and employer
    bundle = console.get("supervisor", f"/staff/cases/{flow.application_id}/export.json")
    assert bundle.get_json()["identity"]["full_name"] == XSS  # data, not markup


def test_console_pages_carry_a_strict_csp_and_no_inline_script(console: Console) -> None:
    case = console.manual_review_case()
    console.login("supervisor")
    for path in ("/staff/login", "/staff/", f"/staff/cases/{case}"):
        response = console.get("supervisor", path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path


def test_session_cookie_flags_and_logout_is_server_side(console: Console) -> None:
    client = console.app.test_client()
    token = csrf_token(client)
    response = client.post("/staff/login", data={
        "username": "reviewer", "password": PASSWORD, "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("cardsim_staff=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/staff" in cookie
    stolen = cookie.split(";")[0].split("=", 1)[1]
    assert client.get("/staff/").status_code == 200
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    replay = console.app.test_client()
    replay.set_cookie("cardsim_staff", stolen, path="/staff")
    assert replay.get("/staff/").status_code == 303  # to the login page


def test_login_lockout_after_repeated_failures(console: Console) -> None:
    client = console.app.test_client()
    token = csrf_token(client)
    for _ in range(5):
        wrong = client.post("/staff/login", data={
            "username": "reviewer", "password": "not the password", "csrf_token": token})
        assert wrong.status_code == 401
        assert "Unknown username or wrong password" in wrong.get_data(as_text=True)
    locked = client.post("/staff/login", data={
        "username": "reviewer", "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 429
    assert "try again later" in locked.get_data(as_text=True)
    assert "cardsim_staff" not in locked.headers.get("Set-Cookie", "")
    console.clock.advance(16 * 60)
    ok = client.post("/staff/login", data={
        "username": "reviewer", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 303


def test_login_throttle_counts_an_ipv6_client_by_its_64(console: Console) -> None:
    client = console.app.test_client()
    token = csrf_token(client)

    def login(username: str, password: str, address: str) -> int:
        return client.post("/staff/login", environ_base={"REMOTE_ADDR": address}, data={
            "username": username, "password": password, "csrf_token": token}).status_code

    # 20 guesses at 20 usernames from 20 addresses of one /64: the per-address throttle trips.
    guesses = [login(f"guess{i}", "wrong", f"2001:db8:9:1::{i + 1:x}") for i in range(20)]
    assert guesses == [401] * 20
    assert login("reviewer", PASSWORD, "2001:db8:9:1::ffff") == 429
    assert login("reviewer", PASSWORD, "2001:db8:9:2::1") == 303  # another /64 is not locked


def test_idle_session_expires(console: Console) -> None:
    console.login("auditor")
    assert console.get("auditor", "/staff/audit").status_code == 200
    console.clock.advance(31 * 60)
    expired = console.get("auditor", "/staff/audit", Accept="application/json")
    assert expired.status_code == 401


def test_tampered_audit_entry_is_reported_with_its_number(console: Console) -> None:
    console.manual_review_case()
    console.login("auditor")
    page = console.post("auditor", "/staff/audit/verify")
    assert "Chain intact" in page.get_data(as_text=True)
    with console.factory.begin() as s:
        victim = s.scalar(select(AuditEntry).where(AuditEntry.seq == 3))
        assert victim is not None
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3)
                  .values(details={**victim.details, "edited": True}))
    page = console.post("auditor", "/staff/audit/verify")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Chain broken at entry 3" in html
    assert "altered" in html


def test_pan_appears_only_in_the_audited_reveal(
    console: Console, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    application_id, card_id = console.card_case()
    console.login("supervisor")
    wrong = console.post("supervisor", f"/staff/cards/{card_id}/reveal",
                         {"password": "not my password"})
    assert wrong.status_code == 403
    shown = console.post("supervisor", f"/staff/cards/{card_id}/reveal",
                         {"password": PASSWORD})
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    pan = re.search(r'data-testid="revealed-pan">(\d{16,19})<', shown.get_data(as_text=True))
    assert pan is not None
    number = pan.group(1)
    with console.factory() as s:
        card = s.get(Card, card_id)
        assert card is not None
        assert (number[:6], number[-4:]) == (card.pan_first6, card.pan_last4)
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    actions = [e.action for e in entries]
    assert "card.pan_reveal_refused" in actions and "card.pan_revealed" in actions
    assert number not in json.dumps([[e.details, e.subject, e.actor] for e in entries])
    console.login("auditor")
    elsewhere = [
        console.get("supervisor", f"/staff/cases/{application_id}"),
        console.get("supervisor", f"/staff/cases/{application_id}/export.json"),
        console.get("supervisor", f"/staff/cases/{application_id}/export.html"),
        console.get("supervisor", "/staff/"),
        console.get("auditor", "/staff/audit"),
    ]
    for response in elsewhere:
        assert response.status_code == 200
        assert number not in response.get_data(as_text=True)
    assert number not in caplog.text
    assert not any(number in str(record.args) for record in caplog.records)
