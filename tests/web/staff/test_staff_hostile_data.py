"""The console against hostile stored data: text that JSON carries but UTF-8 cannot, ids that
do not belong together."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from issuer.models import InterviewRecord, LivenessResult
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
