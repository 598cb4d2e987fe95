"""Active and passive face liveness: frames in, a verdict a bank can defend out.

Standalone: imports only the standard library, numpy, OpenCV and mediapipe.
"""

from liveness.analyzer import FrameAnalyzer
from liveness.challenges import (
    ENV_CHALLENGES,
    PROMPT_TEXT,
    Challenge,
    challenges_from_env,
    draw_challenges,
    parse_challenges,
)
from liveness.errors import (
    CorpusError,
    FrameRejected,
    InvalidChallenge,
    InvalidSession,
    LivenessError,
)
from liveness.result import ChallengeOutcome, FailureReason, LivenessResult, result
from liveness.session import (
    FrameOutcome,
    SessionState,
    advance,
    expire,
    new_session,
    process_frame,
)
from liveness.signals import FrameSignals
from liveness.thresholds import DEFAULT_THRESHOLDS, Thresholds

MAX_SESSIONS_PER_APPLICATION = 3

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ENV_CHALLENGES",
    "MAX_SESSIONS_PER_APPLICATION",
    "PROMPT_TEXT",
    "Challenge",
    "ChallengeOutcome",
    "CorpusError",
    "FailureReason",
    "FrameAnalyzer",
    "FrameOutcome",
    "FrameRejected",
    "FrameSignals",
    "InvalidChallenge",
    "InvalidSession",
    "LivenessError",
    "LivenessResult",
    "SessionState",
    "Thresholds",
    "advance",
    "challenges_from_env",
    "draw_challenges",
    "expire",
    "new_session",
    "parse_challenges",
    "process_frame",
    "result",
]
