"""ISO/IEC 30107-3 style evaluation of the session logic on the generated corpus.

Every frame goes through the server path once (JPEG decode, face mesh, signals); the session
logic is then replayed over the cached signals for each threshold candidate, so thresholds are
chosen on the calibration half and the figures reported on the other half.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2

from liveness.analyzer import FrameAnalyzer
from liveness.challenges import Challenge
from liveness.corpus import ATTACK_TYPES, BONA_FIDE, ClipSpec, Image, VideoFile, read_manifest
from liveness.decode import decode_frame, frame_digest
from liveness.errors import CorpusError
from liveness.passive import micro_motion
from liveness.result import result
from liveness.session import SessionState, advance_in_place, expire, new_session
from liveness.signals import FrameSignals
from liveness.thresholds import DEFAULT_THRESHOLDS, Thresholds

SAMPLE_FPS = 10.0
MICRO_MOTION_GRID = tuple(round(0.004 + 0.002 * i, 3) for i in range(24))


@dataclass(frozen=True)
class AnalysedClip:
    """A clip's frames as the server saw them: signals, JPEG digests and timestamps."""

    spec: ClipSpec
    signals: tuple[FrameSignals, ...]
    digests: tuple[str, ...]
    timestamps: tuple[float, ...]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one session over one clip."""

    clip_id: str
    kind: str
    passed: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Metrics:
    """APCER per attack type (and the worst), BPCER and ACER, with counts."""

    apcer: dict[str, float]
    attacks: dict[str, int]
    bpcer: float
    bona_fide: int

    @property
    def worst_apcer(self) -> float:
        return max(self.apcer.values(), default=0.0)

    @property
    def acer(self) -> float:
        return (self.worst_apcer + self.bpcer) / 2


def analyse_video(path: Path, *, fps: float | None, analyzer: FrameAnalyzer | None = None,
                  sample_fps: float = SAMPLE_FPS, latencies: list[float] | None = None,
                  expected_frames: int | None = None,
                  thresholds: Thresholds = DEFAULT_THRESHOLDS,
                  ) -> tuple[list[FrameSignals], list[str], list[float]]:
    """Signals of the frames a browser would post from a video, through the JPEG server path.

    The frames are those a client capturing at `sample_fps` would post (sample i is frame
    int(i * step), step = fps / sample_fps, at least 1), decoded one at a time (never the whole
    video in memory). Reading stops at the first frame a session could not go past
    (`thresholds.session_seconds` or `max_frames`), so a long video costs no more than that and
    its verdict is the same. Without an `analyzer`, one is built only once a frame has been
    decoded, so a bad file is reported before the face mesh loads. `expected_frames` (a corpus
    manifest's count) must match the frames in the file.
    """
    signals: list[FrameSignals] = []
    digests: list[str] = []
    stamps: list[float] = []
    with VideoFile(path) as video:
        rate = fps or video.fps
        step = max(rate / sample_fps, 1.0)
        # Sample i is frame int(i * step), posted only when the video lasts at least
        # (i + 1) * step frames; it waits in `pending` until then.
        taken = 0  # samples decoded
        pending: list[tuple[int, Image]] = []
        count = 0
        stopped = False

        def wanted(index: int) -> bool:
            return index == int(taken * step)

        for index, frame in video.frames(wanted):
            count = index + 1
            if frame is not None:
                pending.append((index, frame))
                taken += 1
            while pending and count >= (len(signals) + 1) * step:
                if analyzer is None:
                    analyzer = FrameAnalyzer()
                _analyse_frame(path, *pending.pop(0), rate, analyzer, signals, digests, stamps,
                               latencies)
                if stamps[-1] - stamps[0] > thresholds.session_seconds or \
                        len(signals) > thresholds.max_frames:
                    stopped = True  # a session ends here (session_too_long): read no further
                    break
            if stopped:
                break
    if expected_frames is not None and (stopped or count != expected_frames):
        found = f"more than {count}" if stopped else str(count)
        raise CorpusError("clip_mismatch", f"{path} has {found} frames where the manifest "
                                           f"says {expected_frames}: the clip was truncated, "
                                           "damaged or replaced (run generate-corpus again)")
    if count == 0:
        raise CorpusError("unreadable_video", f"no frames could be decoded from {path}")
    if not signals:
        raise CorpusError("video_too_short", f"{path} is too short: {count} frame(s) at "
                                             f"{rate:g} fps, less than one frame at "
                                             f"{sample_fps:g} fps")
    return signals, digests, stamps


def _analyse_frame(path: Path, index: int, frame: Image, rate: float, analyzer: FrameAnalyzer,
                   signals: list[FrameSignals], digests: list[str], stamps: list[float],
                   latencies: list[float] | None) -> None:
    """Post one frame through the server path: JPEG encode, decode, face mesh, signals."""
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise CorpusError("encode_failed", f"cannot encode frame {index} of {path}")
    data = encoded.tobytes()
    started = time.perf_counter()
    image = decode_frame(data)
    signals.append(analyzer.analyze(image))
    if latencies is not None:
        latencies.append(time.perf_counter() - started)
    digests.append(frame_digest(data))
    stamps.append(index / rate)


def analyse_corpus(directory: Path, analyzer: FrameAnalyzer,
                   progress: Callable[[str], None] | None = None,
                   latencies: list[float] | None = None) -> list[AnalysedClip]:
    """Analyse every clip listed in the corpus manifest."""
    clips = []
    for spec in read_manifest(directory):
        signals, digests, stamps = analyse_video(directory / spec.file, fps=spec.fps,
                                                 analyzer=analyzer, latencies=latencies,
                                                 expected_frames=spec.frames)
        clips.append(AnalysedClip(spec, tuple(signals), tuple(digests), tuple(stamps)))
        if progress:
            progress(spec.clip_id)
    return clips


def run_session(clip: AnalysedClip, challenges: Sequence[str],
                thresholds: Thresholds = DEFAULT_THRESHOLDS) -> SessionState:
    """Replay a clip's frames through a fresh session; expire it if the clip ends first."""
    state = new_session(challenges=challenges, now=clip.timestamps[0] if clip.timestamps else 0)
    for signals, digest, stamp in zip(clip.signals, clip.digests, clip.timestamps, strict=True):
        advance_in_place(state, signals=signals, timestamp=stamp, digest=digest,
                         client_timestamp_ms=stamp * 1000, thresholds=thresholds)
        if state.finished:
            return state
    return expire(state, now=clip.timestamps[-1] if clip.timestamps else 0,
                  thresholds=thresholds)


def verdicts(clips: Sequence[AnalysedClip], thresholds: Thresholds) -> list[Verdict]:
    """One session per clip, asking the clip's configured challenge order."""
    out = []
    for clip in clips:
        verdict = result(run_session(clip, clip.spec.session_challenges, thresholds))
        out.append(Verdict(clip.spec.clip_id, clip.spec.kind, verdict.passed,
                           tuple(f.code for f in verdict.failure_reasons)))
    return out


def metrics(results: Sequence[Verdict]) -> Metrics:
    """APCER per attack type = accepted / presented; BPCER = bona fide rejected / presented."""
    apcer, attacks = {}, {}
    for kind in ATTACK_TYPES:
        rows = [r for r in results if r.kind == kind]
        if rows:
            attacks[kind] = len(rows)
            apcer[kind] = sum(r.passed for r in rows) / len(rows)
    bona = [r for r in results if r.kind == BONA_FIDE]
    bpcer = sum(not r.passed for r in bona) / len(bona) if bona else 0.0
    return Metrics(apcer, attacks, bpcer, len(bona))


PHOTO_ATTACKS = ("static_photo", "photo_jitter", "photo_rigid")


def micro_motion_of(clip: AnalysedClip,
                    thresholds: Thresholds = DEFAULT_THRESHOLDS) -> float | None:
    """The micro-motion statistic the passive check sees for a clip (None when unmeasurable)."""
    state = run_session(clip, clip.spec.session_challenges, thresholds)
    return micro_motion(state.traces, state.baseline, thresholds)


@dataclass(frozen=True)
class CheckFigures:
    """The micro-motion check on its own: photo attacks it lets through, live clips it stops."""

    threshold: float
    photo_accepted: int
    photos: int
    live_rejected: int
    live: int
    max_photo: float
    min_live: float


def micro_motion_figures(clips: Sequence[AnalysedClip], threshold: float,
                         thresholds: Thresholds = DEFAULT_THRESHOLDS) -> CheckFigures:
    """How the micro-motion check alone separates photo attacks from bona fide clips."""
    photos = [v for c in clips if c.spec.kind in PHOTO_ATTACKS
              if (v := micro_motion_of(c, thresholds)) is not None]
    live = [v for c in clips if c.spec.kind == BONA_FIDE
            if (v := micro_motion_of(c, thresholds)) is not None]
    return CheckFigures(threshold, sum(v >= threshold for v in photos), len(photos),
                        sum(v < threshold for v in live), len(live), max(photos, default=0.0),
                        min(live, default=0.0))


def calibrate(clips: Sequence[AnalysedClip],
              base: Thresholds = DEFAULT_THRESHOLDS) -> tuple[Thresholds, CheckFigures]:
    """Choose `min_micro_motion` on `clips` from the check's own separation: the geometric
    mean of the most mobile photo attack and the stillest bona fide clip (when they overlap,
    the grid value with the fewest errors of the check alone)."""
    figures = micro_motion_figures(clips, base.min_micro_motion, base)
    if 0 < figures.max_photo < figures.min_live:
        chosen = round(math.sqrt(figures.max_photo * figures.min_live), 4)
    else:
        def errors(value: float) -> int:
            f = micro_motion_figures(clips, value, base)
            return f.photo_accepted + f.live_rejected
        chosen = min(MICRO_MOTION_GRID, key=errors)
    return replace(base, min_micro_motion=chosen), micro_motion_figures(clips, chosen, base)


def loop_against_all_orders(clip: AnalysedClip, thresholds: Thresholds) -> tuple[int, int]:
    """How many of all possible 3-challenge orders a looping clip passes (passes, orders)."""
    orders = list(itertools.permutations([c.value for c in Challenge], 3))
    passed = sum(result(run_session(clip, order, thresholds)).passed for order in orders)
    return passed, len(orders)


def format_metrics(title: str, m: Metrics) -> list[str]:
    """Printable lines of one metrics block."""
    lines = [title]
    for kind in ATTACK_TYPES:
        if kind in m.apcer:
            lines.append(f"  APCER {kind:<20} {100 * m.apcer[kind]:6.1f} %  "
                         f"({round(m.apcer[kind] * m.attacks[kind])}/{m.attacks[kind]} accepted)")
    lines.append(f"  APCER worst                {100 * m.worst_apcer:6.1f} %")
    lines.append(f"  BPCER                      {100 * m.bpcer:6.1f} %  "
                 f"({round(m.bpcer * m.bona_fide)}/{m.bona_fide} rejected)")
    lines.append(f"  ACER                       {100 * m.acer:6.1f} %")
    return lines
