"""The interview token (GET .../interview, echoed by POST .../interview) expires and belongs to
one interview round: after a staff "redo interview" the old round's token is refused."""

from __future__ import annotations

from typing import Any

from tests.web.api_driver import (
    HONEST_ANSWERS,
    ApiApplicant,
    Phone,
    bind_phone,
    ready_applicant,
    sign_agreement,
)
from tests.web.staff.conftest import Console
from web.flow.interview_step import INTERVIEW_TOKEN_TTL


def _answers(served: dict[str, Any], **changes: str) -> list[dict[str, Any]]:
    return [{"question_id": q["id"], "value": changes.get(q["id"], HONEST_ANSWERS[q["id"]]),
             "response_ms": 2500} for q in served["questions"]]


def _error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.get_json()["error"]
    return body


def _interviewing(console: Console) -> ApiApplicant:
    applicant = ready_applicant(console.app.test_client(), console.app)
    applicant.pass_liveness()
    return applicant


def test_a_token_from_before_a_staff_redo_is_refused(console: Console) -> None:
    applicant = _interviewing(console)
    first = applicant.get("/interview").get_json()
    console.clock.advance(20)
    done = applicant.post("/interview", {"token": first["token"],
                                         "answers": _answers(first, voluntary="no")})
    assert done.status_code == 200, done.get_json()
    # Answering again in the same round is the wrong step, not a token problem.
    again = applicant.post("/interview", {"token": first["token"], "answers": _answers(first)})
    assert again.status_code == 409 and _error(again)["code"] == "conflict"
    phone = Phone(console.app)
    assert bind_phone(applicant, phone).status_code == 200
    assert sign_agreement(applicant, phone).status_code == 200
    assert applicant.post("/decision").get_json()["outcome"] == "manual_review"
    case = applicant.application_id
    console.login("reviewer")
    assert console.post("reviewer", f"/staff/cases/{case}/take").status_code == 303
    assert console.post("reviewer", f"/staff/cases/{case}/redo", {
        "step": "interview", "reason": "evidence_unclear",
        "comment": "Ask again."}).status_code == 303
    assert applicant.state() == "liveness_passed"

    stale = applicant.post("/interview", {"token": first["token"], "answers": _answers(first)})
    assert stale.status_code == 409, stale.get_json()
    assert _error(stale)["code"] == "interview_token_stale"
    assert "earlier interview round" in _error(stale)["message"]
    assert applicant.state() == "liveness_passed"  # nothing recorded

    second = applicant.get("/interview").get_json()
    console.clock.advance(20)
    redone = applicant.post("/interview", {"token": second["token"],
                                           "answers": _answers(second)})
    assert redone.status_code == 200, redone.get_json()
    assert applicant.state() == "interview_done"


def test_a_token_expires_after_the_documented_time(console: Console) -> None:
    applicant = _interviewing(console)
    served = applicant.get("/interview").get_json()
    console.clock.advance(INTERVIEW_TOKEN_TTL.total_seconds() + 1)
    late = applicant.post("/interview", {"token": served["token"], "answers": _answers(served)})
    assert late.status_code == 422, late.get_json()
    assert _error(late)["code"] == "interview_token_expired"
    assert "more than 30 minutes ago" in _error(late)["message"]
    assert applicant.state() == "liveness_passed"
    fresh = applicant.get("/interview").get_json()
    console.clock.advance(INTERVIEW_TOKEN_TTL.total_seconds() - 1)
    in_time = applicant.post("/interview", {"token": fresh["token"], "answers": _answers(fresh)})
    assert in_time.status_code == 200, in_time.get_json()
    assert applicant.state() == "interview_done"
