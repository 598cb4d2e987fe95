"""Step 3: liveness. The session state lives in the state store (the database, or Redis when
`REDIS_URL` is set); frames are processed one by one, each stored by compare-and-set.

The mediapipe `FrameAnalyzer` is the only per-process object: created lazily, once.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app

import liveness
from issuer.errors import Conflict
from issuer.onboarding import (
    MAX_LIVENESS_SESSIONS,
    advance_liveness,
    begin_liveness_session,
    current_liveness,
    latest_liveness,
    record_liveness_result,
)
from issuer.states import ApplicationState
from web.clock import now
from web.database import commit_so_far, db_session, run_after_commit
from web.errors import WebError
from web.stores import liveness_store, redis_stores

# In a stored result's details: the fingerprint of the frame that finished the session, so that
# frame sent again is recognised after the session's state is gone.
FINAL_FRAME_KEY = "final_frame"

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
    store = liveness_store()
    current = current_liveness(db_session(), application_id=application_id,
                               liveness_store=store)
    if current is not None:
        state = liveness.SessionState.from_value(current.state)
        return _opening_status(state, attempts_left=MAX_LIVENESS_SESSIONS - sessions_used,
                               resumed=True)
    # No session, or the store lost the current one's state (that attempt stays used).
    if sessions_used >= MAX_LIVENESS_SESSIONS:
        raise Conflict(f"all {MAX_LIVENESS_SESSIONS} liveness attempts are used")
    state = liveness.new_session(challenges=_challenges(), now=now().timestamp())
    progress = begin_liveness_session(db_session(), application_id=application_id,
                                      state=state.to_value(), now=now(), liveness_store=store)
    return _opening_status(state, attempts_left=MAX_LIVENESS_SESSIONS - progress.session,
                           resumed=False)


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


def _resent(before: liveness.SessionState, after: liveness.SessionState,
            client_ms: float | None) -> bool:
    """Whether the frame that took `before` to `after` is a copy of the last frame `before`
    took: the same bytes with the same client capture time."""
    return (client_ms is not None and before.last_client_ms == client_ms
            and before.last_digest is not None and before.last_digest == after.last_digest)


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
    store = liveness_store()
    current = current_liveness(db_session(), application_id=application_id,
                               liveness_store=store)
    client_ms = _client_ms(client_timestamp_ms)
    if current is None:
        _refuse_resent_final_frame(application_id=application_id, jpeg=jpeg,
                                   client_ms=client_ms, sessions_used=sessions_used)
        raise Conflict("no liveness session is in progress; start one first")
    state = liveness.SessionState.from_value(current.state)
    received = now().timestamp()
    commit_so_far()
    outcome = liveness.process_frame(state, jpeg=jpeg, timestamp=received,
                                     client_timestamp_ms=client_ms, analyzer=frame_analyzer())
    if _resent(state, outcome.state, client_ms):
        # A client retrying after a lost answer: the frame was applied already. Taken again,
        # its capture time would not increase, and that fails the whole attempt.
        raise WebError(409, "frame_already_received",
                       "This frame (same image and capture time) was already received; "
                       "send the next one.")
    status = dict(outcome.status)
    attempts_left = MAX_LIVENESS_SESSIONS - sessions_used
    if status.get("status") == "in_progress":
        # Compare-and-set: the state may only advance from the version this frame was
        # applied to; a frame that raced another one gets a Conflict.
        advance_liveness(db_session(), application_id=application_id, progress=current,
                         state=outcome.state.to_value(), now=now(), liveness_store=store)
        return LivenessStatus(liveness=status, attempts_left=attempts_left, finished=False,
                              passed=False, reasons=[],
                              application_state=ApplicationState.IDENTITY_SUBMITTED.value)
    # The last frame claims the stored version (same state, next version), so a frame that
    # raced it is refused; the result then goes to the database under the application lock,
    # which refuses a second result for the session. If that transaction fails, the claimed
    # state is simply the current one again and the next frame finishes the session.
    claimed = advance_liveness(db_session(), application_id=application_id, progress=current,
                               state=current.state, now=now(), liveness_store=store)
    verdict = liveness.result(outcome.state)
    details = verdict.to_dict()
    details.pop("keyframes", None)
    details[FINAL_FRAME_KEY] = _fingerprint(jpeg, client_ms)
    view = record_liveness_result(
        db_session(), application_id=application_id, passed=verdict.passed,
        score=float(verdict.score), details=details, keyframes=list(verdict.keyframes),
        now=now(), session_key=claimed.key,
    )
    if redis_stores() is not None:
        # Only once the result is committed: a state left behind by a crash here is never read
        # again (the application no longer points at it) and expires with its TTL. (The SQL
        # store's state went with the pointer, in the same transaction.)
        run_after_commit(lambda: store.discard(application_id=application_id, key=claimed.key))
    reasons = [_reason(r) for r in details.get("failure_reasons", [])]
    return LivenessStatus(liveness=status, attempts_left=attempts_left, finished=True,
                          passed=verdict.passed, reasons=reasons,
                          application_state=view.state.value)


def _fingerprint(jpeg: bytes, client_ms: float | None) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(jpeg).hexdigest(), "client_ms": client_ms}


def _refuse_resent_final_frame(*, application_id: str, jpeg: bytes, client_ms: float | None,
                               sessions_used: int) -> None:
    """409 `frame_already_received`, with the verdict, when this frame is a copy (same bytes,
    same client capture time) of the frame that finished the latest session: a client
    retrying after the answer to its last frame was lost. Returns for any other frame."""
    if client_ms is None:
        return
    latest = latest_liveness(db_session(), application_id=application_id)
    if latest is None or latest.details.get(FINAL_FRAME_KEY) != _fingerprint(jpeg, client_ms):
        return
    attempts_left = max(0, MAX_LIVENESS_SESSIONS - sessions_used)
    if latest.passed:
        verdict = "passed; go on to the interview"
    elif attempts_left:
        verdict = (f"failed; {attempts_left} attempt{'s' if attempts_left != 1 else ''} left, "
                   "start a new session to try again")
    else:
        verdict = "failed; no attempts are left"
    raise WebError(409, "frame_already_received",
                   "This frame (same image and capture time) was already received: it was the "
                   f"last of the camera check, which already finished and {verdict}.")


def _reason(raw: object) -> dict[str, str]:
    if isinstance(raw, dict):
        return {"code": str(raw.get("code", "")), "message": str(raw.get("message", ""))}
    return {"code": str(raw), "message": str(raw)}
