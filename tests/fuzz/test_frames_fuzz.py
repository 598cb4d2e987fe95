"""Hostile uploaded frames: decoding answers an image or a FrameRejected, fast and small."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from liveness import FrameRejected
from liveness.decode import MAX_SIDE, decode_frame

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
RNG = np.random.default_rng(3)
FRAME = RNG.integers(0, 255, (120, 160, 3), dtype=np.uint8)
JPEG = cv2.imencode(".jpg", FRAME)[1].tobytes()
PNG = cv2.imencode(".png", FRAME)[1].tobytes()
PROGRESSIVE = cv2.imencode(".jpg", FRAME, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()


def declaring(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its start-of-frame header claiming another size (a decompression bomb)."""
    data = bytearray(jpeg)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        i = data.find(marker)
        if i >= 0:
            data[i + 5:i + 7] = height.to_bytes(2, "big")
            data[i + 7:i + 9] = width.to_bytes(2, "big")
            return bytes(data)
    raise AssertionError("no start-of-frame header")


@pytest.mark.parametrize("source", [JPEG, PROGRESSIVE], ids=["baseline", "progressive"])
def test_a_tiny_jpeg_declaring_a_huge_canvas_is_refused_before_decoding(source: bytes) -> None:
    bomb = declaring(source, 30000, 30000)
    started = time.perf_counter()
    with pytest.raises(FrameRejected) as refused:
        decode_frame(bomb)
    assert refused.value.code == "image_too_large"
    # Decoding 30000x30000 takes gigabytes and tens of seconds; the header check takes none.
    assert time.perf_counter() - started < 0.5


def test_real_frames_decode() -> None:
    for data in (JPEG, PNG, PROGRESSIVE):
        assert decode_frame(data).shape == FRAME.shape


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([JPEG, PNG, PROGRESSIVE])))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        position = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[position] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[position:]
            if not data:
                break
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:  # rewrite a header byte (sizes, lengths, markers live in the first bytes)
            data[min(position, 40) % max(1, len(data))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=mutated() | st.binary(max_size=64).map(lambda b: b"\xff\xd8\xff" + b))
@example(data=b"\xff\xd8\xff")
@example(data=b"\x89PNG\r\n\x1a\n")
def test_mutated_frames_decode_or_are_refused(data: bytes) -> None:
    try:
        image = decode_frame(data)
    except FrameRejected as exc:
        assert exc.code and exc.message
    else:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert max(image.shape[:2]) <= MAX_SIDE


@FUZZ
@given(width=st.integers(1, 65535), height=st.integers(MAX_SIDE + 1, 65535),
       swap=st.booleans())
def test_any_declared_size_over_the_limit_is_refused(width: int, height: int,
                                                     swap: bool) -> None:
    bomb = declaring(JPEG, height, width) if swap else declaring(JPEG, width, height)
    with pytest.raises(FrameRejected) as refused:
        decode_frame(bomb)
    assert refused.value.code == "image_too_large"
