"""The `liveness` commands: bad input gives one stderr line; real clips give real verdicts."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from liveness.cli import main
from liveness.corpus import (
    ClipMaker,
    ClipSpec,
    encode_jpeg,
    performance,
    read_manifest,
    write_clip,
    write_corpus,
)
from liveness.puppet import FacePuppet

pytestmark = pytest.mark.unit


def test_analyze_missing_file_is_one_stderr_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(tmp_path / "nope.avi"), "--challenges", "blink"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err


def test_analyze_rejects_unknown_challenge_and_non_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all")
    assert main(["analyze", str(junk), "--challenges", "blink,wink"]) == 2
    assert "unknown challenge 'wink'" in capsys.readouterr().err
    assert main(["analyze", str(junk), "--challenges", "blink"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_analyze_non_video_is_one_stderr_line_from_a_fresh_process(tmp_path: Path) -> None:
    # A separate process sees native stderr too: the face mesh must not load (and log) first.
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    proc = subprocess.run(
        [sys.executable, "-m", "liveness", "analyze", str(junk), "--challenges", "blink"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: cannot open video {junk}"]


def test_eval_without_corpus_fails_cleanly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "liveness", "eval", "--corpus", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: no corpus at {tmp_path} (run generate-corpus)"]


def test_analyze_real_video_prints_verdict(
    tmp_path: Path,
    maker: ClipMaker,
    puppets: dict[str, FacePuppet],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(21)
    order = ["turn_left", "open_mouth"]
    frames = [
        encode_jpeg(f)
        for f in maker.live(
            puppets["grace_hopper"], performance(order, rng), fps=10, rng=rng, noise=2.5
        )
    ]
    video = tmp_path / "clip.avi"
    write_clip(video, frames, 10)
    assert main(["analyze", str(video), "--challenges", ",".join(order)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASSED") and "turn_left" in out
    assert main(["analyze", str(video), "--challenges", "open_mouth,turn_left"]) == 1
    assert "reason wrong_action" in capsys.readouterr().out


@pytest.mark.slow
def test_generate_corpus_then_eval(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    gen = subprocess.run(
        [
            sys.executable,
            "-m",
            "liveness",
            "generate-corpus",
            "--out",
            str(corpus),
            "--per-half",
            "1",
            "--attacks-per-type",
            "1",
            "--attack-types",
            "static_photo,two_faces",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert gen.returncode == 0, gen.stderr[-2000:]
    assert (corpus / "manifest.json").is_file()
    ev = subprocess.run(
        [sys.executable, "-m", "liveness", "eval", "--corpus", str(corpus)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert "REPORT half (grace_hopper)" in ev.stdout
    assert "calibration half (astronaut)" in ev.stdout
    assert "APCER worst" in ev.stdout and "BPCER" in ev.stdout and "ACER" in ev.stdout


def _clip(half: str, **change: object) -> dict[str, object]:
    return {"clip_id": f"c_{half}", "kind": "bona_fide", "identity": half, "half": half,
            "performed": ["blink"], "session_challenges": ["blink"], "fps": 10, "frames": 10,
            "file": f"c_{half}.avi", **change}


def _a_file(directory: Path) -> Path:
    (directory / "file").write_text("x")
    return directory / "file"


def _manifest_dir(directory: Path) -> Path:
    (directory / "manifest.json").mkdir()
    return directory


def _manifest_fifo(directory: Path) -> Path:
    os.mkfifo(directory / "manifest.json")
    return directory


@pytest.mark.parametrize(("make", "expected"), [
    (_a_file, "is not a directory"),
    (_manifest_dir, "manifest.json is a directory"),
    (_manifest_fifo, "manifest.json is not a regular file"),  # used to hang
    (lambda d: _manifest(d, [_clip("calibration", fps="abc"), _clip("report")]),
     "clip 1: fps must be a number above 0"),
    (lambda d: _manifest(d, [_clip("calibration"), _clip("report", fps=-10)]),
     "clip 2: fps must be a number above 0"),
    (lambda d: _manifest(d, [_clip("calibration", extra=1)]), "unknown field(s) extra"),
    (lambda d: _manifest(d, [_clip("calibration", file="../elsewhere.avi")]),
     "file must be a plain file name inside the corpus directory"),
    (lambda d: _manifest(d, [_clip("calibration", file="/etc/passwd")]),
     "file must be a plain file name inside the corpus directory"),
    (lambda d: _manifest(d, {"clips": 3}), "it has no list of clips"),
    (lambda d: _manifest(d, [_clip("calibration"),
                             _clip("calibration", clip_id="c2", file="c2.avi")]),
     "needs clips in both the calibration and the report half"),
])
def test_eval_refuses_a_bad_corpus_before_loading_the_face_mesh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], eval_without_face_mesh: None,
    make: Callable[[Path], Path], expected: str,
) -> None:
    corpus = make(tmp_path)
    assert main(["eval", "--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err


def _manifest(directory: Path, clips: object) -> Path:
    body = clips if isinstance(clips, dict) else {"fps": 10, "clips": clips}
    (directory / "manifest.json").write_text(json.dumps(body))
    return directory


def test_read_manifest_reads_what_write_corpus_wrote(tmp_path: Path) -> None:
    specs = [ClipSpec("a", "bona_fide", "x", "calibration", ("blink",), ("blink", "nod"), 10)]
    write_corpus(tmp_path, iter([(specs[0], [encode_jpeg(np.zeros((16, 16, 3), np.uint8))])]))
    (read,) = read_manifest(tmp_path)
    assert (read.clip_id, read.fps, read.frames, read.file) == ("a", 10, 1, "a.avi")
    assert read.session_challenges == ("blink", "nod")


def test_analyze_says_what_a_non_file_is(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "clip.avi"
    os.mkfifo(fifo)
    assert main(["analyze", str(tmp_path), "--challenges", "blink"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path} is a directory, not a video file\n"
    assert main(["analyze", str(fifo), "--challenges", "blink"]) == 2
    assert capsys.readouterr().err == (f"error: {fifo} is not a regular file (a FIFO or device "
                                       "cannot be read as a video)\n")


def test_generate_corpus_checks_its_outputs_before_the_slow_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], generate_without_face_mesh: None,
) -> None:
    out = tmp_path / "corpus"
    assert main(["generate-corpus", "--out", str(out), "--browser-clip", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: --browser-clip {tmp_path} is a directory\n"
    clip = tmp_path / "missing" / "clip.y4m"
    assert main(["generate-corpus", "--out", str(out), "--browser-clip", str(clip)]) == 2
    assert capsys.readouterr().err == (f"error: --browser-clip {clip} cannot be written: "
                                       f"{clip.parent} is not a directory\n")
    (tmp_path / "file").write_text("")
    assert main(["generate-corpus", "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err == f"error: --out {tmp_path / 'file'} is not a directory\n"
    assert not out.exists()
