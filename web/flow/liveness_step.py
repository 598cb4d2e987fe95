"""Step 3: liveness. The session state lives in the database; frames are processed one by one.

The mediapipe `FrameAnalyzer` is the only per-process object: created lazily, once.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app

import liveness
from issuer.applications import lock_application
from issuer.errors import Conflict
from issuer.onboarding import (
    MAX_LIVENESS_SESSIONS,
    load_liveness_state,
    record_liveness_result,
    save_liveness_state,
)
from issuer.states import ApplicationState
from web.clock import now
from web.database import commit_before_slow_work, db_session

_analyzer: liveness.FrameAnalyzer | None = None
_analyzer_lock = threading.Lock()


def frame_analyzer() -> liveness.FrameAnalyzer:
    """This process's analyzer (mediapipe face mesh), created on first use."""
    global _analyzer
    with _analyzer_lock:
        if _analyzer is None:
            _analyzer = liveness.FrameAnalyzer()
        return _analyzer


@dataclass(frozen=True)
class LivenessStatus:
    """What the client needs after a start or a frame."""

    liveness: dict[str, Any]
    attempts_left: int
    finished: bool
    passed: bool
    reasons: list[dict[str, str]]
    application_state: str
    resumed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON body for the client."""
        return {
            "liveness": self.liveness,
            "attempts_left": self.attempts_left,
            "finished": self.finished,
            "passed": self.passed,
            "reasons": self.reasons,
            "application_state": self.application_state,
            "resumed": self.resumed,
        }


def _challenges() -> list[str] | None:
    configured = current_app.config.get("CARDSIM_LIVENESS_CHALLENGES")
    return list(configured) if configured else None


def start_liveness(*, application_id: str, sessions_used: int) -> LivenessStatus:
    """Begin a liveness session (one of at most three), or resume the one in progress.

    Resuming (after a reload) uses no attempt: the session's own clock keeps running, so a
    session left too long fails on its next frame, with its reason, like any other.
    """
    stored = load_liveness_state(db_session(), application_id=application_id)
    if stored is not None:
        state = liveness.SessionState.from_value(stored)
        return _opening_status(state, attempts_left=MAX_LIVENESS_SESSIONS - sessions_used,
                               resumed=True)
    if sessions_used >= MAX_LIVENESS_SESSIONS:
        raise Conflict(f"all {MAX_LIVENESS_SESSIONS} liveness attempts are used")
    state = liveness.new_session(challenges=_challenges(), now=now().timestamp())
    number = save_liveness_state(db_session(), application_id=application_id,
                                 state=state.to_value(), new_session=True, now=now())
    return _opening_status(state, attempts_left=MAX_LIVENESS_SESSIONS - number, resumed=False)


def _opening_status(state: liveness.SessionState, *, attempts_left: int,
                    resumed: bool) -> LivenessStatus:
    status = {
        "status": "in_progress", "prompt": None, "prompt_text": "Look into the camera",
        "challenge_index": 0, "challenges_total": len(state.challenges),
        "seconds_left": None, "face_found": False,
        "hint": "Resuming your camera check" if resumed else "",
    }
    return LivenessStatus(liveness=status, attempts_left=attempts_left, finished=False,
                          passed=False, reasons=[], resumed=resumed,
                          application_state=ApplicationState.IDENTITY_SUBMITTED.value)


def _client_ms(raw: str | None) -> float | None:
    """The client's capture time in ms, or None when absent or not a finite number."""
    if raw is None or len(raw) > 32:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def submit_frame(
    *, application_id: str, sessions_used: int, jpeg: bytes, client_timestamp_ms: str | None
) -> LivenessStatus:
    """Process one frame; store the new state, or the result when the session finished.

    A rejected frame (`liveness.FrameRejected`) propagates without touching the state.
    """
    stored = load_liveness_state(db_session(), application_id=application_id)
    if stored is None:
        raise Conflict("no liveness session is in progress; start one first")
    state = liveness.SessionState.from_value(stored)
    received = now().timestamp()
    commit_before_slow_work()
    outcome = liveness.process_frame(state, jpeg=jpeg, timestamp=received,
                                     client_timestamp_ms=_client_ms(client_timestamp_ms),
                                     analyzer=frame_analyzer())
    # Compare-and-set under the application lock: the state may only advance from the version
    # this frame was applied to.
    lock_application(db_session(), application_id=application_id, now=now())
    if load_liveness_state(db_session(), application_id=application_id) != stored:
        raise Conflict("another frame of this session was processed meanwhile; "
                       "send frames one at a time")
    status = dict(outcome.status)
    attempts_left = MAX_LIVENESS_SESSIONS - sessions_used
    if status.get("status") == "in_progress":
        save_liveness_state(db_session(), application_id=application_id,
                            state=outcome.state.to_value(), new_session=False,
                            now=now())
        return LivenessStatus(liveness=status, attempts_left=attempts_left, finished=False,
                              passed=False, reasons=[],
                              application_state=ApplicationState.IDENTITY_SUBMITTED.value)
    verdict = liveness.result(outcome.state)
    details = verdict.to_dict()
    details.pop("keyframes", None)
    view = record_liveness_result(
        db_session(), application_id=application_id, passed=verdict.passed,
        score=float(verdict.score), details=details, keyframes=list(verdict.keyframes),
        now=now(),
    )
    reasons = [_reason(r) for r in details.get("failure_reasons", [])]
    return LivenessStatus(liveness=status, attempts_left=attempts_left, finished=True,
                          passed=verdict.passed, reasons=reasons,
                          application_state=view.state.value)


def _reason(raw: object) -> dict[str, str]:
    if isinstance(raw, dict):
        return {"code": str(raw.get("code", "")), "message": str(raw.get("message", ""))}
    return {"code": str(raw), "message": str(raw)}
