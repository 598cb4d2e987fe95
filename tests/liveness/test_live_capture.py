"""The browser e2e clip, captured live: a looping 30 fps clip sampled at 10 fps from any offset."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from liveness import FrameAnalyzer, new_session, process_frame, result
from liveness.corpus import encode_jpeg, make_browser_clip, write_y4m
from liveness.landmarks import FaceMeshDetector

pytestmark = [pytest.mark.unit, pytest.mark.slow]
ORDER = ["blink", "turn_left", "open_mouth"]
CLIP_FPS = 30
CAPTURE_FPS = 10


@pytest.fixture(scope="module")
def clip() -> list[bytes]:
    frames = make_browser_clip(
        challenges=ORDER, width=320, height=240, detector=FaceMeshDetector(max_faces=1)
    )
    return [encode_jpeg(f, 85) for f in frames]


def capture(
    clip: list[bytes], challenges: list[str], offset: float, analyzer: FrameAnalyzer
) -> bool:
    """Post frames as the page does: every 100 ms, from the looping clip started at `offset`."""
    state = new_session(challenges=challenges, now=0.0)
    k = 0
    while not state.finished and k < 600:
        index = int((offset + k / CAPTURE_FPS) * CLIP_FPS) % len(clip)
        state = process_frame(
            state,
            jpeg=clip[index],
            timestamp=k / CAPTURE_FPS,
            client_timestamp_ms=1000.0 * k / CAPTURE_FPS + 40,
            analyzer=analyzer,
        ).state
        k += 1
    return result(state).passed


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.55, 0.8])
def test_configured_order_passes_from_any_offset(
    clip: list[bytes], fraction: float, analyzer: FrameAnalyzer
) -> None:
    offset = fraction * len(clip) / CLIP_FPS
    assert capture(clip, ORDER, offset, analyzer)


def test_another_order_fails_on_the_same_clip(clip: list[bytes], analyzer: FrameAnalyzer) -> None:
    assert not capture(clip, ["turn_left", "blink", "open_mouth"], 0.0, analyzer)


def test_y4m_file_is_what_chromium_expects(tmp_path: Path) -> None:
    frames = [np.full((48, 64, 3), (i * 20, 100, 200), np.uint8) for i in range(3)]
    path = tmp_path / "clip.y4m"
    write_y4m(path, frames, fps=30)
    data = path.read_bytes()
    header, _, rest = data.partition(b"\n")
    assert header == b"YUV4MPEG2 W64 H48 F30:1 Ip A1:1 C420jpeg"
    frame_size = 64 * 48 * 3 // 2
    assert rest.count(b"FRAME\n") == 3 and len(rest) == 3 * (6 + frame_size)
    luma = np.frombuffer(rest[6 : 6 + 64 * 48], np.uint8).reshape(48, 64)
    expected = cv2.cvtColor(frames[0], cv2.COLOR_BGR2YUV_I420)[:48]
    assert np.array_equal(luma, expected)
