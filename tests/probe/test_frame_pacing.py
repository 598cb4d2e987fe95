"""The probe streams frames like a camera: steady FPS, and no catch-up burst after a stall."""

from __future__ import annotations

import itertools

import pytest

from web.probe.live_session import FramePacer

pytestmark = pytest.mark.unit


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def send_times(pacer: FramePacer, clock: ManualClock, answer_seconds: list[float]) -> list[float]:
    """When each frame goes, if the server takes answer_seconds[i] to answer frame i."""
    times = []
    for seconds in answer_seconds:
        clock.now += pacer.wait()
        times.append(clock.now)
        clock.now += seconds
        pacer.sent()
    return times


def test_frames_go_at_the_camera_rate_when_answers_are_quick() -> None:
    clock = ManualClock()
    times = send_times(FramePacer(fps=10, clock=clock), clock, [0.02] * 5)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert gaps == [0.1] * 4


def test_after_a_stall_the_next_frames_are_not_sent_in_a_burst() -> None:
    clock = ManualClock()
    times = send_times(FramePacer(fps=10, clock=clock), clock, [0.02, 2.5, 0.02, 0.02, 0.02])
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    # The stalled frame's answer came 2.5 s after it went; the next frame goes then, and the
    # ones after it one interval apart, instead of 25 frames back to back to catch up.
    assert gaps == [0.1, 2.5, 0.1, 0.1]
    assert min(gaps) >= 0.1
