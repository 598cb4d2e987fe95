"""The staff console in a real browser: Debian Chromium driven by Playwright against a real
`cardsim serve`. Cases are produced in the server's database by the real issuer workflow with
real tee_sim phones (tests/issuer/flow.py), then worked entirely through the console pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from issuer.db import make_engine, make_session_factory
from issuer.keys import IssuerKeys
from issuer.models import AuditEntry, Card
from issuer.onboarding import begin_liveness_session, record_liveness_result
from issuer.staff_accounts import create_staff
from issuer.states import ApplicationState
from issuer.vault import open_card_field
from tests.e2e.conftest import BrowserLauncher, LiveServer, Screenshots
from tests.issuer.flow import NOW, Flow, PhoneLab
from tests.issuer.test_review_evidence import recorded_session

pytestmark = [pytest.mark.e2e]
AUDITOR_PASSWORD = "auditor password 1"


@dataclass
class Cases:
    manual_review: str
    declined: str
    card_application: str
    factory: sessionmaker[Session]
    pan: str


@pytest.fixture
def cases(live_server: LiveServer, tmp_path: Path) -> Iterator[Cases]:
    """Three cases in the server's own database, and an auditor account."""
    engine = make_engine(f"sqlite:///{live_server.instance / 'cardsim.db'}")
    factory = make_session_factory(engine)
    keys = IssuerKeys.load_or_create(live_server.instance / "issuer-keys.json")
    lab = PhoneLab.create(tmp_path / "phones", keys)

    review = Flow(factory, lab, flags=("interview_not_voluntary",))
    review.to(ApplicationState.IDENTITY_SUBMITTED)
    verdict = recorded_session(passed=True)
    details = verdict.to_dict()
    details.pop("keyframes")
    with factory.begin() as s:
        begin_liveness_session(s, application_id=review.application_id, state={}, now=NOW)
        record_liveness_result(s, application_id=review.application_id, passed=True,
                               score=verdict.score, details=details,
                               keyframes=list(verdict.keyframes), now=NOW)
    review.interview().bind().sign().decide()

    declined = Flow(factory, lab, flags=("interview_paid_to_apply",))
    declined.to(ApplicationState.AGREEMENT_SIGNED).decide()

    carded = Flow(factory, lab).to(ApplicationState.ISSUED)
    assert carded.provision() == 0x9000
    card_id = carded.activate().id
    with factory() as s:
        card = s.get(Card, card_id)
        assert card is not None
        pan = open_card_field(kek=keys.kek, application_id=card.application_id,
                              field="pan", ciphertext=card.pan_ciphertext)
    with factory.begin() as s:
        create_staff(s, username="audrey", password=AUDITOR_PASSWORD, role="auditor",
                     now=datetime.now(UTC))
    yield Cases(review.application_id, declined.application_id, carded.application_id, factory,
                pan)
    engine.dispose()


class Console:
    """One staff member's browser."""

    def __init__(self, launch: BrowserLauncher, server: LiveServer, shots: Screenshots) -> None:
        browser: Any = launch(None)
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.page.on("dialog", lambda dialog: dialog.accept())
        self.problems: list[str] = []
        self.page.on("console", lambda message: self.problems.append(message.text)
                     if message.type == "error" else None)
        self.server = server
        self.shots = shots

    def login(self, username: str, password: str) -> Console:
        self.page.goto(self.server.url + "/staff/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("[data-testid=who]")
        return self

    def open_case(self, application_id: str) -> None:
        self.page.goto(f"{self.server.url}/staff/cases/{application_id}")
        self.page.wait_for_selector("[data-testid=case-state]")

    def state(self) -> str:
        return str(self.page.inner_text("[data-testid=case-state]")).strip()

    def submit(self, form: str, **fields: str) -> None:
        scope = f"[data-testid={form}]"
        for name, value in fields.items():
            selector = f"{scope} [name={name}]"
            if self.page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
                self.page.select_option(selector, value)
            else:
                self.page.fill(selector, value)
        with self.page.expect_navigation():
            self.page.click(f"{scope} button[type=submit]")


def test_staff_work_cases_through_the_console(
    live_server: LiveServer, cases: Cases, launch_browser: BrowserLauncher,
    screenshots: Screenshots,
) -> None:
    reviewer_password = live_server.staff_passwords["reviewer"]
    supervisor_password = live_server.staff_passwords["demo"]
    reviewer = Console(launch_browser, live_server, screenshots).login(
        "reviewer", reviewer_password)
    page = reviewer.page

    # The queue lists manual review first.
    page.goto(live_server.url + "/staff/")
    first = page.get_attribute("[data-testid=queue] tbody tr", "data-application")
    assert first == cases.manual_review
    screenshots.take(page, "queue")

    # The case page shows the evidence; the reviewer takes the case and approves it.
    reviewer.open_case(cases.manual_review)
    assert reviewer.state() == "manual_review"
    assert page.locator("[data-testid=liveness-plots] svg.trace-plot").count() == 4
    assert page.locator("svg.trace-plot g.challenge-window").count() == 12
    assert page.evaluate(
        "Array.from(document.querySelectorAll('.keyframes img')).every(i => i.naturalWidth > 0)")
    assert "Interview: not applying of their own will" in page.inner_text("[data-testid=decisions]")
    assert "*" in page.inner_text("[data-testid=identity]")
    screenshots.take(page, "case")
    takes: list[str] = []
    page.on("request", lambda r: takes.append(r.method) if r.url.endswith("/take") else None)
    with page.expect_navigation():  # an impatient second click while the first is on its way
        page.evaluate("""() => {
            const button = document.querySelector('[data-testid=take-case]');
            button.click();
            setTimeout(() => button.click(), 30);
        }""")
    assert takes == ["POST"], takes  # the form is sent once
    assert page.inner_text("[data-testid=assignee]") == "reviewer"
    reviewer.submit("approve-form", reason="flag_explained",
                    comment="Transcript shows the applicant applied freely.")
    assert reviewer.state() == "approved"
    screenshots.take(page, "approved")

    # An automatic decline: the reviewer proposes an override, and cannot confirm it.
    reviewer.open_case(cases.declined)
    assert reviewer.state() == "declined"
    with page.expect_navigation():
        page.click("[data-testid=take-case]")
    reviewer.submit("override-form", reason="false_positive",
                    comment="The applicant misread the question.")
    assert page.locator("[data-testid=pending-override]").count() == 1
    assert page.locator("[data-testid=confirm-override-form]").count() == 0
    screenshots.take(page, "override-proposed")

    # A supervisor (the second pair of eyes) sees it read-only but can confirm the override.
    supervisor = Console(launch_browser, live_server, screenshots).login(
        "demo", supervisor_password)
    spage = supervisor.page
    supervisor.open_case(cases.declined)
    assert "reviewer holds this case" in spage.inner_text("[data-testid=read-only]")
    supervisor.submit("confirm-override-form", comment="Agreed after reading the transcript.")
    assert supervisor.state() == "approved"
    assert "Approved by a four-eyes override" in spage.inner_text("[data-testid=decisions]")
    screenshots.take(spage, "override-confirmed")

    # A full PAN typed into the search is masked in the browser before it is sent.
    spage.goto(live_server.url + "/staff/")
    spage.fill("[data-testid=queue-filters] input[name=q]", cases.pan)
    with spage.expect_navigation():
        spage.click("[data-testid=queue-filters] button[type=submit]")
    assert cases.pan not in spage.url and cases.pan[-4:] in spage.url
    assert spage.get_attribute("[data-testid=queue] tbody tr", "data-application") == (
        cases.card_application)
    assert cases.pan not in spage.content()

    # The supervisor freezes an active card.
    supervisor.open_case(cases.card_application)
    assert spage.inner_text("[data-testid=card-status]") == "active"
    masked = spage.inner_text("[data-testid=masked-pan]")
    assert re.fullmatch(r"\d{6}\*{6}\d{4}", masked)
    def reasons_on_offer() -> list[str]:
        return list(spage.eval_on_selector_all(
            "[data-testid=card-form] select[name=reason] option",
            "options => options.filter(o => !o.closest('optgroup').disabled"
            " && !o.closest('optgroup').hidden).map(o => o.textContent)"))

    assert reasons_on_offer() == ["Customer request", "Suspected fraud", "Phone lost or stolen"]
    spage.select_option("[data-testid=card-form] select[name=action]", "close")
    assert reasons_on_offer() == ["Customer request", "Fraud confirmed", "Compliance decision"]
    assert spage.eval_on_selector(  # the selection moved into the chosen action's group
        "[data-testid=card-form] select[name=reason]",
        "s => s.selectedOptions[0].closest('optgroup').dataset.action") == "close"
    supervisor.submit("card-form", action="freeze", reason="suspected_fraud",
                      comment="Unusual pattern reported.")
    assert spage.inner_text("[data-testid=card-status]") == "frozen"
    screenshots.take(spage, "card-frozen")

    # The auditor verifies the chain, which reports a tampered entry by number.
    auditor = Console(launch_browser, live_server, screenshots).login("audrey", AUDITOR_PASSWORD)
    apage = auditor.page
    apage.goto(live_server.url + "/staff/audit?action=review.")
    assert apage.locator("[data-testid=audit-entries] tbody tr").count() >= 3
    with apage.expect_navigation():
        apage.click("[data-testid=verify-chain]")
    assert "Chain intact" in apage.inner_text("[data-testid=chain-result]")
    with cases.factory.begin() as s:
        seq = s.scalar(select(AuditEntry.seq).where(AuditEntry.action == "card.status")
                       .order_by(AuditEntry.seq.desc()))
        original = s.scalar(select(AuditEntry.details).where(AuditEntry.seq == seq))
        assert original is not None
        s.execute(update(AuditEntry).where(AuditEntry.seq == seq)
                  .values(details={**original, "to": "active"}))
    try:
        apage.goto(live_server.url + "/staff/audit")
        with apage.expect_navigation():
            apage.click("[data-testid=verify-chain]")
        result = apage.inner_text("[data-testid=chain-result]")
        assert f"Chain broken at entry {seq}" in result
        screenshots.take(apage, "chain-broken")
    finally:
        with cases.factory.begin() as s:
            s.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(details=original))

    # On a phone-sized screen the pages do not scroll sideways: wide tables scroll in their
    # own box, and the staff bar wraps.
    for console, path in ((supervisor, "/staff/"), (supervisor, f"/staff/cases/{cases.declined}"),
                          (auditor, "/staff/audit")):
        console.page.set_viewport_size({"width": 390, "height": 844})
        console.page.goto(live_server.url + path)
        widths = console.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth,"
            " document.querySelector('.staff-bar').scrollWidth,"
            " document.querySelector('.staff-bar').clientWidth]")
        wide = console.page.evaluate(  # what sticks out, to name it if the check fails
            "() => Array.from(document.querySelectorAll('main *')).filter(e =>"
            " e.getBoundingClientRect().right > window.innerWidth + 1"
            " && !e.closest('.table-wrap')).slice(0, 5).map(e => e.tagName + '.'"
            " + e.className + ' ' + (e.textContent || '').slice(0, 40))")
        assert widths[0] <= widths[1] and widths[2] <= widths[3], (path, widths, wide)
        screenshots.take(console.page, "narrow-" + path.strip("/").replace("/", "-"))

    for console in (reviewer, supervisor, auditor):
        assert not [p for p in console.problems if "Content Security Policy" in p], console.problems
