"""Liveness through the API with real frames from the liveness corpus and real mediapipe.

The app clock steps 0.1 s per frame (10 fps, like the browser page), so the session's time
limits apply exactly as in real time without the test waiting for them.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.web.api_driver import ApiApplicant, feed_frames, ready_applicant
from tests.web.conftest import SteppingClock

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHALLENGES = ("blink", "turn_left", "open_mouth")


@pytest.fixture(scope="module")
def live_jpegs() -> list[bytes]:
    from web.commands.demo import clip_jpegs

    return clip_jpegs(CHALLENGES)


@pytest.fixture(scope="module")
def photo_jpegs() -> list[bytes]:
    from liveness.corpus import FACE_SOURCES, ClipMaker, Look, encode_jpeg, photo_attack
    from liveness.landmarks import FaceMeshDetector

    maker = ClipMaker(FaceMeshDetector(max_faces=1))
    look = Look(width=640, height=480, face_fraction=0.34, noise=2.0)
    puppet = maker.puppet(FACE_SOURCES[1], look)
    frames = photo_attack(puppet.image, kind="photo_jitter", seconds=4.0, fps=10,
                          rng=random.Random(5), noise=2.0)
    return [encode_jpeg(frame, quality=70) for frame in frames]


def test_a_live_clip_passes_and_a_bad_frame_changes_nothing(
    client: FlaskClient, app: Flask, clock: SteppingClock, live_jpegs: list[bytes]
) -> None:
    applicant = ready_applicant(client, app)
    started = applicant.post("/liveness/sessions")
    assert started.status_code == 201
    assert started.get_json()["liveness"]["challenges_total"] == 3
    resumed = applicant.post("/liveness/sessions")  # a reload: the same session, no attempt
    assert resumed.status_code == 200 and resumed.get_json()["resumed"] is True
    assert resumed.get_json()["attempts_left"] == 2
    junk = client.post(applicant.base + "/liveness/frames", data=b"GIF89a not a jpeg",
                       content_type="image/jpeg", headers=applicant.headers())
    assert junk.status_code == 422 and junk.get_json()["error"]["code"].startswith("frame")
    result = feed_frames(applicant, clock, live_jpegs)
    assert result["passed"] is True and result["application_state"] == "liveness_passed"
    assert applicant.state() == "liveness_passed"
    assert applicant.post("/liveness/sessions").status_code == 409


def test_photo_attacks_fail_with_reasons_until_attempts_run_out(
    client: FlaskClient, app: Flask, clock: SteppingClock, photo_jpegs: list[bytes]
) -> None:
    applicant = ready_applicant(client, app)
    for attempt in (1, 2, 3):
        assert applicant.post("/liveness/sessions").status_code == 201
        result = feed_frames(applicant, clock, photo_jpegs)
        assert result["passed"] is False
        assert result["attempts_left"] == 3 - attempt
        reasons = result["reasons"]
        assert isinstance(reasons, list)
        assert reasons and all(r["message"] for r in reasons)
    assert applicant.state() == "declined"
    assert applicant.post("/liveness/sessions").status_code == 409
    decision = applicant.get("/decision").get_json()
    assert decision["outcome"] == "declined" and decision["reasons"]


def test_concurrent_frames_of_one_session_never_lose_an_update(
    app: Flask, clock: SteppingClock, live_jpegs: list[bytes]
) -> None:
    """Frames are analysed outside the database lock; a frame that raced another is refused
    (409) instead of overwriting the state the other one produced."""
    from concurrent.futures import ThreadPoolExecutor

    with app.test_client() as client:
        applicant = ready_applicant(client, app)
        assert applicant.post("/liveness/sessions").status_code == 201

    def post(jpeg: bytes) -> int:
        with app.test_client() as own:
            response = own.post(applicant.base + "/liveness/frames", data=jpeg,
                                content_type="image/jpeg", headers=applicant.headers())
            return response.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(post, live_jpegs[:16]))
    assert set(statuses) <= {200, 409}, statuses
    assert 200 in statuses
    with app.test_client() as client:
        applicant.client = client
        clock.advance(0.1)
        follow_up = client.post(applicant.base + "/liveness/frames", data=live_jpegs[16],
                                content_type="image/jpeg", headers=applicant.headers())
        assert follow_up.status_code == 200


def test_a_frame_sent_again_after_a_lost_answer_changes_nothing(
    client: FlaskClient, app: Flask, clock: SteppingClock, live_jpegs: list[bytes]
) -> None:
    """A client that resends a frame (same bytes, same capture time) because the answer was
    lost gets a 409 for the copy, and the session goes on: the copy is not taken for a frame
    whose capture time failed to increase, which would fail the attempt."""
    applicant = ready_applicant(client, app)
    assert applicant.post("/liveness/sessions").status_code == 201

    def send(jpeg: bytes, client_ms: int) -> TestResponse:
        return client.post(applicant.base + "/liveness/frames", data=jpeg,
                           content_type="image/jpeg",
                           headers=applicant.headers(**{"X-Client-Timestamp": str(client_ms)}))

    clock.advance(0.1)
    first_ms = int(clock().timestamp() * 1000)
    first = send(live_jpegs[0], first_ms)
    assert first.status_code == 200 and first.get_json()["finished"] is False
    clock.advance(0.05)
    again = send(live_jpegs[0], first_ms)
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["error"]["code"] == "frame_already_received"
    as_json = client.post(applicant.base + "/liveness/frames", headers=applicant.headers(),
                          json={"jpeg": base64.b64encode(live_jpegs[0]).decode("ascii"),
                                "timestamp_ms": first_ms})
    assert as_json.status_code == 409, as_json.get_json()
    result = feed_frames(applicant, clock, live_jpegs[1:])
    assert result["passed"] is True, result
    assert applicant.state() == "liveness_passed"
    assert result["attempts_left"] == 2


def _finish_session(applicant: ApiApplicant, clock: SteppingClock,
                    frames: list[bytes]) -> tuple[bytes, str, dict[str, Any]]:
    """Post `frames` at 10 fps with capture times until the session finishes: the frame that
    finished it, its capture time and the answer."""
    for i in range(400):
        clock.advance(0.1)
        jpeg, client_ms = frames[i % len(frames)], str(int(clock().timestamp() * 1000))
        response = applicant.client.post(
            applicant.base + "/liveness/frames", data=jpeg, content_type="image/jpeg",
            headers=applicant.headers(**{"X-Client-Timestamp": client_ms}))
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        if body["finished"]:
            return jpeg, client_ms, body
    raise AssertionError("the session did not finish")


@pytest.mark.parametrize("clip", ["live", "photo"])
def test_the_last_frame_sent_again_says_the_session_already_finished(
    client: FlaskClient, app: Flask, clock: SteppingClock, live_jpegs: list[bytes],
    photo_jpegs: list[bytes], clip: str,
) -> None:
    """The frame that finished the session, resent after a lost answer, answers 409
    frame_already_received with the verdict (not "no session is in progress; start one"),
    and changes nothing; a different frame then still gets the plain "start one first"."""
    applicant = ready_applicant(client, app)
    assert applicant.post("/liveness/sessions").status_code == 201
    jpeg, client_ms, last = _finish_session(applicant, clock,
                                            live_jpegs if clip == "live" else photo_jpegs)
    state = applicant.state()
    clock.advance(0.05)
    again = client.post(applicant.base + "/liveness/frames", data=jpeg,
                        content_type="image/jpeg",
                        headers=applicant.headers(**{"X-Client-Timestamp": client_ms}))
    assert again.status_code == 409, again.get_json()
    error = again.get_json()["error"]
    assert error["code"] == "frame_already_received"
    assert "already finished" in error["message"]
    if clip == "live":
        assert last["passed"] is True and "passed" in error["message"]
    else:
        assert last["passed"] is False and "failed" in error["message"]
        assert "2 attempts left" in error["message"]
    assert applicant.state() == state
    other = client.post(applicant.base + "/liveness/frames", data=jpeg,
                        content_type="image/jpeg",
                        headers=applicant.headers(**{"X-Client-Timestamp": client_ms + "1"}))
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "conflict"
    assert applicant.get().get_json()["liveness_attempts_left"] == 2
