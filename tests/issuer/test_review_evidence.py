"""Liveness evidence on the case page: the liveness package's own result format, stored by the
issuer, turned into challenge timings and SVG plots with the challenge windows shaded."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from issuer.interview import TranscriptEntry
from issuer.onboarding import begin_liveness_session, record_interview, record_liveness_result
from issuer.review_case import load_case
from issuer.staff_accounts import create_staff
from issuer.staff_plots import SVG_NS
from issuer.staff_sessions import StaffPrincipal
from issuer.states import ApplicationState
from liveness import ChallengeOutcome, FailureReason, LivenessResult
from tests.issuer.flow import NOW, Flow, PhoneLab

pytestmark = pytest.mark.integration
T0 = 1_750_000_000.0  # server seconds, as the liveness session records them


def jpeg(shade: int) -> bytes:
    image = np.full((48, 64, 3), shade, dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return bytes(encoded)


def recorded_session(*, passed: bool) -> LivenessResult:
    """A session as `liveness.result()` reports it: a blink, a left turn, an open mouth."""
    times = [T0 + i / 10 for i in range(60)]
    ear = [0.31 if not 12 <= i <= 14 else 0.09 for i in range(60)]
    yaw = [0.0 if i < 25 else min(30.0, (i - 25) * 3.0) for i in range(60)]
    mouth = [0.05 if i < 45 else 0.6 for i in range(60)]
    traces: dict[str, list[float | None]] = {
        "t": list(times), "ear_left": list(ear), "ear_right": [e + 0.01 for e in ear],
        "yaw": list(yaw), "mouth": list(mouth), "pitch": [None] * 3 + [1.0] * 57,
    }
    outcomes = (
        ChallengeOutcome("blink", True, T0 + 1.0, T0 + 1.5, 0.5),
        ChallengeOutcome("turn_left", True, T0 + 2.4, T0 + 3.4, 1.0),
        ChallengeOutcome("open_mouth", passed, T0 + 4.2, T0 + 4.6 if passed else None,
                         0.4 if passed else None),
    )
    failures = () if passed else (FailureReason("challenge_timeout", "open_mouth timed out"),)
    return LivenessResult(passed=passed, score=1.0 if passed else 0.7, challenges=outcomes,
                          failure_reasons=failures, traces=traces,
                          keyframes=(jpeg(90), jpeg(160)), keyframe_labels=("blink", "turn_left"))


def test_case_page_shows_timings_reasons_and_plots(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    flow = Flow(session_factory, lab, flags=("interview_not_voluntary",))
    flow.to(ApplicationState.IDENTITY_SUBMITTED)
    for passed in (False, True):
        verdict = recorded_session(passed=passed)
        details = verdict.to_dict()
        details.pop("keyframes")  # stored as rows, as the web layer does
        with session_factory.begin() as s:
            begin_liveness_session(s, application_id=flow.application_id, state={}, now=NOW)
            record_liveness_result(s, application_id=flow.application_id, passed=passed,
                                   score=verdict.score, details=details,
                                   keyframes=list(verdict.keyframes), now=NOW)
    transcript = [
        TranscriptEntry("voluntary", "Are you applying of your own free will?", "no", 2500,
                        False, ("interview_not_voluntary",)).to_dict(),
        TranscriptEntry("annual_fee", "What is the annual fee?", "CNY 200", 4100, True,
                        ()).to_dict(),
    ]
    with session_factory.begin() as s:
        record_interview(s, application_id=flow.application_id,
                         answers={"transcript": transcript, "elapsed_ms": 9000},
                         flags=["interview_not_voluntary"], script_version="v1", now=NOW)
    flow.bind().sign().decide()
    with session_factory.begin() as s:
        view = create_staff(s, username="rita", password="correct horse battery",
                            role="reviewer", now=NOW)
    viewer = StaffPrincipal(staff_user_id=view.id, username="rita", role=view.role,
                            session_expires_at=NOW + timedelta(hours=1))
    with session_factory() as s:
        case = load_case(s, application_id=flow.application_id, viewer=viewer, now=NOW)
    assert case.interview is not None
    first = case.interview.answers[0]
    assert (first.question, first.answer, first.seconds, first.flags) == (
        "Are you applying of your own free will?", "no", 2.5, ("interview_not_voluntary",))
    assert case.interview.flags == ("interview_not_voluntary",)
    failed, passed_session = case.liveness
    assert failed.failure_reasons == ("open_mouth timed out",)
    assert [(c.name, c.passed) for c in failed.challenges] == [
        ("blink", True), ("turn_left", True), ("open_mouth", False)]
    blink = passed_session.challenges[0]
    assert blink.start is not None and math.isclose(blink.start, 1.0)
    assert blink.duration is not None and math.isclose(blink.duration, 0.5)
    assert passed_session.keyframe_labels == ("blink", "turn_left")
    assert len(passed_session.keyframe_ids) == 2
    titles = []
    for svg in passed_session.plots:
        root = ET.fromstring(svg)
        titles.append(root.findtext(f"{{{SVG_NS}}}title"))
        windows = root.findall(f"{{{SVG_NS}}}g[@class='challenge-window']")
        assert len(windows) == 3  # every completed challenge of the passed session
        points = root.find(f"{{{SVG_NS}}}polyline").attrib["points"].split()  # type: ignore[union-attr]
        assert len(points) >= 57
    assert titles == ["eye aspect ratio over time", "yaw (degrees) over time",
                      "mouth opening ratio over time", "pitch (degrees) over time"]
    assert len(failed.plots) == 4
    assert len(ET.fromstring(failed.plots[0]).findall(
        f"{{{SVG_NS}}}g[@class='challenge-window']")) == 2  # the timed-out one has no end
