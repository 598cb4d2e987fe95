"""Console features through the Flask test client: queue filters and search, exports,
account management, redo, form validation."""

from __future__ import annotations

import base64
import hashlib
import re
from html import unescape

import pytest
from sqlalchemy import select

from issuer.models import Application, Card, LivenessKeyframe
from issuer.vault import open_card_field
from tests.web.staff.conftest import PASSWORD, Console

pytestmark = pytest.mark.integration


def queue_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-application="([^"]+)"', html)


def test_queue_orders_filters_and_searches(console: Console) -> None:
    _, _ = console.card_case()
    declined = console.declined_case()
    review = console.manual_review_case()
    with console.factory() as s:
        card = s.scalars(select(Card)).one()
    console.login("reviewer")
    queue = console.get("reviewer", "/staff/").get_data(as_text=True)
    everything = queue_ids(queue)
    assert everything[0] == review and len(everything) == 3
    # Reasons in staff's words, the code kept as a tooltip and as the filter's value.
    assert ('<span title="interview_paid_to_apply">Interview: paid or asked to apply</span>'
            in queue)
    assert ('<option value="interview_not_voluntary" >Interview: not applying of their own '
            'will</option>' in queue)

    def ids(query: str) -> list[str]:
        page = console.get("reviewer", "/staff/?" + query)
        assert page.status_code == 200
        return queue_ids(page.get_data(as_text=True))

    assert ids("state=declined") == [declined]
    assert ids("reason=interview_paid_to_apply") == [declined]
    assert ids("reason=interview_not_voluntary") == [review]
    assert ids(f"q={card.pan_first6}******{card.pan_last4}") == [card.application_id]
    assert ids(f"q={card.pan_last4}") == [card.application_id]
    assert ids(f"q={review}") == [review]
    assert ids("q=nothing-like-this") == []
    pan = open_card_field(kek=console.lab.keys.kek, application_id=card.application_id,
                          field="pan", ciphertext=card.pan_ciphertext)
    typed = console.get("reviewer", f"/staff/?q={pan}").get_data(as_text=True)
    assert queue_ids(typed) == [card.application_id] and pan not in typed
    assert ids("from=2025-06-15&to=2025-06-15") != []
    assert ids("from=2030-01-01") == []
    profiles = re.findall(r'<select name="device">.*?</select>',
                          console.get("reviewer", "/staff/").get_data(as_text=True), re.S)
    options = re.findall(r'<option value="([^"]+)"', profiles[0])
    assert options, "the bound phones' profiles are offered as filters"
    assert len(ids(f"device={options[0]}")) == 3
    bad = console.get("reviewer", "/staff/?from=yesterday")
    assert bad.status_code == 422 and "Use a date like" in bad.get_data(as_text=True)
    for query in ("to=9999-12-31", "from=0001-01-01"):  # day arithmetic must not overflow
        far = console.get("reviewer", f"/staff/?{query}")
        assert far.status_code == 422 and "Use a date between" in far.get_data(as_text=True)


def test_export_bundle_is_self_contained_and_audited(console: Console) -> None:
    application_id, card_id = console.card_case()
    console.login("auditor")
    response = console.get("auditor", f"/staff/cases/{application_id}/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = response.get_json()
    assert bundle["format"] == "cardsim-case-export/1"
    assert bundle["exported_by"] == "staff:auditor"
    frames = bundle["liveness"][0]["keyframes"]
    with console.factory() as s:
        stored = s.scalars(select(LivenessKeyframe.image)).all()
        card = s.get(Card, card_id)
        assert card is not None
        pan = open_card_field(kek=console.lab.keys.kek, application_id=card.application_id,
                              field="pan", ciphertext=card.pan_ciphertext)
    assert [base64.b64decode(f["base64"]) for f in frames] == list(stored)
    assert bundle["card"]["masked_pan"] == pan[:6] + "******" + pan[-4:]
    assert pan not in response.get_data(as_text=True)
    actions = [e["action"] for e in bundle["audit"]["entries"]]
    assert "application.transition" in actions and "card.status" in actions
    assert bundle["audit"]["chain"]["ok"] is True
    console.login("admin")
    audit = console.get("admin", "/staff/audit?action=case.exported").get_data(as_text=True)
    assert f"application:{application_id}" in audit
    printable = console.get("auditor", f"/staff/cases/{application_id}/export.html")
    html = printable.get_data(as_text=True)
    assert printable.status_code == 200 and "compliance export" in html
    assert "<form" not in html and "<script" not in html
    assert html.count('src="data:image/') == len(frames)  # images inline: self-contained
    assert card.expiry and f"<td>{card.expiry[2:]}/{card.expiry[:2]}</td>" in html  # MM/YY
    assert 'alt="Liveness keyframe 1' in html
    # A saved copy keeps its look and its lock-down: the stylesheet is inline, admitted by its
    # hash in both the header and a <meta> policy; nothing is fetched from /static/.
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None and "/static/" not in html and "<link" not in html
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    header = printable.headers["Content-Security-Policy"]
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert meta is not None
    for policy in (header, unescape(meta.group(1))):
        assert f"style-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
        assert "script-src" not in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in header


def test_admin_creates_and_deactivates_accounts(console: Console) -> None:
    console.login("admin")
    short = console.post("admin", "/staff/accounts",
                         {"username": "newbie", "password": "short", "role": "reviewer"})
    assert short.status_code == 422 and "at least 12" in short.get_data(as_text=True)
    created = console.post("admin", "/staff/accounts",
                           {"username": "newbie", "password": PASSWORD, "role": "reviewer"})
    assert created.status_code == 303
    newbie = console.login("newbie")
    assert newbie.get("/staff/").status_code == 200
    page = console.get("admin", "/staff/accounts").get_data(as_text=True)
    target = re.search(r'/staff/accounts/(\d+)/deactivate"[^>]*data-confirm="Deactivate newbie',
                       page)
    assert target is not None
    assert console.post("admin", target.group(0).split('"')[0]).status_code == 303
    assert newbie.get("/staff/").status_code == 303  # session ended: back to login
    again = console.app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      again.get("/staff/login").get_data(as_text=True))
    assert token is not None
    refused = again.post("/staff/login", data={"username": "newbie", "password": PASSWORD,
                                               "csrf_token": token.group(1)})
    assert refused.status_code == 429  # deactivated accounts are refused


def test_redo_and_validation_messages(console: Console) -> None:
    case = console.manual_review_case()
    console.login("reviewer")
    not_held = console.post("reviewer", f"/staff/cases/{case}/decide",
                            {"verb": "approve", "reason": "evidence_sufficient", "comment": "x"})
    assert not_held.status_code == 409
    assert "Take the case" in not_held.get_data(as_text=True)
    assert console.post("reviewer", f"/staff/cases/{case}/take").status_code == 303
    missing = console.post("reviewer", f"/staff/cases/{case}/redo",
                           {"step": "liveness", "reason": "evidence_unclear"})
    assert missing.status_code == 422
    assert "<strong>Comment</strong>: This field is required." in missing.get_data(as_text=True)
    bad_reason = console.post("reviewer", f"/staff/cases/{case}/decide",
                              {"verb": "approve", "reason": "<b>x</b>", "comment": "x"})
    assert bad_reason.status_code == 422 and "<b>" not in bad_reason.get_data(as_text=True)
    done = console.post("reviewer", f"/staff/cases/{case}/redo", {
        "step": "device_binding", "reason": "device_issue", "comment": "Bind again."})
    assert done.status_code == 303
    with console.factory() as s:
        application = s.get(Application, case)
        assert application is not None and application.state == "interview_done"
    page = console.get("reviewer", f"/staff/cases/{case}").get_data(as_text=True)
    assert "staff_redo" in page and "[device_issue] Bind again." in page


def test_no_override_offered_without_a_credit_limit(console: Console) -> None:
    low = console.low_income_case()
    declined = console.declined_case()
    console.login("supervisor")
    for case in (low, declined):
        assert console.post("supervisor", f"/staff/cases/{case}/take").status_code == 303
    page = console.get("supervisor", f"/staff/cases/{low}").get_data(as_text=True)
    assert 'data-testid="override-form"' not in page
    assert 'data-testid="override-unavailable"' in page and "no credit limit" in page
    other = console.get("supervisor", f"/staff/cases/{declined}").get_data(as_text=True)
    assert 'data-testid="override-form"' in other  # a limit was offered: override possible
    refused = console.post("supervisor", f"/staff/cases/{low}/override",
                           {"reason": "false_positive", "comment": "Income proof arrived."})
    assert refused.status_code == 409
    assert "no offered credit limit to approve" in refused.get_data(as_text=True)
    queue = console.get("supervisor", "/staff/").get_data(as_text=True)
    assert "override pending" not in queue


def test_card_form_offers_each_action_its_own_reasons(console: Console) -> None:
    application_id, card_id = console.card_case()
    console.login("supervisor")

    def card_form() -> str:
        page = console.get("supervisor", f"/staff/cases/{application_id}").get_data(
            as_text=True)
        form = re.search(r'<form[^>]*data-testid="card-form".*?</form>', page, re.S)
        assert form is not None
        return form.group(0)

    def offered(form: str) -> tuple[list[str], list[tuple[str, str]]]:
        """The actions offered, and the (label, action) of each group of reasons."""
        action_select = re.search(r'<select name="action".*?</select>', form, re.S)
        reason_select = re.search(r'<select name="reason" id="([^"]+)"', form)
        assert action_select is not None and reason_select is not None
        assert f'data-reasons-for="{reason_select.group(1)}"' in action_select.group(0)
        return (re.findall(r'<option value="(\w+)">', action_select.group(0)),
                re.findall(r'<optgroup label="([^"]+)" data-action="(\w+)">', form))

    active = card_form()
    assert offered(active) == (["freeze", "close"], [("Reasons to freeze", "freeze"),
                                                     ("Reasons to close", "close")])
    assert "Fraud suspicion cleared" not in active  # unfreeze is not on offer
    assert console.post("supervisor", f"/staff/cards/{card_id}/status", {
        "action": "freeze", "reason": "lost_device", "comment": ""}).status_code == 303
    frozen = card_form()
    assert offered(frozen) == (["unfreeze", "close"], [("Reasons to unfreeze", "unfreeze"),
                                                       ("Reasons to close", "close")])
    assert "Phone lost or stolen" not in frozen  # freeze is not on offer


def test_bad_card_action_answers_once_in_words_with_a_way_back(console: Console) -> None:
    application_id, card_id = console.card_case()
    console.login("supervisor")
    wrong = console.post("supervisor", f"/staff/cards/{card_id}/status",
                         {"action": "freeze", "reason": "fraud_confirmed", "comment": ""})
    assert wrong.status_code == 422
    html = wrong.get_data(as_text=True)
    assert html.count("Choose a reason to freeze a card") == 1
    assert "Customer request" in html and "Phone lost or stolen" in html
    assert "customer_request" not in html and "lost_device" not in html
    assert "invalid input" not in html
    assert f'href="/staff/cases/{application_id}">Back to the case' in html
    with console.factory() as s:
        card = s.get(Card, card_id)
        assert card is not None and card.status == "active"
    missing = console.get("supervisor", "/staff/cases/doesnotexist")
    assert missing.status_code == 404
    assert "Back to the case" not in missing.get_data(as_text=True)
    no_export = console.get("supervisor", "/staff/cases/doesnotexist/export.html")
    assert no_export.status_code == 404
    assert "Back to the case" not in no_export.get_data(as_text=True)


def test_details_show_as_escaped_text_not_unicode_escapes(console: Console) -> None:
    declined = console.declined_case()
    comment = "<b>x</b> 张"
    console.login("supervisor")
    assert console.post("supervisor", f"/staff/cases/{declined}/take").status_code == 303
    assert console.post("supervisor", f"/staff/cases/{declined}/override", {
        "reason": "false_positive", "comment": comment}).status_code == 303
    console.login("auditor")
    pages = {
        "timeline": console.get("supervisor", f"/staff/cases/{declined}"),
        "audit": console.get("auditor", "/staff/audit"),
        "export": console.get("auditor", f"/staff/cases/{declined}/export.html"),
    }
    for name, response in pages.items():
        html = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert "&lt;b&gt;x&lt;/b&gt; 张" in html, name
        shown = [unescape(code) for code in re.findall(r"<code>(.*?)</code>", html)]
        assert any('"comment": "<b>x</b> 张"' in text for text in shown), name
        assert "\\u003c" not in html and "\\u5f20" not in html, name
        assert "<b>x</b>" not in html, name
    case_page = pages["timeline"].get_data(as_text=True)
    timeline = re.search(r'data-testid="timeline".*?</section>', case_page, re.S)
    device = re.search(r'data-testid="device".*?</section>', case_page, re.S)
    assert timeline is not None and device is not None
    assert '<div class="table-wrap">' in timeline.group(0)
    assert '<div class="table-wrap">' in device.group(0)  # the certificate chains
    assert '<td class="time">' in timeline.group(0)
    for path, who in (("/staff/audit", "auditor"), ("/staff/", "supervisor")):
        assert re.search(r'<div class="table-wrap">\s*<table data-testid="(audit-entries|queue)"',
                         console.get(who, path).get_data(as_text=True)), path


def test_started_applications_are_left_out_of_the_queue_everywhere(console: Console) -> None:
    started = console.flow().start().application_id
    declined = console.declined_case()
    console.login("reviewer")
    page = console.get("reviewer", "/staff/").get_data(as_text=True)
    assert queue_ids(page) == [declined]
    counts = re.search(r'<p class="counts">(.*?)</p>', page, re.S)
    assert counts is not None
    assert "started" not in counts.group(1) and "declined: 1" in counts.group(1)
    states = re.search(r'<select name="state">.*?</select>', page, re.S)
    assert states is not None
    assert re.findall(r'<option value="(\w+)"', states.group(0)) == ["declined"]
    assert started not in page


def test_case_page_shows_labels_grouped_amounts_and_the_trust_anchor(console: Console) -> None:
    declined = console.declined_case()
    console.login("supervisor")
    assert console.post("supervisor", f"/staff/cases/{declined}/take").status_code == 303
    assert console.post("supervisor", f"/staff/cases/{declined}/override", {
        "reason": "false_positive", "comment": "Misread."}).status_code == 303
    page = console.get("supervisor", f"/staff/cases/{declined}").get_data(as_text=True)
    pending = re.search(r'data-testid="pending-override">.*?</p>', page, re.S)
    assert pending is not None
    assert "Automatic decline was a false positive" in pending.group(0)
    assert "false_positive" not in pending.group(0)
    proposals = re.search(r"<h3>Override proposals</h3>.*?</table>", page, re.S)
    assert proposals is not None
    assert "Automatic decline was a false positive" in proposals.group(0)
    assert "false_positive" not in proposals.group(0)
    assert "CNY 120,000" in page  # the applicant's income
    with console.factory() as s:
        application = s.get(Application, declined)
        assert application is not None and application.offered_credit_limit
        limit = application.offered_credit_limit
    assert f"limit CNY {limit:,}<" in page and limit >= 1000
    assert "Signature: <strong>valid</strong> — verified against" in page
    device = re.search(r'data-testid="device".*?</section>', page, re.S)
    assert device is not None
    # One trust anchor per attested key (signing, agreement, SE), each its chain's last row.
    assert device.group(0).count('data-testid="trust-anchor">trust anchor (bank)<') == 3
