"""The liveness commands against hostile or careless input: odd files, odd paths, huge or long
videos, edited corpora, interrupted corpus generation. Real files, real OpenCV/FFmpeg, real
FaceMesh; each case once failed (crash, traceback, extra stderr lines, memory, wrong metrics)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from liveness import FrameAnalyzer, result
from liveness.cli import main
from liveness.corpus import ClipSpec, encode_jpeg, write_corpus
from liveness.evaluate import AnalysedClip, analyse_video, run_session

pytestmark = pytest.mark.unit


def _video(path: Path, frames: int, *, size: int = 64, fps: float = 10) -> Path:
    """An MJPEG AVI of grey frames (no face), written by OpenCV itself."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps,
                             (size, size))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size, size, 3), 60 + i % 100, np.uint8))
    writer.release()
    return path


def _run(*args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    """`python -m liveness ...` in a fresh process: native stderr and crashes are seen."""
    return subprocess.run([sys.executable, "-m", "liveness", *args], capture_output=True,
                          check=False, timeout=120)


def test_analyze_path_that_is_not_utf8_does_not_crash(tmp_path: Path) -> None:
    # OpenCV 4.11 died with a segmentation fault opening such a path.
    video = _video(tmp_path / "clip.avi", 5).rename(tmp_path / os.fsdecode(b"clip-\xff.avi"))
    proc = _run("analyze", os.fsencode(video), "--challenges", "blink")
    assert proc.returncode == 1, proc.stderr[-500:]
    assert proc.stdout.startswith(b"FAILED")


@pytest.mark.parametrize(("name", "expected"), [
    ("new\nline.avi", "no such file: {dir}/new\\nline.avi"),
    ("bad\udcff\x1b.avi", "no such file: {dir}/bad\\xff\\x1b.avi"),
])
def test_analyze_error_naming_an_odd_path_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, expected: str,
) -> None:
    assert main(["analyze", str(tmp_path / name), "--challenges", "blink"]) == 2
    assert capsys.readouterr().err == f"error: {expected.format(dir=tmp_path)}\n"


def _png(path: Path) -> None:
    cv2.imwrite(str(path.with_suffix(".png")), np.full((120, 120, 3), 90, np.uint8))
    path.with_suffix(".png").rename(path)


def _jpeg(path: Path) -> None:
    path.write_bytes(encode_jpeg(np.full((120, 120, 3), 90, np.uint8)))


@pytest.mark.parametrize(("make", "expected"), [
    (_png, "is a still PNG image, not a video"),
    (_jpeg, "is a still JPEG image, not a video"),
    (lambda p: p.write_bytes(b""), "is empty (zero bytes)"),
])
def test_analyze_refuses_an_image_or_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], None],
    expected: str,
) -> None:
    # A PNG or JPEG used to be read as a one-frame video and judged: FAILED, exit 1, 0 frames.
    path = tmp_path / "clip.mp4"
    make(path)
    assert main(["analyze", str(path), "--challenges", "blink"]) == 2
    assert capsys.readouterr().err == f"error: {path} {expected}\n"


def test_analyze_video_too_short_to_sample_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    video = _video(tmp_path / "one.avi", 1, fps=30)
    assert main(["analyze", str(video), "--challenges", "blink"]) == 2
    assert capsys.readouterr().err == (f"error: {video} is too short: 1 frame(s) at 30 fps, "
                                       "less than one frame at 10 fps\n")


def test_analyze_truncated_video_is_one_stderr_line(tmp_path: Path) -> None:
    # OpenCV's own AVI reader, tried after FFmpeg, printed "Unexpected element..." first.
    video = _video(tmp_path / "clip.avi", 20, size=128)
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(video.read_bytes()[:3000])
    proc = _run("analyze", str(truncated), "--challenges", "blink")
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [f"error: cannot open video {truncated}"]


def test_analyze_huge_video_is_refused_from_its_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    video = _video(tmp_path / "huge.avi", 1, size=4104)
    assert main(["analyze", str(video), "--challenges", "blink"]) == 2
    assert capsys.readouterr().err == (f"error: {video} is 4104x4104; the limit is 4096 px "
                                       "a side\n")


def test_analyse_video_holds_one_frame_at_a_time(tmp_path: Path,
                                                 analyzer: FrameAnalyzer) -> None:
    # Every decoded frame used to be kept: 4 s of 4000x4000 video took 3 GB.
    video = _video(tmp_path / "big.avi", 40, size=1000)
    tracemalloc.start()
    try:
        signals, _, _ = analyse_video(video, fps=None, analyzer=analyzer)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(signals) == 40
    assert peak < 40 * 1000 * 1000 * 3 / 4, f"peak {peak / 1e6:.0f} MB for 40 frames of 3 MB"


def test_analyse_long_video_stops_where_a_session_must_end(tmp_path: Path,
                                                           analyzer: FrameAnalyzer) -> None:
    video = _video(tmp_path / "long.avi", 200, fps=1)  # 200 s
    signals, digests, stamps = analyse_video(video, fps=None, analyzer=analyzer)
    assert stamps[-1] == 91.0 and len(signals) == 92
    spec = ClipSpec("long", "unknown", "", "", (), ("blink",), 1)
    state = run_session(AnalysedClip(spec, tuple(signals), tuple(digests), tuple(stamps)),
                        ("blink",))
    # The session ended within the frames read (here at the 30 s face limit; at the latest on
    # the 92nd frame, past the 90 s session limit): the rest could not change the verdict.
    assert "session_incomplete" not in [r.code for r in result(state).failure_reasons]


# -- eval ------------------------------------------------------------------------------------

def _tiny_corpus(directory: Path) -> Path:
    """A two-half corpus of short grey clips, written by write_corpus (no face mesh)."""
    frame = encode_jpeg(np.full((64, 64, 3), 100, np.uint8))
    specs = [ClipSpec(f"{who}-bona-00", "bona_fide", who, half, ("blink",), ("blink",), 10)
             for who, half in (("astronaut", "calibration"), ("grace_hopper", "report"))]
    write_corpus(directory, iter([(spec, [frame] * 12) for spec in specs]))
    return directory


def _edit(corpus: Path, change: Callable[[dict[str, object]], object]) -> Path:
    manifest = json.loads((corpus / "manifest.json").read_text())
    change(manifest["clips"][1])
    (corpus / "manifest.json").write_text(json.dumps(manifest))
    return corpus


def _truncate(corpus: Path) -> Path:
    clip = corpus / "grace_hopper-bona-00.avi"
    clip.write_bytes(clip.read_bytes()[:-3000])
    return corpus


@pytest.mark.parametrize(("make", "expected"), [
    (lambda c: _edit(c, lambda clip: clip.update(kind="deepfake")),
     "clip 2: unknown kind 'deepfake'"),
    (lambda c: _edit(c, lambda clip: clip.update(half="training")),
     "clip 2: half must be one of calibration, report, not 'training'"),
    (lambda c: _edit(c, lambda clip: clip.update(clip_id="astronaut-bona-00")),
     "clip 2: clip_id 'astronaut-bona-00' is listed twice"),
    (lambda c: _edit(c, lambda clip: clip.update(identity="astronaut")),
     "clip 2: identity 'astronaut' is in both halves"),
    (lambda c: _edit(c, lambda clip: clip.pop("frames")), "clip 2: frames must be"),
    (lambda c: (c / "grace_hopper-bona-00.avi").unlink() or c,
     "grace_hopper-bona-00.avi is missing (the corpus is incomplete"),
    (_truncate, "grace_hopper-bona-00.avi is not the file the manifest lists"),
])
def test_eval_refuses_an_edited_or_damaged_corpus_before_the_face_mesh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], eval_without_face_mesh: None,
    make: Callable[[Path], Path], expected: str,
) -> None:
    # Each of these used to be evaluated, silently dropping clips or scoring a broken one.
    corpus = make(_tiny_corpus(tmp_path / "corpus"))
    assert main(["eval", "--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err


def test_eval_checks_frame_counts_of_a_manifest_without_digests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = _truncate(_edit(_tiny_corpus(tmp_path / "corpus"),
                             lambda clip: clip.pop("digest")))
    assert main(["eval", "--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "where the manifest says 12: the clip was truncated" in err


# -- generate-corpus -------------------------------------------------------------------------

def _clips(count: int, *, fail_after: int | None = None
           ) -> Iterator[tuple[ClipSpec, list[bytes]]]:
    frame = encode_jpeg(np.full((64, 64, 3), 100, np.uint8))
    for n in range(count):
        if n == fail_after:
            raise KeyboardInterrupt
        yield (ClipSpec(f"new-{n:02d}", "bona_fide", "astronaut", "calibration", ("blink",),
                        ("blink",), 10), [frame] * 3)


def test_interrupted_generation_leaves_the_old_corpus_whole(tmp_path: Path) -> None:
    # Clips used to be written over the old corpus one by one: an interrupted run left the old
    # manifest describing a mix of old and new clips, which eval accepted.
    corpus = _tiny_corpus(tmp_path / "corpus")
    before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    with pytest.raises(KeyboardInterrupt):
        write_corpus(corpus, _clips(5, fail_after=2))
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_generation_replaces_an_old_corpus_as_a_whole(tmp_path: Path) -> None:
    corpus = _tiny_corpus(tmp_path / "corpus")
    write_corpus(corpus, _clips(2))
    assert sorted(p.name for p in corpus.iterdir()) == ["manifest.json", "new-00.avi",
                                                        "new-01.avi"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_generation_into_a_path_that_is_not_utf8_does_not_crash(tmp_path: Path) -> None:
    corpus = tmp_path / os.fsdecode(b"corpus-\xff")
    code = ("import sys, numpy as np; from pathlib import Path; "
            "from liveness.corpus import ClipSpec, encode_jpeg, write_corpus; "
            "f = encode_jpeg(np.full((64, 64, 3), 9, np.uint8)); "
            "s = ClipSpec('a', 'bona_fide', 'x', 'report', (), ('blink',), 10); "
            "write_corpus(Path(sys.argv[1]), iter([(s, [f] * 3)]))")
    proc = subprocess.run([sys.executable, "-c", code, os.fsencode(corpus)],
                          capture_output=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert sorted(p.name for p in corpus.iterdir()) == ["a.avi", "manifest.json"]


def test_generate_refuses_a_directory_that_is_not_a_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], generate_without_face_mesh: None,
) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    assert main(["generate-corpus", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: --out {tmp_path} holds files that are not part "
                                       "of a corpus (thesis.tex, ...); choose an empty or new "
                                       "directory\n")
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]
