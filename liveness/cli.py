"""`cardsim liveness ...` (and `python -m liveness ...`): generate-corpus, eval, analyze."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from liveness.analyzer import FrameAnalyzer
from liveness.challenges import parse_challenges
from liveness.corpus import (
    ATTACK_TYPES,
    ClipMaker,
    ClipSpec,
    check_clip_files,
    corpus_out_problem,
    generate_clips,
    make_browser_clip,
    read_manifest,
    write_corpus,
    write_y4m,
)
from liveness.errors import LivenessError
from liveness.evaluate import (
    AnalysedClip,
    Metrics,
    analyse_corpus,
    analyse_video,
    calibrate,
    format_metrics,
    loop_against_all_orders,
    metrics,
    micro_motion_figures,
    run_session,
    verdicts,
)
from liveness.landmarks import FaceMeshDetector
from liveness.result import result
from liveness.thresholds import DEFAULT_THRESHOLDS

DEFAULT_CORPUS = Path("instance/liveness-corpus")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `liveness` command family to a parent parser."""
    parser = subparsers.add_parser("liveness", help="liveness corpus, evaluation and analysis")
    _add_commands(parser.add_subparsers(dest="liveness_command", required=True))


def _add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:

    gen = commands.add_parser("generate-corpus", help="synthesise bona fide and attack clips")
    gen.add_argument("--out", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    gen.add_argument("--per-half", type=_positive, default=12,
                     help="bona fide clips per identity half (default 12)")
    gen.add_argument("--attacks-per-type", type=_positive, default=2,
                     help="clips per attack type per half (default 2)")
    gen.add_argument("--attack-types", default=",".join(ATTACK_TYPES),
                     help="comma-separated subset of: " + ", ".join(ATTACK_TYPES))
    gen.add_argument("--seed", type=int, default=2024)
    gen.add_argument("--browser-clip", type=Path, default=None,
                     help="also write a looping 640x480 30 fps Y4M clip for Chromium")
    gen.add_argument("--challenges", default="blink,turn_left,open_mouth",
                     help="order the browser clip performs")
    gen.set_defaults(func=_generate)

    ev = commands.add_parser("eval", help="APCER/BPCER/ACER on the corpus")
    ev.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ev.add_argument("--json", action="store_true", help="print the figures as JSON")
    ev.set_defaults(func=_eval)

    an = commands.add_parser("analyze", help="run a session over a video file")
    an.add_argument("video", type=Path)
    an.add_argument("--challenges", required=True, help="comma-separated challenge order")
    an.add_argument("--fps", type=float, default=None, help="override the video frame rate")
    an.add_argument("--json", action="store_true", help="print the full result as JSON")
    an.set_defaults(func=_analyze)


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (the message names no function)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _fail(message: str) -> int:
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return 2


def _one_line(text: str) -> str:
    """`text` with control characters escaped (a file name may hold a newline) and bytes that
    are not UTF-8 (kept by Python as surrogates) shown as \\xNN: one printable line."""
    out = []
    for char in text:
        if 0xDC80 <= ord(char) <= 0xDCFF:
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(ascii(char)[1:-1])
    return "".join(out)


def _generate(args: argparse.Namespace) -> int:
    try:
        challenges = parse_challenges(args.challenges.split(","))
        kinds = tuple(k.strip() for k in args.attack_types.split(",") if k.strip())
        unknown = sorted(set(kinds) - set(ATTACK_TYPES))
        if unknown:
            return _fail(f"unknown attack type(s) {', '.join(unknown)}; known: "
                         f"{', '.join(ATTACK_TYPES)}")
        problem = corpus_out_problem(args.out)
        if problem:
            return _fail(f"--out {args.out} {problem}")
        if args.browser_clip is not None:
            problem = _unwritable_file(args.browser_clip)
            if problem:
                return _fail(f"--browser-clip {args.browser_clip} {problem}")
        detector = FaceMeshDetector(max_faces=1)
        started = time.perf_counter()
        specs = write_corpus(args.out, generate_clips(
            ClipMaker(detector), per_half=args.per_half, seed=args.seed,
            attacks_per_type=args.attacks_per_type, attack_types=kinds))
        print(f"wrote {len(specs)} clips ({sum(s.frames for s in specs)} frames) to {args.out} "
              f"in {time.perf_counter() - started:.0f} s")
    except LivenessError as exc:
        return _fail(exc.message)
    except OSError as exc:
        return _fail(f"cannot write corpus {args.out}: {exc.strerror or exc}")
    if args.browser_clip is not None:
        try:
            frames = make_browser_clip(challenges=[c.value for c in challenges],
                                       detector=detector)
            write_y4m(args.browser_clip, frames)
        except LivenessError as exc:
            return _fail(exc.message)
        except OSError as exc:
            return _fail(f"cannot write browser clip {args.browser_clip}: {exc.strerror or exc}")
        print(f"wrote browser clip {args.browser_clip} ({len(frames)} frames, "
              f"{','.join(c.value for c in challenges)})")
    return 0


def _unwritable_file(path: Path) -> str | None:
    """Why a file cannot be written at `path` (None when it can, as far as one can tell)."""
    if path.is_dir():
        return "is a directory"
    if path.exists() and not path.is_file():
        return "is not a regular file"
    parent = path.parent
    if not parent.is_dir():
        return f"cannot be written: {parent} is not a directory"
    if not os.access(path if path.exists() else parent, os.W_OK):
        return "cannot be written: permission denied"
    return None


def _eval(args: argparse.Namespace) -> int:
    # FFmpeg logs its own lines for a damaged clip; the command's error is the one line.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    latencies: list[float] = []
    try:
        specs = read_manifest(args.corpus)  # fail fast, before loading the face mesh
        if not {"calibration", "report"} <= {spec.half for spec in specs}:
            return _fail("the corpus needs clips in both the calibration and the report half")
        check_clip_files(args.corpus, specs)
        clips = analyse_corpus(args.corpus, FrameAnalyzer(), latencies=latencies)
    except LivenessError as exc:
        return _fail(exc.message)
    calibration = [c for c in clips if c.spec.half == "calibration"]
    report = [c for c in clips if c.spec.half == "report"]
    chosen, check_calibration = calibrate(calibration)
    check_report = micro_motion_figures(report, chosen.min_micro_motion)
    started = time.perf_counter()
    report_verdicts = verdicts(report, chosen)
    update_ms = 1000 * (time.perf_counter() - started) / sum(len(c.signals) for c in report)
    report_metrics = metrics(report_verdicts)
    calibration_metrics = metrics(verdicts(calibration, chosen))
    loops = [loop_against_all_orders(c, chosen) for c in clips
             if c.spec.kind == "loop_all_actions"]
    frame_ms = [1000 * v for v in latencies]
    calibration_ids = sorted({c.spec.identity for c in calibration})
    report_ids = sorted({c.spec.identity for c in report})
    p95 = statistics.quantiles(frame_ms, n=20)[-1]
    errors = [v for v in report_verdicts if v.passed != (v.kind == "bona_fide")]
    calibration_errors = [v for v in verdicts(calibration, chosen)
                          if v.passed != (v.kind == "bona_fide")]
    figures = {
        "calibration_half": calibration_ids,
        "report_half": report_ids,
        "min_micro_motion": {"chosen": chosen.min_micro_motion,
                             "default": DEFAULT_THRESHOLDS.min_micro_motion},
        "report": _metrics_dict(report_metrics),
        "calibration": _metrics_dict(calibration_metrics),
        "frame_ms": {"mean": statistics.fmean(frame_ms), "median": statistics.median(frame_ms),
                     "p95": p95},
        "session_update_ms": update_ms,
        "loop_orders_passed": [list(x) for x in loops],
        "micro_motion_check": {"calibration": check_calibration.__dict__,
                               "report": check_report.__dict__},
        "errors": [v.__dict__ for v in errors],
        "calibration_errors": [v.__dict__ for v in calibration_errors],
    }
    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    lines = [
        f"corpus {args.corpus}: {len(clips)} clips, {len(frame_ms)} frames sampled at 10 fps",
        f"thresholds chosen on the calibration half ({', '.join(calibration_ids)}): "
        f"min_micro_motion = {chosen.min_micro_motion:g} "
        f"(default {DEFAULT_THRESHOLDS.min_micro_motion:g}); other thresholds fixed",
        *format_metrics(f"REPORT half ({', '.join(report_ids)}), "
                        f"{len(report)} clips:", report_metrics),
        *format_metrics("calibration half (for reference):", calibration_metrics),
        f"micro-motion check alone (threshold {chosen.min_micro_motion:g}): calibration "
        f"photos max {check_calibration.max_photo:.4f} / live min {check_calibration.min_live:.4f};"
        f" report half: {check_report.photo_accepted}/{check_report.photos} photo attacks pass "
        f"the check, {check_report.live_rejected}/{check_report.live} bona fide fail it "
        f"(photos max {check_report.max_photo:.4f}, live min {check_report.min_live:.4f})",
        f"per-frame server time (JPEG decode + face mesh + signals): mean "
        f"{statistics.fmean(frame_ms):.1f} ms, median {statistics.median(frame_ms):.1f} ms, "
        f"p95 {p95:.1f} ms; session update {update_ms:.2f} ms",
    ]
    for passed, total in loops:
        lines.append(f"loop-all-actions clip against every possible order: {passed}/{total} "
                     "orders pass (only an order the loop happens to perform can)")
    for half, wrong in (("report", errors), ("calibration", calibration_errors)):
        for error in wrong:
            lines.append(f"  misclassified ({half} half): {error.clip_id} ({error.kind}) "
                         f"reasons={','.join(error.reasons) or '-'}")
    print("\n".join(lines))
    return 0


def _metrics_dict(m: Metrics) -> dict[str, object]:
    return {"apcer": m.apcer, "apcer_worst": m.worst_apcer, "bpcer": m.bpcer, "acer": m.acer,
            "attacks": m.attacks, "bona_fide": m.bona_fide}


def _analyze(args: argparse.Namespace) -> int:
    # FFmpeg logs its own line for an unreadable file; the command's error is the one line.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        challenges = parse_challenges(args.challenges.split(","))
        if args.fps is not None and not 1 <= args.fps <= 240:
            return _fail("--fps must be between 1 and 240")
        signals, digests, stamps = analyse_video(args.video, fps=args.fps)
    except LivenessError as exc:
        return _fail(exc.message)
    spec = ClipSpec(args.video.name, "unknown", "", "", (), tuple(c.value for c in challenges),
                    args.fps or 0)
    clip = AnalysedClip(spec, tuple(signals), tuple(digests), tuple(stamps))
    verdict = result(run_session(clip, spec.session_challenges))
    if args.json:
        out = verdict.to_dict()
        out.pop("keyframes")
        print(json.dumps(out))
    else:
        print(f"{'PASSED' if verdict.passed else 'FAILED'} score={verdict.score:.3f} "
              f"frames={len(signals)}")
        for c in verdict.challenges:
            timing = f"in {c.duration:.2f} s" if c.duration is not None else "not done"
            print(f"  challenge {c.name:<11} {'ok' if c.passed else 'FAILED':<6} {timing}")
        for reason in verdict.failure_reasons:
            print(f"  reason {reason.code}: {reason.message}")
    return 0 if verdict.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m liveness`."""
    parser = argparse.ArgumentParser(prog="python -m liveness")
    _add_commands(parser.add_subparsers(dest="liveness_command", required=True))
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        return 130  # as `cardsim`: interrupted, no traceback
    return status
