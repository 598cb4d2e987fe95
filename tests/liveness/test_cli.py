"""The `liveness` commands: bad input gives one stderr line; real clips give real verdicts."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from liveness.cli import main
from liveness.corpus import ClipMaker, encode_jpeg, performance, write_clip
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
