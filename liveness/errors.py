"""The liveness exception family: every error this package raises is a `LivenessError`."""

from __future__ import annotations


class LivenessError(Exception):
    """Base class of every liveness error; carries a stable machine-readable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class FrameRejected(LivenessError):
    """A frame could not be used (not an image, too big, wrong format); the session is unchanged."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(reason_code, message)
        self.reason_code = reason_code


class InvalidSession(LivenessError):
    """Serialised session state is malformed, from another version, or already finished."""


class InvalidChallenge(LivenessError):
    """A challenge name or sequence is not valid."""


class CorpusError(LivenessError):
    """The evaluation corpus or a video file cannot be read or written."""
