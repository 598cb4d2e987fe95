"""Streaming frames to the server's liveness session in real time, like the camera page does."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from web.probe.api import Applicant, Reply
from web.probe.faces import FPS, FaceClips, looped
from web.probe.result import ProbeAborted

MAX_SECONDS = 45.0


@dataclass(frozen=True)
class SessionEnd:
    """The last answer of a session: finished (passed or not) or refused mid-way."""

    finished: bool
    passed: bool
    reply: Reply
    frames_sent: int
    asked: tuple[str, ...] = ()  # the prompts the server gave, in order

    @property
    def asked_text(self) -> str:
        """The prompts as one comma-separated line ("no prompt" when there was none)."""
        return ", ".join(self.asked) or "no prompt"

    @property
    def reasons(self) -> str:
        """The server's failure reasons, or its error, as one line."""
        body = self.reply.body
        if self.reply.ok and isinstance(body, dict):
            reasons = body.get("reasons") or []
            text = "; ".join(f"{r.get('code')}: {r.get('message')}" for r in reasons
                             if isinstance(r, dict))
            return text or ("passed" if self.passed else "failed without a stated reason")
        return self.reply.reason


class FramePacer:
    """When to send the next frame: FPS frames a second, like a camera, never a catch-up burst.

    After a stall (a slow answer) a camera has dropped the frames it could not deliver; sending
    them back to back instead would look like an injected stream (frames closer together than a
    camera makes them) and could run into the server's frame rate limit. So the schedule
    restarts from the moment the probe is ready again.
    """

    def __init__(self, *, fps: float = FPS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / fps
        self._clock = clock
        self._due = clock()

    def wait(self) -> float:
        """Seconds to sleep before the next frame may go (0 when it may go now)."""
        return max(0.0, self._due - self._clock())

    def sent(self) -> None:
        """A frame went: the next is due one interval later, or now if that is already past."""
        self._due = max(self._due + self._interval, self._clock())


def _stream(applicant: Applicant, frames: Iterable[bytes], *, respond: Any = None,
            senders: Sequence[Applicant] = (), max_seconds: float = MAX_SECONDS) -> SessionEnd:
    senders = tuple(senders) or (applicant,)
    started = applicant.start_liveness()
    if started.status != 201:
        raise ProbeAborted(f"cannot start a liveness session: {started.reason}")
    t0 = time.monotonic()
    pacer = FramePacer()
    sent = 0
    prompts: dict[int, str] = {}
    source: Iterator[bytes] = iter(frames)
    while time.monotonic() - t0 < max_seconds:
        frame = next(source, None)
        if frame is None:
            break
        time.sleep(pacer.wait())
        sender = senders[sent % len(senders)]
        reply = sender.send_frame(frame, client_ms=int(time.time() * 1000))
        pacer.sent()
        sent += 1
        if not reply.ok:
            return SessionEnd(finished=False, passed=False, reply=reply, frames_sent=sent,
                              asked=_in_order(prompts))
        body = reply.body if isinstance(reply.body, dict) else {}
        status = body.get("liveness")
        if not isinstance(status, dict):
            status = {}
        index, prompt = status.get("challenge_index"), status.get("prompt")
        if isinstance(index, int) and isinstance(prompt, str):
            prompts[index] = prompt
        if body.get("finished"):
            return SessionEnd(finished=True, passed=bool(body.get("passed")), reply=reply,
                              frames_sent=sent, asked=_in_order(prompts))
        if respond is not None:
            respond(status)
    raise ProbeAborted(f"the liveness session gave no verdict after {sent} frames")


def _in_order(prompts: dict[int, str]) -> tuple[str, ...]:
    return tuple(prompts[i] for i in sorted(prompts))


class _Performer:
    """Frames of an honest person: a neutral face, and each prompted action once."""

    def __init__(self, clips: FaceClips) -> None:
        self.clips = clips
        self.pending: list[bytes] = []
        self.done: set[int] = set()
        self.neutral = looped(clips.neutral)

    def respond(self, status: dict[str, Any]) -> None:
        index, prompt = status.get("challenge_index"), status.get("prompt")
        if (status.get("status") == "in_progress" and isinstance(prompt, str)
                and isinstance(index, int) and index not in self.done and not self.pending
                and prompt in self.clips.actions):
            self.done.add(index)
            self.pending.extend(self.clips.actions[prompt])

    def frames(self) -> Iterator[bytes]:
        while True:
            yield self.pending.pop(0) if self.pending else next(self.neutral)


def perform_honestly(applicant: Applicant, clips: FaceClips, *,
                     senders: Sequence[Applicant] = ()) -> SessionEnd:
    """Answer every prompt with the matching action (a bona fide applicant).

    With `senders` (the same application reached through several servers), frame i goes to
    `senders[i % len(senders)]`.
    """
    performer = _Performer(clips)
    return _stream(applicant, performer.frames(), respond=performer.respond, senders=senders)


def replay_clip(applicant: Applicant, frames: tuple[bytes, ...]) -> SessionEnd:
    """Play a fixed recording in a loop, ignoring the prompts (a presentation attack)."""
    return _stream(applicant, looped(frames))


def pass_liveness(applicant: Applicant, clips: FaceClips) -> None:
    """Complete liveness honestly, or ProbeAborted (the control path must work)."""
    end = perform_honestly(applicant, clips)
    if not end.passed:
        raise ProbeAborted(f"an honest liveness session did not pass: {end.reasons}")
