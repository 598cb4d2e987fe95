"""Frame decoding: every malformed input gets a precise FrameRejected code."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveness import FrameRejected, LivenessError
from liveness.decode import MAX_FRAME_BYTES, decode_frame

pytestmark = pytest.mark.unit


def _png(image: npt.NDArray[np.unsignedinteger[Any]]) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def _jpeg(image: npt.NDArray[np.unsignedinteger[Any]]) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def _png_header_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def test_valid_jpeg_and_png_decode_to_rgb() -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    image[:, :, 2] = 200  # red, as OpenCV's encoders take it (BGR)
    for data in (_jpeg(image), _png(image)):
        decoded = decode_frame(data)
        assert decoded.shape == (120, 160, 3)
        assert decoded.dtype == np.uint8
        # Red comes out first: the frame is in mediapipe's RGB order.
        assert decoded[60, 80, 0] > 180 and decoded[60, 80, 2] < 30


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_frame"),
        (b"GIF89a" + b"\0" * 100, "not_an_image"),
        (b"hello, this is text", "not_an_image"),
        (b"\xff\xd8\xff" + b"\0" * 50, "not_an_image"),
        (_png_header_claiming(20000, 20000), "image_too_large"),
        (b"\xff\xd8\xff" + b"\0" * (MAX_FRAME_BYTES + 1), "frame_too_large"),
    ],
)
def test_malformed_bytes_are_rejected_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(FrameRejected) as info:
        decode_frame(data)
    assert info.value.reason_code == code
    assert info.value.message


def test_huge_decoded_jpeg_is_rejected() -> None:
    data = _jpeg(np.zeros((80, 4200, 3), np.uint8))
    with pytest.raises(FrameRejected, match="limit is 4096"):
        decode_frame(data)


def test_tiny_image_is_rejected() -> None:
    with pytest.raises(FrameRejected) as info:
        decode_frame(_png(np.zeros((20, 20, 3), np.uint8)))
    assert info.value.reason_code == "image_too_small"


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((100, 100), np.uint8),  # greyscale
        np.zeros((100, 100, 4), np.uint8),  # with alpha
        np.zeros((100, 100, 3), np.uint16),  # 16 bits per channel
    ],
    ids=["grey", "rgba", "16bit"],
)
def test_wrong_colour_format_is_rejected(image: npt.NDArray[np.unsignedinteger[Any]]) -> None:
    with pytest.raises(FrameRejected) as info:
        decode_frame(_png(image))
    assert info.value.reason_code == "unsupported_color_format"


def test_grey_jpeg_is_rejected_with_its_format() -> None:
    with pytest.raises(FrameRejected) as info:
        decode_frame(_jpeg(np.full((100, 100), 128, np.uint8)))
    assert info.value.reason_code == "unsupported_color_format"
    assert "1 channel" in info.value.message


def test_cmyk_jpeg_keeps_its_colours() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (96, 80), (220, 40, 10)).convert("CMYK").save(out, "JPEG", quality=95)
    decoded = decode_frame(out.getvalue())
    red, green, blue = (int(v) for v in decoded[40, 48])
    assert red > 180 and green < 80 and blue < 60


def test_jpeg_decodes_to_the_same_pixels_as_opencv_in_rgb_order() -> None:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    data = _jpeg(image)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decode_frame(data), bgr[:, :, ::-1])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"]))
def test_arbitrary_bytes_never_raise_anything_else(body: bytes, prefix: bytes) -> None:
    try:
        image = decode_frame(prefix + body)
    except LivenessError as exc:
        assert isinstance(exc, FrameRejected)
    else:
        assert image.ndim == 3 and image.shape[2] == 3
