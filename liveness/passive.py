"""Passive checks over a whole session's traces; each has a threshold and a named failure.

What each one measures (and its limit) is documented in docs/liveness.md.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Protocol

from liveness.thresholds import Thresholds

# Fewer neutral frames than this (about 2 s at 10 fps) cannot show a person's sway.
MIN_NEUTRAL_FRAMES = 20


class _Counters(Protocol):
    baseline: dict[str, float] | None
    max_frozen_run: float
    fast_frames: int
    multi_face_frames: int


def _present(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def neutral_frames(traces: Mapping[str, Sequence[float | None]],
                   baseline: Mapping[str, float], th: Thresholds) -> list[int]:
    """Indices of one-face frames showing no challenge action (head, eyes, mouth at rest)."""
    indices = []
    for i, count in enumerate(traces["face_count"]):
        yaw, pitch, mouth = traces["yaw"][i], traces["pitch"][i], traces["mouth"][i]
        left, right = traces["ear_left"][i], traces["ear_right"][i]
        if count != 1 or yaw is None or pitch is None or mouth is None or left is None or \
                right is None:
            continue
        if abs(yaw - baseline["yaw"]) < th.neutral_degrees and \
                abs(pitch - baseline["pitch"]) < th.neutral_degrees and \
                mouth < baseline["mouth"] + th.mouth_open_delta / 2 and \
                (left + right) / 2 > th.blink_open_ratio * baseline["ear"]:
            indices.append(i)
    return indices


def micro_motion(traces: Mapping[str, Sequence[float | None]],
                 baseline: Mapping[str, float] | None, th: Thresholds) -> float | None:
    """90th percentile of the non-rigid landmark residual over neutral frames (eye-span units).

    A picture moved in the image plane (shifted, rotated, scaled) leaves only landmark jitter;
    a live head's small 3D rotations change the 2D geometry (nose against face outline).
    """
    if baseline is None:
        values = _present(traces["nonrigid"])
    else:
        values = _present([traces["nonrigid"][i] for i in neutral_frames(traces, baseline, th)])
    if len(values) < MIN_NEUTRAL_FRAMES:
        return None
    return statistics.quantiles(values, n=10)[-1]


def passive_failures(traces: Mapping[str, Sequence[float | None]], counters: _Counters,
                     th: Thresholds) -> list[tuple[str, str]]:
    """(code, message) for every passive check the session fails."""
    failures: list[tuple[str, str]] = []
    frames = len(traces["t"])
    if frames == 0:
        return failures
    if counters.multi_face_frames >= 3 and \
            counters.multi_face_frames > th.max_multi_face_fraction * frames:
        failures.append(("multiple_faces",
                         f"{counters.multi_face_frames} frames showed more than one face"))
    widths = [w for w, c in zip(traces["face_width"], traces["face_count"], strict=True)
              if c is not None and c >= 1 and w is not None]
    if widths and statistics.median(widths) < th.min_face_width:
        failures.append(("face_too_small", f"the face was {statistics.median(widths):.0f} px "
                                           f"wide; at least {th.min_face_width:.0f} needed"))
    face_rows = [i for i, c in enumerate(traces["face_count"]) if c is not None and c >= 1]
    if face_rows:
        sharp = statistics.median(_present([traces["sharpness"][i] for i in face_rows]))
        if sharp < th.min_sharpness:
            failures.append(("too_blurry", f"face sharpness {sharp:.1f} is below "
                                           f"{th.min_sharpness:g}"))
        light = statistics.median(_present([traces["exposure"][i] for i in face_rows]))
        if not th.min_exposure <= light <= th.max_exposure:
            failures.append(("bad_exposure", f"face brightness {light:.0f} is outside "
                                             f"{th.min_exposure:g}-{th.max_exposure:g}"))
    motion = micro_motion(traces, counters.baseline, th)
    if motion is not None and motion < th.min_micro_motion:
        failures.append(("no_micro_motion", f"face geometry stayed rigid (non-rigid motion "
                                            f"{motion:.4f} < {th.min_micro_motion:g}): "
                                            "a still or moved picture"))
    frozen = sum(1 for v in traces["frozen"] if v)
    if counters.max_frozen_run > th.max_frozen_run_seconds or \
            (frames >= 5 and frozen / frames > th.max_frozen_fraction):
        failures.append(("frozen_frames", f"{frozen} repeated frames, longest run "
                                          f"{counters.max_frozen_run:.1f} s: replayed or "
                                          "injected stream"))
    if frames >= 5 and counters.fast_frames / frames > th.max_fast_fraction:
        failures.append(("frame_rate_implausible",
                         f"{counters.fast_frames} of {frames} frames came faster than a camera "
                         "delivers them"))
    return failures
