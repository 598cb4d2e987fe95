"""Every tunable number of a liveness session, with its meaning; see docs/liveness.md."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds. Angles in degrees, times in seconds, ratios unitless.

    The defaults were chosen on the calibration half of the generated corpus by
    `cardsim liveness eval` and reported on the other half.
    """

    # Challenge actions, relative to the applicant's own neutral baseline.
    blink_close_ratio: float = 0.75  # eyes closed: mean EAR below this fraction of baseline
    blink_open_ratio: float = 0.85  # eyes open again: mean EAR above this fraction
    turn_degrees: float = 12.0  # |yaw - baseline| for a turn
    nod_degrees: float = 7.0  # pitch below baseline by this much for a nod
    mouth_open: float = 0.28  # inner-lip gap / mouth width for an open mouth ...
    mouth_open_delta: float = 0.1  # ... and at least this much above baseline
    neutral_degrees: float = 6.0  # head within this of baseline counts as facing the camera
    wrong_action_frames: int = 2  # consecutive frames of another action that fail the session
    # Session timing.
    steady_seconds: float = 1.5  # a still, eyes-open, frontal face before the first prompt
    neutral_seconds: float = 0.4  # neutral face held before the next prompt
    challenge_seconds: float = 7.0  # time limit of one prompt
    between_seconds: float = 5.0  # time limit to return to neutral between prompts
    start_seconds: float = 30.0  # time limit to present a steady face
    session_seconds: float = 90.0  # hard limit on a whole session
    min_reaction_seconds: float = 0.25  # an action completed sooner after its prompt is not a reply
    max_frames: int = 1500
    # Passive checks.
    min_face_width: float = 90.0  # pixels, median over frames with a face
    min_sharpness: float = 15.0  # variance of Laplacian of the 128-px face crop, median
    min_exposure: float = 35.0  # mean grey of the face crop, median
    max_exposure: float = 225.0
    min_micro_motion: float = 0.008  # 90th percentile non-rigid residual / eye span, neutral frames
    # A second face in this many consecutive frames, or in more than this share of frames,
    # fails; isolated detector false positives (a helmet ring read as a face) are tolerated.
    multi_face_run_frames: int = 3
    max_multi_face_fraction: float = 0.2
    frozen_mad: float = 0.12  # mean abs difference (grey levels) of 32x32 face thumbnails
    max_frozen_run_seconds: float = 0.8
    max_frozen_fraction: float = 0.25
    min_frame_interval: float = 1 / 75  # faster than ~60 fps (with jitter margin) is implausible
    max_fast_fraction: float = 0.2
    max_frame_gap: float = 3.0
    max_clock_drift: float = 1.0  # seconds, plus 10 % of the elapsed time


DEFAULT_THRESHOLDS = Thresholds()
