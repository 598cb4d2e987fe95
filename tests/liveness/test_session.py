"""Challenge-response sessions over real face photos animated and run through real FaceMesh."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import cv2
import numpy as np
import pytest

from liveness import (
    Challenge,
    FrameAnalyzer,
    FrameRejected,
    InvalidSession,
    SessionState,
    Thresholds,
    new_session,
    process_frame,
    result,
)
from liveness.corpus import ClipMaker, Segment, encode_jpeg, paste_second_face
from liveness.puppet import FacePuppet

pytestmark = pytest.mark.unit
FPS = 10.0
QUICK = Thresholds(challenge_seconds=3.0, start_seconds=5.0)


@pytest.mark.parametrize("challenge", [c.value for c in Challenge])
def test_each_challenge_passes_when_performed(
    live_clip: Any,
    run_frames: Any,
    challenge: str,
    source_name: str,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    frames = live_clip(maker, puppets[source_name], [challenge], seed=3)
    state = run_frames(frames, [challenge], analyzer)
    verdict = result(state)
    assert verdict.passed, verdict.failure_reasons
    assert verdict.challenges[0].name == challenge and verdict.challenges[0].passed
    assert verdict.challenges[0].duration is not None and verdict.challenges[0].duration > 0.25


@pytest.fixture(params=["astronaut", "grace_hopper"])
def source_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def test_full_session_gives_result_with_evidence(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    order = ["nod", "blink", "turn_right"]
    frames = live_clip(maker, puppets["grace_hopper"], order, seed=11)
    state = run_frames(frames, order, analyzer)
    verdict = result(state)
    assert verdict.passed and verdict.score == 1.0
    assert [c.name for c in verdict.challenges] == order
    starts = [c.started_at for c in verdict.challenges]
    assert all(a is not None for a in starts) and starts == sorted(starts)  # type: ignore[type-var]
    assert 3 <= len(verdict.keyframes) <= 5
    for jpeg in verdict.keyframes:
        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None
    lengths = {len(v) for v in verdict.traces.values()}
    assert len(lengths) == 1
    for key in (
        "t",
        "ear_left",
        "ear_right",
        "mouth",
        "yaw",
        "pitch",
        "roll",
        "sharpness",
        "face_count",
    ):
        assert key in verdict.traces
    encoded = json.dumps(verdict.to_dict(), allow_nan=False)
    assert base64.b64decode(json.loads(encoded)["keyframes"][0])[:3] == b"\xff\xd8\xff"


def test_other_action_during_a_prompt_fails(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    frames = live_clip(maker, puppets["astronaut"], ["turn_left", "blink"], seed=4)
    verdict = result(run_frames(frames, ["blink", "turn_left"], analyzer))
    assert not verdict.passed
    assert verdict.failure_reasons[0].code == "wrong_action"
    assert "turn_left was performed while blink was asked" in verdict.failure_reasons[0].message


def test_spontaneous_blink_during_another_prompt_is_tolerated(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    frames = live_clip(maker, puppets["astronaut"], ["blink", "open_mouth"], seed=5)
    verdict = result(run_frames(frames, ["open_mouth"], analyzer))
    assert verdict.passed, verdict.failure_reasons


def test_state_survives_json_between_frames_and_processes(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    order = ["open_mouth", "turn_left"]
    frames = live_clip(maker, puppets["astronaut"], order, seed=6)
    second = FrameAnalyzer()  # another "worker process"
    try:
        state = new_session(challenges=order, now=0.0)
        for i, data in enumerate(frames):
            worker = analyzer if i % 2 else second
            stored = state.to_json()
            if i % 3 == 0:  # the web layer keeps the state as a JSON value and re-encodes it
                stored = json.dumps(json.loads(stored))
            state = process_frame(
                SessionState.from_json(stored), jpeg=data, timestamp=i / FPS, analyzer=worker
            ).state
            if state.finished:
                break
    finally:
        second.close()
    direct = run_frames(frames, order, analyzer)
    assert result(state).passed and result(direct).passed
    assert state.traces["yaw"] == direct.traces["yaw"]
    assert len(state.to_json()) < 120_000


def test_bad_frames_are_rejected_without_touching_the_session(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    order = ["blink"]
    frames = live_clip(maker, puppets["grace_hopper"], order, seed=7)
    grey = cv2.imencode(".png", np.zeros((100, 100), np.uint8))[1].tobytes()
    huge = cv2.imencode(".jpg", np.zeros((64, 5000, 3), np.uint8))[1].tobytes()
    bad = {
        b"": "empty_frame",
        b"not an image": "not_an_image",
        grey: "unsupported_color_format",
        huge: "image_too_large",
    }
    state = new_session(challenges=order, now=0.0)
    for i, data in enumerate(frames):
        if i in (0, 5, 25):
            before = state.to_json()
            for payload, code in bad.items():
                with pytest.raises(FrameRejected) as info:
                    process_frame(state, jpeg=payload, timestamp=i / FPS, analyzer=analyzer)
                assert info.value.reason_code == code
                assert state.to_json() == before
        state = process_frame(state, jpeg=data, timestamp=i / FPS, analyzer=analyzer).state
        if state.finished:
            break
    assert result(state).passed
    with pytest.raises(InvalidSession):
        process_frame(state, jpeg=frames[0], timestamp=99.0, analyzer=analyzer)


def test_status_reports_prompt_and_progress(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    frames = live_clip(maker, puppets["astronaut"], ["turn_right"], seed=8)
    state = new_session(challenges=["turn_right"], now=0.0)
    statuses = []
    for i, data in enumerate(frames):
        outcome = process_frame(state, jpeg=data, timestamp=i / FPS, analyzer=analyzer)
        state = outcome.state
        statuses.append(outcome.status)
        if state.finished:
            break
    assert statuses[0]["status"] == "in_progress" and statuses[0]["prompt"] is None
    prompted = [s for s in statuses if s["prompt"] == "turn_right"]
    assert prompted and prompted[0]["prompt_text"] == "Turn your head to your right"
    assert prompted[0]["challenges_total"] == 1 and 0 < prompted[0]["seconds_left"] <= 7.0
    assert all(s["face_found"] for s in statuses)
    assert statuses[-1]["status"] == "passed"


# -- attacks ---------------------------------------------------------------------------------


def _photo_frames(puppet: FacePuppet, kind: str, seconds: float = 8.5) -> list[bytes]:
    from liveness.corpus import photo_attack

    return [
        encode_jpeg(f)
        for f in photo_attack(
            puppet.image, kind=kind, seconds=seconds, fps=FPS, rng=random.Random(2), noise=2.5
        )
    ]


@pytest.mark.parametrize("kind", ["static_photo", "photo_jitter", "photo_rigid"])
def test_photo_attacks_fail(
    live_clip: Any,
    run_frames: Any,
    kind: str,
    source_name: str,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    verdict = result(
        run_frames(_photo_frames(puppets[source_name], kind), ["blink"], analyzer, QUICK)
    )
    codes = {f.code for f in verdict.failure_reasons}
    assert not verdict.passed
    # A still picture gets its first prompt and times out; a waved one never looks steady.
    assert codes & {"challenge_timeout", "no_steady_face"}


def test_replay_of_another_order_fails(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    frames = live_clip(maker, puppets["grace_hopper"], ["open_mouth", "turn_left", "nod"], seed=9)
    for asked in (["nod", "turn_left", "open_mouth"], ["turn_left", "open_mouth", "nod"]):
        verdict = result(run_frames(frames, asked, analyzer))
        assert not verdict.passed
        assert "wrong_action" in {f.code for f in verdict.failure_reasons}


def _loop_frames(maker: ClipMaker, puppet: FacePuppet, gap: float, seconds: float) -> list[bytes]:
    rng = random.Random(12)
    order = ["turn_left", "blink", "open_mouth", "nod", "turn_right"]
    segments: list[Segment] = []
    while sum(s.seconds for s in segments) < seconds:
        for action in order:
            segments += [
                Segment("neutral", gap),
                Segment(action, 1.0, 25 if "turn" in action else 20 if action == "nod" else 1.0),
            ]
    return [encode_jpeg(f) for f in maker.live(puppet, segments, fps=FPS, rng=rng, noise=2.5)]


def test_loop_of_every_action_fails(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    # Short gaps: never a steady face to start from.
    short = _loop_frames(maker, puppets["astronaut"], 0.9, 12.0)
    verdict = result(
        run_frames(short, ["blink", "nod", "turn_left"], analyzer, Thresholds(start_seconds=9.0))
    )
    assert not verdict.passed
    assert "no_steady_face" in {f.code for f in verdict.failure_reasons}
    # Long gaps: the prompt comes, but the loop performs another action during it.
    long = _loop_frames(maker, puppets["astronaut"], 2.2, 16.0)
    verdict = result(run_frames(long, ["nod", "turn_left", "blink"], analyzer))
    assert not verdict.passed
    assert "wrong_action" in {f.code for f in verdict.failure_reasons}


def test_frozen_frames_fail(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    frames = live_clip(maker, puppets["grace_hopper"], ["open_mouth"], seed=10)
    clean = result(run_frames(frames, ["open_mouth"], analyzer))
    assert clean.passed
    frozen = frames[:8] + [frames[8]] * 12 + frames[20:]
    verdict = result(run_frames(frozen, ["open_mouth"], analyzer))
    assert not verdict.passed
    assert "frozen_frames" in {f.code for f in verdict.failure_reasons}


def test_two_faces_fail(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    rng = random.Random(3)
    from liveness.corpus import performance

    other = puppets["astronaut"].image
    frames = [
        encode_jpeg(paste_second_face(f, np.asarray(cv2.resize(other, (400, 400)), np.uint8)))
        for f in maker.live(
            puppets["grace_hopper"], performance(["blink"], rng), fps=FPS, rng=rng, noise=2.5
        )
    ]
    verdict = result(run_frames(frames, ["blink"], analyzer))
    assert not verdict.passed
    assert "multiple_faces" in {f.code for f in verdict.failure_reasons}


def test_still_photo_shows_less_micro_motion_than_a_live_face(
    live_clip: Any,
    run_frames: Any,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    analyzer: FrameAnalyzer,
) -> None:
    from liveness.passive import micro_motion

    th = Thresholds(challenge_seconds=6.0)
    photo = run_frames(_photo_frames(puppets["astronaut"], "static_photo"), ["blink"], analyzer, th)
    live = run_frames(
        live_clip(maker, puppets["astronaut"], ["blink"], seed=13), ["blink"], analyzer, th
    )
    still = micro_motion(photo.traces, photo.baseline, th)
    moving = micro_motion(live.traces, live.baseline, th)
    assert still is not None and moving is not None
    assert still < moving


def test_state_as_a_json_value_matches_its_json_text() -> None:
    # The web layer stores `to_value()` in a JSON column and reads it back with `from_value`.
    state = new_session(challenges=["blink", "nod", "turn_left"], now=1000.0)
    value = state.to_value()
    assert value == json.loads(state.to_json())
    assert SessionState.from_value(value).to_json() == state.to_json()
    bad_values: list[object] = [
        None, [], {"version": 999}, {**value, "phase": "dancing"}, {**value, "x": 1},
    ]
    for bad in bad_values:
        with pytest.raises(InvalidSession):
            SessionState.from_value(bad)
