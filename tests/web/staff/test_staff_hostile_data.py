"""The console against hostile stored data: text that JSON carries but UTF-8 cannot, ids that
do not belong together."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from issuer.applications import record_event
from issuer.models import Application, InterviewRecord, LivenessResult
from issuer.review_models import PendingOverride
from tests.web.api_driver import ready_applicant
from tests.web.staff.conftest import Console

pytestmark = pytest.mark.integration
LONE = "\ud800"  # a lone surrogate: valid in a JSON string ("\ud800"), not encodable as UTF-8


def test_a_lone_surrogate_in_stored_answers_does_not_break_the_case(console: Console) -> None:
    case = console.manual_review_case()
    with console.factory.begin() as s:  # what an interview answer "\ud800" used to store
        record = s.scalar(select(InterviewRecord).where(InterviewRecord.application_id == case))
        assert record is not None
        record.answers = {"transcript": [{"question": "Who is your current employer?",
                                          "answer": f"Acme {LONE} Trading", "response_ms": 2500,
                                          "flags": [LONE]}]}
        s.add(LivenessResult(application_id=case, passed=False, score=0.0,
                             details={"failure_reasons": [f"reason {LONE}"],
                                      "challenges": [{"name": LONE, "start": 0, "end": 1}],
                                      "trace": {"t": [0, 1], "ear": [0.3, 0.2]}},
                             created_at=console.clock()))
    console.login("reviewer")
    for path in (f"/staff/cases/{case}", f"/staff/cases/{case}/export.html",
                 f"/staff/cases/{case}/export.json"):
        response = console.get("reviewer", path)
        assert response.status_code == 200, path
        assert "Acme \ufffd Trading" in response.get_data(as_text=True), path
    bundle = console.get("reviewer", f"/staff/cases/{case}/export.json").get_json()
    assert bundle["interview"]["answers"][0]["answer"] == "Acme \ufffd Trading"
    assert bundle["liveness"][-1]["failure_reasons"] == ["reason \ufffd"]


@pytest.mark.parametrize("verb", ["confirm", "reject"])
def test_an_override_is_decided_only_under_its_own_case(console: Console, verb: str) -> None:
    """The case page a supervisor reads is the one whose override gets decided: an override
    id under another case's URL is not found, and the proposal stays pending."""
    declined, other = console.declined_case(), console.declined_case()
    console.add_staff("sam", "supervisor")
    console.login("supervisor")
    console.login("sam")
    assert console.post("supervisor", f"/staff/cases/{declined}/take").status_code == 303
    assert console.post("supervisor", f"/staff/cases/{declined}/override", {
        "reason": "false_positive", "comment": "Misread."}).status_code == 303
    with console.factory() as s:
        override_id = s.scalars(select(PendingOverride.id).where(
            PendingOverride.application_id == declined)).one()
    crossed = console.post("sam", f"/staff/cases/{other}/overrides/{override_id}/{verb}",
                           {"comment": "Looks fine."}, Accept="application/json")
    assert crossed.status_code == 404, crossed.get_data(as_text=True)
    assert crossed.get_json()["error"]["code"] == "not_found"
    with console.factory() as s:
        row = s.get(PendingOverride, override_id)
        assert row is not None and row.status == "pending"
    assert console.post("sam", f"/staff/cases/{declined}/overrides/{override_id}/{verb}",
                        {"comment": "Looks fine."}).status_code == 303


def test_invisible_and_bidi_characters_in_details_show_as_escapes(console: Console) -> None:
    """Text with a right-to-left override would reverse the rest of a details cell
    (`{"comment": "…", "override_id": 7}`) on the pages that show audit details; there it is
    written as its JSON escape, while other non-ASCII text stays as written. (Staff comments and
    applicant answers refuse such characters now; rows stored before that still hold them.)"""
    declined = console.declined_case()
    comment = "张 ok \u202e}9 :\"di_edirrevo\" \u200b\u2066x\u2069 end"
    console.login("supervisor")
    console.login("auditor")
    refused = console.post("supervisor", f"/staff/cases/{declined}/override", {
        "reason": "false_positive", "comment": comment}, Accept="application/json")
    assert refused.status_code == 422, refused.get_data(as_text=True)
    with console.factory.begin() as s:
        application = s.get(Application, declined)
        assert application is not None
        record_event(s, application=application, kind="staff_note", actor="staff:old",
                     now=datetime.now(UTC), details={"comment": comment})
    for who, path in (("supervisor", f"/staff/cases/{declined}"), ("auditor", "/staff/audit"),
                      ("auditor", f"/staff/cases/{declined}/export.html")):
        html = console.get(who, path).get_data(as_text=True)
        cells = re.findall(r"<code>(.*?)</code>", html, re.S)
        shown = [unescape(cell) for cell in cells if "di_edirrevo" in cell]
        assert shown, path
        for text in shown:
            assert '"comment": "张 ok \\u202e}9 :\\"di_edirrevo\\" \\u200b\\u2066x\\u2069 end"' \
                in text, (path, text)
            assert json.loads(text)["comment"] == comment  # still the JSON of the details


@pytest.mark.parametrize("answer", ["Acme\u202e Trading", "Acme\x1b[31m Trading",
                                    "Acme\u200b Trading"])
def test_an_interview_answer_the_console_cannot_show_as_written_is_refused(
        console: Console, answer: str) -> None:
    """The applicant API refuses a text answer with a control or format character (as the
    identity form does for the employer), and stores nothing. (A lone surrogate never gets this
    far: the API refuses it as malformed JSON, see test_request_guards.)"""
    applicant = ready_applicant(console.app.test_client(), console.app)
    applicant.pass_liveness()
    refused = applicant.answer_interview(employer=answer)
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert "employer" in refused.get_json()["error"]["fields"]
    assert applicant.state() == "liveness_passed"
    assert applicant.answer_interview().status_code == 200


def test_a_lone_surrogate_answer_is_malformed_json(console: Console) -> None:
    applicant = ready_applicant(console.app.test_client(), console.app)
    applicant.pass_liveness()
    refused = applicant.answer_interview(employer=f"Acme {LONE} Trading")
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert refused.get_json()["error"]["code"] == "malformed_json"
    assert applicant.state() == "liveness_passed"
