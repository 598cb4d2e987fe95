"""FrameAnalyzer: one per process, turns a decoded frame into FrameSignals."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from liveness.image import RgbImage
from liveness.landmarks import FaceMeshDetector
from liveness.signals import FrameSignals, frame_signals


class FrameAnalyzer:
    """Wraps mediapipe FaceMesh (expensive to create: build one per process and reuse it).

    Thread-safe: the mesh graph is guarded by a lock, so concurrent calls are serialised; use one
    analyzer per worker process (or thread pool) for parallelism. `static_image_mode=True` keeps
    every frame's result independent of earlier frames, as sessions move between processes.
    """

    def __init__(self, *, static_image_mode: bool = True, max_faces: int = 2) -> None:
        self._detector = FaceMeshDetector(max_faces=max_faces, static_image_mode=static_image_mode)

    def landmarks(self, image: RgbImage) -> list[npt.NDArray[np.float32]]:
        """Raw face-mesh landmarks of every face found (pixel coordinates)."""
        return self._detector.detect(image)

    def analyze(self, image: RgbImage) -> FrameSignals:
        """Signals of one RGB frame (`liveness.image.rgb_from_bgr` converts OpenCV's BGR)."""
        return frame_signals(image, self._detector.detect(image))

    def close(self) -> None:
        """Release the mediapipe graph."""
        self._detector.close()
