"""Per-frame liveness server time against raw face-mesh inference, in the same run, on one core.

Run: .venv/bin/python -m benchmarks.bench_liveness [--frames 80] [--rounds 3] [--quality 70]
Frames are 640x480 JPEGs of a real photo animated through a challenge sequence, with sensor
noise, at the quality the browser client sends (`JPEG_QUALITY = 0.7` in
web/static/applicant/liveness.js). "Server" is what
a request does: load the session JSON, decode the JPEG, run FaceMesh, compute the signals,
update the session, store the JSON. "Raw" is mediapipe FaceMesh.process on the already-decoded
RGB frame with the same settings (static image mode), and also in tracking mode for reference.
Prints median and mean time per frame, frames/s (1 / mean: keyframe frames included), and the
ratio server / raw (goal: <= 1.2).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence

import mediapipe as mp
import numpy as np
import numpy.typing as npt

from liveness import FrameAnalyzer, SessionState, new_session, process_frame
from liveness.corpus import FACE_SOURCES, ClipMaker, Look, encode_jpeg, performance
from liveness.decode import decode_frame
from liveness.landmarks import FaceMeshDetector

ORDER = ["blink", "turn_left", "open_mouth"]


def make_frames(count: int, quality: int = 70) -> list[bytes]:
    """JPEG frames (640x480) of a live-looking performance."""
    rng = random.Random(3)
    maker = ClipMaker(FaceMeshDetector(max_faces=1))
    puppet = maker.puppet(FACE_SOURCES[1], Look(width=640, height=480, face_fraction=0.34))
    frames = maker.live(puppet, performance(ORDER, rng), fps=10, rng=rng, noise=2.0)
    return [encode_jpeg(f, quality) for f in list(frames)[:count]]


def timed(each: Callable[[int], object], count: int) -> list[float]:
    """Seconds taken by each call each(i) for i in range(count)."""
    out = []
    for i in range(count):
        start = time.perf_counter()
        each(i)
        out.append(time.perf_counter() - start)
    return out


def raw_runner(rgb: Sequence[npt.NDArray[np.uint8]], static: bool) -> Callable[[int], object]:
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=2,
                                           refine_landmarks=True)
    return lambda i: mesh.process(rgb[i])


def server_runner(jpegs: Sequence[bytes], analyzer: FrameAnalyzer) -> Callable[[int], object]:
    stored = {"json": new_session(challenges=ORDER, now=0.0).to_json()}

    def step(i: int) -> None:
        state = SessionState.from_json(stored["json"])
        if state.finished:
            state = new_session(challenges=ORDER, now=i / 10)
        outcome = process_frame(state, jpeg=jpegs[i], timestamp=i / 10, analyzer=analyzer)
        stored["json"] = outcome.state.to_json()

    return step


def main() -> None:
    """Measure and print per-frame medians, frames/s and the server / raw ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=3)
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
    runs: dict[str, list[float]] = {"raw_static": [], "raw_tracking": [], "server": [],
                                    "decode": []}
    for _ in range(args.rounds):  # interleaved so load changes hit every variant alike
        runs["raw_static"] += timed(raw_runner(rgb, static=True), count)
        runs["raw_tracking"] += timed(raw_runner(rgb, static=False), count)
        runs["server"] += timed(server_runner(jpegs, analyzer), count)
        runs["decode"] += timed(lambda i: decode_frame(jpegs[i]), count)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    means = {name: statistics.fmean(values) for name, values in runs.items()}
    size = statistics.fmean(len(j) for j in jpegs) / 1000
    print(f"{count} frames x {args.rounds} rounds, 640x480 JPEG quality {args.quality} "
          f"({size:.0f} kB each), "
          f"{'all cores' if args.all_cores else 'pinned to one core'}")
    labels = {"raw_static": "raw FaceMesh, static image mode",
              "raw_tracking": "raw FaceMesh, tracking mode (reference)",
              "server": "server frame (JSON load, decode, mesh, signals, update, JSON store)",
              "decode": "of which JPEG decode alone (reference)"}
    print(f"  {'':<70} median    mean   frames/s (1 / mean)")
    for name, label in labels.items():
        print(f"  {label:<70} {1000 * medians[name]:6.1f} ms {1000 * means[name]:6.1f} ms "
              f"{1 / means[name]:6.1f}")
    ratio = medians["server"] / medians["raw_static"]
    print(f"ratio server / raw static inference: {ratio:.2f}x median, "
          f"{means['server'] / means['raw_static']:.2f}x mean (goal <= 1.2x)")
    print(f"ratio server / raw tracking inference: "
          f"{medians['server'] / medians['raw_tracking']:.2f}x")
    floor = (medians["raw_static"] + medians["decode"]) / medians["raw_static"]
    rest = (medians["server"] - medians["raw_static"] - medians["decode"]) / medians["raw_static"]
    print(f"overhead split: JPEG decode {floor - 1:.2f}x of inference (floor for any server "
          f"taking these frames: {floor:.2f}x), everything else {rest:.2f}x")


if __name__ == "__main__":
    main()
