"""Colour order of images inside the package.

Analysis works in RGB, the order mediapipe takes, so an uploaded JPEG is decoded straight into
it with no conversion per frame. OpenCV's own sources (video files, `imread`, the corpus renderer)
give BGR; they are converted once at that edge. `RgbImage` is a distinct type so mypy refuses a
BGR array where RGB is expected.
"""

from __future__ import annotations

from typing import NewType

import cv2
import numpy as np
import numpy.typing as npt

RgbImage = NewType("RgbImage", npt.NDArray[np.uint8])


def rgb_from_bgr(image: npt.NDArray[np.uint8]) -> RgbImage:
    """An RGB copy of an OpenCV BGR image."""
    return RgbImage(np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8))


def bgr_from_rgb(image: RgbImage) -> npt.NDArray[np.uint8]:
    """A BGR copy of an RGB image, for OpenCV's encoders and writers."""
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), dtype=np.uint8)
