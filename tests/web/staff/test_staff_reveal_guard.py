"""The staff PAN reveal: the re-entered password counts against the account lockout, and the
reveal page is never cached, never framed and keeps the PAN out of its URL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from issuer.models import AuditEntry
from issuer.staff_accounts import MAX_FAILED_LOGINS
from tests.web.staff.conftest import PASSWORD, Console, csrf_token

pytestmark = pytest.mark.integration
_PAN = re.compile(r'data-testid="revealed-pan">(\d{16,19})<')


def test_wrong_reveal_passwords_lock_the_account_like_wrong_logins(console: Console) -> None:
    _, card_id = console.card_case()
    console.login("supervisor")
    path = f"/staff/cards/{card_id}/reveal"
    for _ in range(MAX_FAILED_LOGINS):
        wrong = console.post("supervisor", path, {"password": "a guess at the password"})
        assert wrong.status_code == 403
    # Before, the re-entry had no limit: guess after guess, then the right one showed the PAN.
    locked = console.post("supervisor", path, {"password": PASSWORD})
    page = locked.get_data(as_text=True)
    assert locked.status_code == 403 and "locked" in page and _PAN.search(page) is None
    with console.factory() as s:
        refused = s.scalars(select(AuditEntry.details).where(
            AuditEntry.action == "card.pan_reveal_refused").order_by(AuditEntry.seq)).all()
    assert len(refused) == MAX_FAILED_LOGINS + 1
    assert "locked_until" in refused[MAX_FAILED_LOGINS - 1]
    assert refused[-1]["why"] == "account locked"
    # The lockout is the login's: the same password does not open a new session either.
    client = console.app.test_client()
    login = client.post("/staff/login", data={"username": "supervisor", "password": PASSWORD,
                                              "csrf_token": csrf_token(client)})
    assert login.status_code != 303


def test_a_right_password_resets_the_count(console: Console) -> None:
    _, card_id = console.card_case()
    console.login("supervisor")
    path = f"/staff/cards/{card_id}/reveal"
    for _ in range(2):
        for _ in range(MAX_FAILED_LOGINS - 1):
            assert console.post("supervisor", path, {"password": "nope"}).status_code == 403
        shown = console.post("supervisor", path, {"password": PASSWORD})
        assert shown.status_code == 200 and _PAN.search(shown.get_data(as_text=True))


def test_reveal_page_is_not_cached_not_framed_and_keeps_the_pan_out_of_urls(
    console: Console,
) -> None:
    _, card_id = console.card_case()
    console.login("supervisor")
    form = console.get("supervisor", f"/staff/cards/{card_id}/reveal")
    assert 'method="post"' in form.get_data(as_text=True)
    shown = console.post("supervisor", f"/staff/cards/{card_id}/reveal", {"password": PASSWORD})
    html = shown.get_data(as_text=True)
    match = _PAN.search(html)
    assert match is not None
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in shown.headers["Content-Security-Policy"]
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    hrefs = re.findall(r'(?:href|action|src)="([^"]*)"', html)
    assert hrefs and not any(match.group(1) in h for h in hrefs)
