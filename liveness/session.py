"""The challenge-response session: a serialisable value advanced one frame at a time.

Phases: `waiting` (a steady, frontal, eyes-open face is needed to measure the neutral baseline)
→ `prompt` (challenge i is shown; only its action may be performed) → `between` (the face must
return to neutral before challenge i+1 is shown) → ... → `passed` or `failed`.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import secrets
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import orjson

from liveness.analyzer import FrameAnalyzer
from liveness.challenges import PROMPT_TEXT, Challenge, draw_challenges, parse_challenges
from liveness.decode import decode_frame, frame_digest
from liveness.errors import InvalidSession
from liveness.image import RgbImage, bgr_from_rgb
from liveness.passive import passive_failures
from liveness.signals import FaceGeometry, FrameSignals, similarity_residual
from liveness.thresholds import DEFAULT_THRESHOLDS, Thresholds

STATE_VERSION = 1
MAX_KEYFRAMES = 5
KEYFRAME_WIDTH = 240
TRACE_KEYS = ("t", "ear_left", "ear_right", "mouth", "yaw", "pitch", "roll", "sharpness",
              "exposure", "face_count", "face_width", "nonrigid", "frozen")
ACTIONS = tuple(Challenge)


@dataclass
class SessionState:
    """Everything a session remembers between frames; JSON round-trips with to_json/from_json.

    Treat it as a value: `process_frame` never mutates the state it is given.
    """

    challenges: list[str]
    created_at: float
    version: int = STATE_VERSION
    phase: str = "waiting"
    index: int = 0
    phase_started_at: float | None = None
    steady_since: float | None = None
    steady: list[list[float]] = field(default_factory=list)  # ear, mouth, yaw, pitch, roll
    neutral_since: float | None = None
    baseline: dict[str, float] | None = None
    reference_shape: list[list[float]] | None = None
    reference_iod: float = 0.0
    blink_closed_at: float | None = None
    wrong_action: str | None = None
    wrong_streak: int = 0
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    traces: dict[str, list[float | None]] = field(
        default_factory=lambda: {k: [] for k in TRACE_KEYS})
    phashes: list[str] = field(default_factory=list)
    first_time: float | None = None
    last_time: float | None = None
    first_client_ms: float | None = None
    last_client_ms: float | None = None
    last_digest: str | None = None
    last_thumb: str | None = None
    frozen_run_since: float | None = None
    max_frozen_run: float = 0.0
    fast_frames: int = 0
    multi_face_frames: int = 0
    multi_face_run: int = 0
    keyframes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """True once the session has passed or failed."""
        return self.phase in ("passed", "failed")

    def to_json(self) -> str:
        """Compact JSON of the whole state."""
        # Every field already holds JSON types, so no recursive dataclass conversion is needed.
        # orjson: the state is stored and reloaded on every frame, and the stdlib encoder spent
        # about 1 ms per frame on it (float formatting, base64 keyframes); orjson takes ~0.1 ms.
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return orjson.dumps(fields).decode("utf-8")

    def to_value(self) -> dict[str, Any]:
        """The state as plain JSON values, exactly what `to_json` writes (for a JSON column)."""
        value: dict[str, Any] = orjson.loads(self.to_json())
        return value

    def copy(self) -> SessionState:
        """An independent copy (containers copied, immutable leaves shared)."""
        return dataclasses.replace(
            self,
            challenges=list(self.challenges),
            steady=[list(row) for row in self.steady],
            baseline=dict(self.baseline) if self.baseline is not None else None,
            reference_shape=[list(p) for p in self.reference_shape]
            if self.reference_shape is not None else None,
            outcomes=[dict(o) for o in self.outcomes],
            failures=[dict(f) for f in self.failures],
            traces={k: list(v) for k, v in self.traces.items()},
            phashes=list(self.phashes),
            keyframes=[dict(k) for k in self.keyframes],
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SessionState:
        """Parse state produced by `to_json`; raises InvalidSession when malformed."""
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidSession("malformed_state", f"session state is not JSON: {exc}") from None
        return cls.from_value(raw)

    @classmethod
    def from_value(cls, raw: object) -> SessionState:
        """Parse state produced by `to_value` (already decoded JSON); raises InvalidSession."""
        if not isinstance(raw, dict):
            raise InvalidSession("malformed_state", "session state must be a JSON object")
        if raw.get("version") != STATE_VERSION:
            raise InvalidSession("state_version",
                                 f"session state version {raw.get('version')!r} is not supported")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - names
        if unknown:
            raise InvalidSession("malformed_state", f"unknown state fields: {sorted(unknown)}")
        try:
            state = cls(**raw)
            parse_challenges(state.challenges)
        except (TypeError, ValueError) as exc:
            raise InvalidSession("malformed_state", f"session state is invalid: {exc}") from None
        if state.phase not in ("waiting", "prompt", "between", "passed", "failed"):
            raise InvalidSession("malformed_state", f"unknown phase {state.phase!r}")
        if not 0 <= state.index <= len(state.challenges):
            raise InvalidSession("malformed_state", "challenge index out of range")
        return state


@dataclass(frozen=True)
class FrameOutcome:
    """The state after a frame, and the status to show the client."""

    state: SessionState
    status: dict[str, Any]


def new_session(*, challenges: Sequence[str] | None = None,
                rng: secrets.SystemRandom | random.Random | None = None,
                now: float) -> SessionState:
    """Start a session. `challenges=None` draws 3 distinct challenges from `rng`
    (cryptographic randomness when `rng` is None); the web layer passes the sequence configured
    in CARDSIM_LIVENESS_CHALLENGES (see `challenges_from_env`) for demos and tests."""
    chosen = parse_challenges(challenges) if challenges is not None else draw_challenges(rng)
    return SessionState(challenges=[c.value for c in chosen], created_at=now)


def process_frame(state: SessionState, *, jpeg: bytes, timestamp: float,
                  analyzer: FrameAnalyzer, client_timestamp_ms: float | None = None,
                  thresholds: Thresholds = DEFAULT_THRESHOLDS) -> FrameOutcome:
    """Decode and analyse one frame and advance the session.

    `timestamp` is the server receive time in seconds; `client_timestamp_ms` the capture time the
    client reported. Raises FrameRejected for unusable bytes and InvalidSession for a finished
    session, in both cases without touching `state`.
    """
    if state.finished:
        raise InvalidSession("session_finished", f"the session has already {state.phase}")
    image = decode_frame(jpeg)
    signals = analyzer.analyze(image)
    digest = frame_digest(jpeg)
    return advance(state, signals=signals, timestamp=timestamp, digest=digest, image=image,
                   client_timestamp_ms=client_timestamp_ms, thresholds=thresholds)


def advance(state: SessionState, *, signals: FrameSignals, timestamp: float, digest: str,
            image: RgbImage | None = None, client_timestamp_ms: float | None = None,
            thresholds: Thresholds = DEFAULT_THRESHOLDS) -> FrameOutcome:
    """Advance a copy of `state` by one analysed frame (`image` only feeds keyframes)."""
    if state.finished:
        raise InvalidSession("session_finished", f"the session has already {state.phase}")
    work = state.copy()
    advance_in_place(work, signals=signals, timestamp=timestamp, digest=digest, image=image,
                     client_timestamp_ms=client_timestamp_ms, thresholds=thresholds)
    return FrameOutcome(state=work, status=status_of(work, timestamp, signals, thresholds))


def advance_in_place(state: SessionState, *, signals: FrameSignals, timestamp: float,
                     digest: str, image: RgbImage | None = None,
                     client_timestamp_ms: float | None = None,
                     thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
    """`advance` without the copy, for offline replays that own their state (evaluation)."""
    if state.finished:
        raise InvalidSession("session_finished", f"the session has already {state.phase}")
    _Step(state, signals, timestamp, digest, image, client_timestamp_ms, thresholds).run()


def classify(face: FaceGeometry, baseline: dict[str, float], th: Thresholds) -> set[Challenge]:
    """The challenge actions visible in one frame, judged against the neutral baseline."""
    actions: set[Challenge] = set()
    ear = (face.ear_left + face.ear_right) / 2
    if ear < th.blink_close_ratio * baseline["ear"]:
        actions.add(Challenge.BLINK)
    yaw = face.yaw - baseline["yaw"]
    if yaw >= th.turn_degrees:
        actions.add(Challenge.TURN_LEFT)
    elif yaw <= -th.turn_degrees:
        actions.add(Challenge.TURN_RIGHT)
    if face.pitch - baseline["pitch"] <= -th.nod_degrees:
        actions.add(Challenge.NOD)
    if face.mouth >= max(th.mouth_open, baseline["mouth"] + th.mouth_open_delta):
        actions.add(Challenge.OPEN_MOUTH)
    return actions


def is_neutral(face: FaceGeometry, baseline: dict[str, float], th: Thresholds) -> bool:
    """Facing the camera like the baseline: head within the neutral band, mouth shut, eyes open."""
    ear = (face.ear_left + face.ear_right) / 2
    return (abs(face.yaw - baseline["yaw"]) < th.neutral_degrees
            and abs(face.pitch - baseline["pitch"]) < th.neutral_degrees
            and face.mouth < baseline["mouth"] + th.mouth_open_delta / 2
            and ear > th.blink_open_ratio * baseline["ear"])


class _Step:
    """One frame's update of a working copy of the state."""

    def __init__(self, state: SessionState, signals: FrameSignals, t: float, digest: str,
                 image: RgbImage | None, client_ms: float | None,
                 th: Thresholds) -> None:
        self.s, self.sig, self.t, self.digest = state, signals, t, digest
        self.image, self.client_ms, self.th = image, client_ms, th

    def run(self) -> None:
        s, t = self.s, self.t
        if s.first_time is None:
            s.first_time = t
            self._keyframe("first_frame")
        self._check_timing()
        frozen = self._check_frozen()
        self._trace(frozen)
        if self.sig.face_count >= 2:
            s.multi_face_frames += 1
            s.multi_face_run += 1
            if s.multi_face_run >= self.th.multi_face_run_frames:
                self._fail("multiple_faces", f"a second face was in view for "
                                             f"{s.multi_face_run} consecutive frames")
        else:
            s.multi_face_run = 0
        s.last_time, s.last_digest = t, self.digest
        if self.client_ms is not None:
            s.last_client_ms = self.client_ms
        if s.finished:
            return
        if t - s.first_time > self.th.session_seconds or \
                len(s.traces["t"]) > self.th.max_frames:
            self._fail("session_too_long", "the session took too long")
            return
        face = self.sig.face if self.sig.face_count == 1 else None
        if s.phase == "waiting":
            self._waiting(face)
        elif s.phase == "prompt":
            self._prompt(face)
        elif s.phase == "between":
            self._between(face)

    # -- checks on every frame -------------------------------------------------------------
    def _check_timing(self) -> None:
        s, t, th = self.s, self.t, self.th
        if s.last_time is not None:
            interval = t - s.last_time
            if interval < 0:
                self._fail("timestamp_order", "frame times went backwards")
            elif interval < th.min_frame_interval:
                s.fast_frames += 1
            elif interval > th.max_frame_gap:
                self._fail("frame_gap", f"no frame for {interval:.1f} s")
        if self.client_ms is None:
            return
        if s.last_client_ms is not None and self.client_ms <= s.last_client_ms:
            self._fail("client_timestamp_order", "client capture times did not increase")
        if s.first_client_ms is None:
            s.first_client_ms = self.client_ms
        assert s.first_time is not None
        server_elapsed = t - s.first_time
        client_elapsed = (self.client_ms - s.first_client_ms) / 1000.0
        if abs(client_elapsed - server_elapsed) > th.max_clock_drift + 0.1 * server_elapsed:
            self._fail("clock_drift", f"client clock ran {client_elapsed:.1f} s while the server "
                                      f"saw {server_elapsed:.1f} s")

    def _check_frozen(self) -> bool:
        s, t = self.s, self.t
        thumb = np.frombuffer(self.sig.thumb, dtype=np.uint8).astype(np.float32)
        frozen = s.last_digest == self.digest
        if not frozen and s.last_thumb is not None:
            previous = np.frombuffer(base64.b64decode(s.last_thumb), dtype=np.uint8)
            if previous.size == thumb.size:
                frozen = float(np.abs(previous.astype(np.float32) - thumb).mean()) < \
                    self.th.frozen_mad
        s.last_thumb = base64.b64encode(self.sig.thumb).decode("ascii")
        if frozen:
            if s.frozen_run_since is None:
                s.frozen_run_since = s.last_time if s.last_time is not None else t
            s.max_frozen_run = max(s.max_frozen_run, t - s.frozen_run_since)
        else:
            s.frozen_run_since = None
        return frozen

    def _trace(self, frozen: bool) -> None:
        s, sig = self.s, self.sig
        face = sig.face
        nonrigid = float("nan")
        if face is not None and sig.face_count == 1:
            shape = np.array(face.shape, dtype=np.float64)
            if s.reference_shape is None:
                s.reference_shape = [[round(x, 2), round(y, 2)] for x, y in face.shape]
                s.reference_iod = face.iod
            elif s.reference_iod > 0:
                reference = np.array(s.reference_shape, dtype=np.float64)
                nonrigid = similarity_residual(reference, shape) / s.reference_iod
        values = {
            "t": self.t,
            "ear_left": face.ear_left if face else float("nan"),
            "ear_right": face.ear_right if face else float("nan"),
            "mouth": face.mouth if face else float("nan"),
            "yaw": face.yaw if face else float("nan"),
            "pitch": face.pitch if face else float("nan"),
            "roll": face.roll if face else float("nan"),
            "sharpness": sig.sharpness,
            "exposure": sig.exposure,
            "face_count": float(sig.face_count),
            "face_width": face.box[2] if face else 0.0,
            "nonrigid": nonrigid,
            "frozen": 1.0 if frozen else 0.0,
        }
        for key in TRACE_KEYS:
            value = values[key]
            # JSON has no NaN (PostgreSQL's json type rejects it): missing values are null.
            s.traces[key].append(None if value != value else round(value, 4))
        s.phashes.append(sig.phash)

    # -- phases -----------------------------------------------------------------------------
    def _waiting(self, face: FaceGeometry | None) -> None:
        s, t, th = self.s, self.t, self.th
        assert s.first_time is not None
        if t - s.first_time > th.start_seconds:
            seen = any(c is not None and c >= 1 for c in s.traces["face_count"])
            if seen:
                self._fail("no_steady_face", "no steady, frontal face with open eyes was seen")
            else:
                self._fail("no_face", "no face was seen")
            return
        if face is None or face.box[2] < th.min_face_width:
            s.steady, s.steady_since = [], None
            return
        sample = [(face.ear_left + face.ear_right) / 2, face.mouth, face.yaw, face.pitch,
                  face.roll]
        if s.steady and not _consistent(sample, s.steady):
            s.steady, s.steady_since = [], None
        if not s.steady:
            s.steady_since = t
        s.steady.append([round(v, 4) for v in sample])
        assert s.steady_since is not None
        if t - s.steady_since >= th.steady_seconds and len(s.steady) >= 3:
            columns = list(zip(*s.steady, strict=True))
            s.baseline = {name: statistics.median(col) for name, col in
                          zip(("ear", "mouth", "yaw", "pitch", "roll"), columns, strict=True)}
            s.steady = []
            self._keyframe("baseline")
            self._start_prompt()

    def _start_prompt(self) -> None:
        s = self.s
        s.phase, s.phase_started_at = "prompt", self.t
        s.blink_closed_at, s.wrong_action, s.wrong_streak = None, None, 0

    def _prompt(self, face: FaceGeometry | None) -> None:
        s, t, th = self.s, self.t, self.th
        assert s.baseline is not None and s.phase_started_at is not None
        challenge = Challenge(s.challenges[s.index])
        if t - s.phase_started_at > th.challenge_seconds:
            self._record(challenge, passed=False)
            self._fail("challenge_timeout",
                       f"{challenge.value} was not performed within {th.challenge_seconds:g} s")
            return
        if face is None:
            return
        actions = classify(face, s.baseline, th)
        done = False
        if challenge is Challenge.BLINK:
            if Challenge.BLINK in actions:
                if s.blink_closed_at is None:
                    s.blink_closed_at = t
                    self._keyframe(challenge.value)
            elif s.blink_closed_at is not None and \
                    (face.ear_left + face.ear_right) / 2 > th.blink_open_ratio * s.baseline["ear"]:
                done = True
        elif challenge in actions:
            done = True
            self._keyframe(challenge.value)
        # Spontaneous blinks are involuntary, so a blink never counts as a wrong action.
        wrong = sorted(a.value for a in actions - {challenge, Challenge.BLINK})
        if wrong:
            s.wrong_streak = s.wrong_streak + 1 if s.wrong_action == wrong[0] else 1
            s.wrong_action = wrong[0]
            if s.wrong_streak >= th.wrong_action_frames:
                self._record(challenge, passed=False)
                self._keyframe("failure")
                self._fail("wrong_action",
                           f"{s.wrong_action} was performed while {challenge.value} was asked")
                return
        else:
            s.wrong_action, s.wrong_streak = None, 0
        if not done:
            return
        if t - s.phase_started_at < th.min_reaction_seconds:
            self._record(challenge, passed=False)
            self._fail("response_too_fast",
                       f"{challenge.value} was completed {t - s.phase_started_at:.2f} s after "
                       "its prompt, faster than a person can react")
            return
        self._record(challenge, passed=True)
        s.index += 1
        if s.index >= len(s.challenges):
            self._finish()
        else:
            s.phase, s.phase_started_at, s.neutral_since = "between", t, None

    def _between(self, face: FaceGeometry | None) -> None:
        s, t, th = self.s, self.t, self.th
        assert s.baseline is not None and s.phase_started_at is not None
        if t - s.phase_started_at > th.between_seconds:
            self._fail("no_return_to_neutral", "the face did not return to neutral in time")
            return
        if face is None or not is_neutral(face, s.baseline, th):
            s.neutral_since = None
            return
        if s.neutral_since is None:
            s.neutral_since = t
        if t - s.neutral_since >= th.neutral_seconds:
            self._start_prompt()

    # -- bookkeeping ------------------------------------------------------------------------
    def _record(self, challenge: Challenge, *, passed: bool) -> None:
        s = self.s
        started = s.phase_started_at
        s.outcomes.append({
            "name": challenge.value,
            "passed": passed,
            "started_at": started,
            "completed_at": self.t if passed else None,
            "duration": round(self.t - started, 3) if passed and started is not None else None,
        })

    def _fail(self, code: str, message: str) -> None:
        s = self.s
        if any(f["code"] == code for f in s.failures):
            return
        s.failures.append({"code": code, "message": message})
        if not s.finished:
            self._finish()

    def _finish(self) -> None:
        _conclude(self.s, self.th)
        self._keyframe("final")

    def _keyframe(self, label: str) -> None:
        s = self.s
        if self.image is None:
            return
        if label == "final" and any(k["t"] == self.t for k in s.keyframes):
            return
        small: npt.NDArray[Any] = self.image
        # Halve by whole factors first: OpenCV's area resize is much faster for integer factors
        # (a 640 px keyframe: 2.9 -> 1.3 ms), and the picture is the same to ~0.5 grey levels.
        while small.shape[1] >= 2 * KEYFRAME_WIDTH:
            small = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2),
                               interpolation=cv2.INTER_AREA)
        height, width = small.shape[:2]
        scale = min(1.0, KEYFRAME_WIDTH / width)
        if scale < 1:
            small = cv2.resize(small, (round(width * scale), round(height * scale)),
                               interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(".jpg", bgr_from_rgb(RgbImage(small)),  # BGR for OpenCV
                                   [cv2.IMWRITE_JPEG_QUALITY, 75])
        if not ok:
            return
        s.keyframes.append({"label": label, "t": self.t,
                            "jpeg": base64.b64encode(encoded.tobytes()).decode("ascii")})
        if len(s.keyframes) > MAX_KEYFRAMES:
            # The very first frame is the least informative once the baseline exists.
            drop = next((i for i, k in enumerate(s.keyframes) if k["label"] == "first_frame"), 1)
            del s.keyframes[drop]


def _conclude(s: SessionState, th: Thresholds) -> None:
    """Run the passive checks and settle the verdict."""
    for code, message in passive_failures(s.traces, s, th):
        if all(f["code"] != code for f in s.failures):
            s.failures.append({"code": code, "message": message})
    s.phase = "failed" if s.failures else "passed"
    s.steady, s.last_thumb = [], None


def expire(state: SessionState, *, now: float,
           thresholds: Thresholds = DEFAULT_THRESHOLDS) -> SessionState:
    """Close a session whose frames stopped coming (client gone, video ended): it fails with
    `session_incomplete` plus any passive check it already fails. Finished sessions are
    returned unchanged."""
    if state.finished:
        return state
    work = state.copy()
    waited = now - (work.last_time if work.last_time is not None else work.created_at)
    work.failures.append({"code": "session_incomplete",
                          "message": f"no verdict when frames stopped ({work.phase} phase, "
                                     f"{waited:.1f} s after the last frame)"})
    _conclude(work, thresholds)
    return work


def _consistent(sample: list[float], steady: list[list[float]]) -> bool:
    """Whether a frame matches the running median of the steady buffer (no blink or motion)."""
    ear, mouth, yaw, pitch, roll = (statistics.median(c) for c in zip(*steady, strict=True))
    return (abs(sample[0] / ear - 1) < 0.15 if ear > 0 else False) and \
        abs(sample[1] - mouth) < 0.08 and abs(sample[2] - yaw) < 4 and \
        abs(sample[3] - pitch) < 4 and abs(sample[4] - roll) < 6


def _hint(signals: FrameSignals, th: Thresholds) -> str:
    face = signals.face
    if signals.face_count == 0 or face is None:
        return "No face found: look at the camera"
    if signals.face_count > 1:
        return "Only one person may be in view"
    if face.box[2] < th.min_face_width:
        return "Move closer"
    if abs(face.center_offset[0]) > 0.25 or abs(face.center_offset[1]) > 0.25:
        return "Center your face"
    if signals.exposure < th.min_exposure:
        return "More light needed"
    if signals.exposure > th.max_exposure:
        return "Too bright"
    if signals.sharpness < th.min_sharpness:
        return "Hold still: the image is blurred"
    return ""


def status_of(state: SessionState, now: float, signals: FrameSignals | None = None,
              th: Thresholds = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """The client-facing status of a session at time `now`."""
    total = len(state.challenges)
    prompt: str | None = None
    text = ""
    seconds_left = 0.0
    started = state.phase_started_at
    if state.phase == "waiting":
        text = "Look at the camera and hold still"
        first = state.first_time if state.first_time is not None else now
        seconds_left = th.start_seconds - (now - first)
    elif state.phase == "prompt" and started is not None:
        prompt = state.challenges[state.index]
        text = PROMPT_TEXT[Challenge(prompt)]
        seconds_left = th.challenge_seconds - (now - started)
    elif state.phase == "between" and started is not None:
        text = "Look straight at the camera"
        seconds_left = th.between_seconds - (now - started)
    elif state.phase == "passed":
        text = "Liveness check passed"
    else:
        text = "Liveness check failed"
    status = "in_progress" if state.phase in ("waiting", "prompt", "between") else state.phase
    face_found = bool(signals and signals.face_count >= 1)
    return {
        "status": status,
        "prompt": prompt,
        "prompt_text": text,
        "challenge_index": min(state.index, total),
        "challenges_total": total,
        "seconds_left": round(max(seconds_left, 0.0), 2),
        "face_found": face_found,
        "hint": _hint(signals, th) if signals is not None and not state.finished else "",
    }
