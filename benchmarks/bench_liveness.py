"""Per-frame liveness server time against raw face-mesh inference, in the same run, on one core.

Run: .venv/bin/python -m benchmarks.bench_liveness [--frames 80] [--repeats 7] [--quality 70]
Frames are 640x480 JPEGs of a real photo animated through a challenge sequence, with sensor
noise, at the quality the browser client sends (`JPEG_QUALITY = 0.7` in
web/static/applicant/liveness.js). "Server" is what
a request does: load the session JSON, decode the JPEG, run FaceMesh, compute the signals,
update the session, store the JSON. "Raw" is mediapipe FaceMesh.process on the already-decoded
RGB frame with the same settings (static image mode), and also in tracking mode for reference.
Prints median and mean time per frame, frames/s (1 / mean: keyframe frames included), and the
ratio server / raw (goal: <= 1.2).

It also prints a lower bound for any server that meets the liveness issue's per-frame
requirements, from parts timed in the same run: the cheapest decode OpenCV offers for these
files (half-scale DCT, a quarter of the pixels), the inference itself, the per-frame signals the
issue lists (`frame_signals`: face box, eye and mouth ratios, solvePnP head pose, sharpness,
exposure, perceptual hash), and loading and storing the serialisable session state. It leaves
out the full-size decode, reading the landmarks out, the frame digest and the session update,
so no server built on these parts can be faster.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence

import cv2
import mediapipe as mp
import numpy as np
import numpy.typing as npt

from liveness import FrameAnalyzer, SessionState, new_session, process_frame
from liveness.corpus import FACE_SOURCES, ClipMaker, Look, encode_jpeg, performance
from liveness.decode import decode_frame
from liveness.landmarks import FaceMeshDetector
from liveness.signals import frame_signals

ORDER = ["blink", "turn_left", "open_mouth"]


def make_frames(count: int, quality: int = 70) -> list[bytes]:
    """JPEG frames (640x480) of a live-looking performance."""
    rng = random.Random(3)
    maker = ClipMaker(FaceMeshDetector(max_faces=1))
    puppet = maker.puppet(FACE_SOURCES[1], Look(width=640, height=480, face_fraction=0.34))
    frames = maker.live(puppet, performance(ORDER, rng), fps=10, rng=rng, noise=2.0)
    return [encode_jpeg(f, quality) for f in list(frames)[:count]]


def best_times(variants: dict[str, Callable[[int], object]], count: int,
               repeats: int) -> dict[str, list[float]]:
    """Per variant, the fastest of `repeats` timings of each frame i in range(count).

    Every repeat of a frame runs every variant in turn, so load changes on this (noisy) machine
    hit all variants alike, and the minimum drops the time other processes stole.
    """
    best = {name: [float("inf")] * count for name in variants}
    for i in range(count):
        for _ in range(repeats):
            for name, each in variants.items():
                start = time.perf_counter()
                each(i)
                best[name][i] = min(best[name][i], time.perf_counter() - start)
    return best


def raw_runner(rgb: Sequence[npt.NDArray[np.uint8]], static: bool) -> Callable[[int], object]:
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=2,
                                           refine_landmarks=True)
    return lambda i: mesh.process(rgb[i])


def session_states(jpegs: Sequence[bytes], analyzer: FrameAnalyzer) -> list[str]:
    """The stored session JSON before each frame of sessions run back to back on the frames."""
    states = []
    state = new_session(challenges=ORDER, now=0.0)
    for i, jpeg in enumerate(jpegs):
        if state.finished:
            state = new_session(challenges=ORDER, now=i / 10)
        states.append(state.to_json())
        state = process_frame(state, jpeg=jpeg, timestamp=i / 10, analyzer=analyzer).state
    return states


def server_runner(jpegs: Sequence[bytes], analyzer: FrameAnalyzer,
                  states: Sequence[str]) -> Callable[[int], object]:
    """What one frame request does: load the stored state, process the frame, store the state."""

    def step(i: int) -> None:
        state = SessionState.from_json(states[i])
        if state.finished:
            state = new_session(challenges=ORDER, now=i / 10)
        outcome = process_frame(state, jpeg=jpegs[i], timestamp=i / 10, analyzer=analyzer)
        outcome.state.to_json()

    return step


def reduced_decode(jpeg: bytes) -> object:
    """The cheapest decode of a frame OpenCV offers: half scale in the DCT (320x240 here)."""
    return cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_REDUCED_COLOR_2)


def main() -> None:
    """Measure and print per-frame medians, frames/s and the server / raw ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=7,
                        help="timings per frame and variant; the fastest one counts")
    parser.add_argument("--quality", type=int, default=70,
                        help="JPEG quality of the frames (the browser client sends 70)")
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    args = parser.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    jpegs = make_frames(args.frames, args.quality)
    count = len(jpegs)
    rgb = [decode_frame(j) for j in jpegs]
    analyzer = FrameAnalyzer()
    meshes = [analyzer.landmarks(image) for image in rgb]
    states = session_states(jpegs, analyzer)
    best = best_times({
        "raw_static": raw_runner(rgb, static=True),
        "raw_tracking": raw_runner(rgb, static=False),
        "server": server_runner(jpegs, analyzer, states),
        "decode": lambda i: decode_frame(jpegs[i]),
        "decode_reduced": lambda i: reduced_decode(jpegs[i]),
        "signals": lambda i: frame_signals(rgb[i], meshes[i]),
        "state": lambda i: SessionState.from_json(states[i]).to_json(),
    }, count, args.repeats)
    medians = {name: statistics.median(values) for name, values in best.items()}
    means = {name: statistics.fmean(values) for name, values in best.items()}
    size = statistics.fmean(len(j) for j in jpegs) / 1000
    print(f"{count} frames, fastest of {args.repeats} timings each, 640x480 JPEG quality "
          f"{args.quality} ({size:.0f} kB each), "
          f"{'all cores' if args.all_cores else 'pinned to one core'}")
    labels = {"raw_static": "raw FaceMesh, static image mode",
              "raw_tracking": "raw FaceMesh, tracking mode (reference)",
              "server": "server frame (JSON load, decode, mesh, signals, update, JSON store)",
              "decode": "of which JPEG decode alone (reference)",
              "decode_reduced": "half-scale JPEG decode, the cheapest OpenCV offers (reference)",
              "signals": "per-frame signals from the landmarks (reference)",
              "state": "session state JSON load and store (reference)"}
    print(f"  {'':<70} median    mean   frames/s (1 / mean)")
    for name, label in labels.items():
        print(f"  {label:<70} {1000 * medians[name]:6.2f} ms {1000 * means[name]:6.2f} ms "
              f"{1 / means[name]:7.1f}")
    ratio = medians["server"] / medians["raw_static"]
    print(f"ratio server / raw static inference: {ratio:.2f}x median, "
          f"{means['server'] / means['raw_static']:.2f}x mean (goal <= 1.2x)")
    print(f"ratio server / raw tracking inference: "
          f"{medians['server'] / medians['raw_tracking']:.2f}x")
    floor = (medians["raw_static"] + medians["decode"]) / medians["raw_static"]
    rest = (medians["server"] - medians["raw_static"] - medians["decode"]) / medians["raw_static"]
    print(f"overhead split: JPEG decode {floor - 1:.2f}x of inference (floor for any server "
          f"taking these frames: {floor:.2f}x), everything else {rest:.2f}x")
    bound = sum(medians[name] for name in ("raw_static", "decode_reduced", "signals", "state"))
    print(f"lower bound for a server on these parts (cheapest decode + inference + signals + "
          f"state load/store): {bound / medians['raw_static']:.2f}x (goal <= 1.2x)")


if __name__ == "__main__":
    main()
