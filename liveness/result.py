"""The verdict of a session, with the evidence staff review."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from liveness.session import SessionState

PASSIVE_CHECKS = ("multiple_faces", "face_too_small", "too_blurry", "bad_exposure",
                  "no_micro_motion", "frozen_frames", "frame_rate_implausible")


@dataclass(frozen=True)
class ChallengeOutcome:
    """How one prompted challenge went; times are server seconds."""

    name: str
    passed: bool
    started_at: float | None
    completed_at: float | None
    duration: float | None


@dataclass(frozen=True)
class FailureReason:
    """A named reason the session failed."""

    code: str
    message: str


@dataclass(frozen=True)
class LivenessResult:
    """pass/fail, score in 0..1, per-challenge outcomes, reasons, per-frame traces, keyframes."""

    passed: bool
    score: float
    challenges: tuple[ChallengeOutcome, ...]
    failure_reasons: tuple[FailureReason, ...]
    traces: dict[str, list[float | None]]
    keyframes: tuple[bytes, ...]
    keyframe_labels: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (keyframes as base64 JPEG)."""
        return {
            "passed": self.passed,
            "score": self.score,
            "challenges": [c.__dict__ for c in self.challenges],
            "failure_reasons": [f.__dict__ for f in self.failure_reasons],
            "traces": self.traces,
            "keyframes": [base64.b64encode(k).decode("ascii") for k in self.keyframes],
            "keyframe_labels": list(self.keyframe_labels),
        }


def result(state: SessionState) -> LivenessResult:
    """The verdict of a session; an unfinished session is reported as failed (incomplete).

    Score: 0.6 x share of challenges passed + 0.4 x share of passive checks passed; a session
    passes only with every challenge and every check passed (score 1.0).
    """
    failures = [FailureReason(f["code"], f["message"]) for f in state.failures]
    if not state.finished:
        failures.append(FailureReason("session_incomplete", "the session was not finished"))
    outcomes = [ChallengeOutcome(o["name"], bool(o["passed"]), o["started_at"],
                                 o["completed_at"], o["duration"]) for o in state.outcomes]
    done = {o.name for o in outcomes if o.passed}
    for name in state.challenges[len(outcomes):]:
        outcomes.append(ChallengeOutcome(name, False, None, None, None))
    challenge_share = len(done) / len(state.challenges)
    failed_checks = {f.code for f in failures} & set(PASSIVE_CHECKS)
    passive_share = 1 - len(failed_checks) / len(PASSIVE_CHECKS)
    passed = state.phase == "passed" and not failures
    score = 1.0 if passed else round(min(0.99, 0.6 * challenge_share + 0.4 * passive_share), 3)
    return LivenessResult(
        passed=passed,
        score=score,
        challenges=tuple(outcomes),
        failure_reasons=tuple(failures),
        traces={k: list(v) for k, v in state.traces.items()},
        keyframes=tuple(base64.b64decode(k["jpeg"]) for k in state.keyframes),
        keyframe_labels=tuple(str(k["label"]) for k in state.keyframes),
    )
