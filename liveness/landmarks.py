"""Face landmarks from mediapipe FaceMesh: the only module of the package that imports mediapipe.

Uses `solutions.face_mesh` with refined landmarks (478 points including irises); its models
ship inside the mediapipe wheel, so nothing is fetched at run time.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import mediapipe as mp
import numpy as np
import numpy.typing as npt

from liveness.image import RgbImage

LANDMARK_COUNT = 478

FloatArray = npt.NDArray[np.float32]

# Protobuf wire form of one NormalizedLandmark holding exactly x, y, z (what FaceMesh emits):
# field 1 of the list (tag 0x0a, 15 bytes), then three little-endian float32 fields (tags 0x0d,
# 0x15, 0x1d). Reading the serialised list with numpy costs ~0.03 ms instead of ~0.5-1 ms for
# 478 Python attribute reads; any other layout falls back to the attribute reads.
_WIRE = np.dtype([("head", "u1", 2), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"),
                  ("tz", "u1"), ("z", "<f4")])
_WIRE_HEAD = (0x0A, 0x0F)


def landmarks_array(landmark_list: Any) -> FloatArray:
    """(n, 3) float32 normalised (x, y, z) of a mediapipe NormalizedLandmarkList."""
    data = landmark_list.SerializeToString()
    if len(data) % _WIRE.itemsize == 0:
        records = np.frombuffer(data, dtype=_WIRE)
        if (records["head"] == _WIRE_HEAD).all() and (records["tx"] == 0x0D).all() and \
                (records["ty"] == 0x15).all() and (records["tz"] == 0x1D).all():
            return np.stack([records["x"], records["y"], records["z"]], axis=1)
    return np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], dtype=np.float32)


_WARM_UP_SIDE = 64


@contextlib.contextmanager
def _native_start_up_logs_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while mediapipe and TFLite start up.

    Their C++ start-up chatter ("Created TensorFlow Lite XNNPACK delegate", absl's
    InitializeLog warning, feedback-manager notes) goes straight to fd 2, where GLOG settings
    do not reach it and where it would break the CLI's one-line errors. Only the start-up is
    silenced: fd 2 is restored afterwards (and before any exception propagates), so later
    errors still reach stderr. Without a usable fd 2 nothing is redirected.
    """
    saved = null = -1
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
    except (OSError, ValueError):
        for fd in (saved, null):
            if fd >= 0:
                os.close(fd)
        yield
        return
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class FaceMeshDetector:
    """Finds up to `max_faces` faces and returns their landmarks in pixel coordinates.

    `static_image_mode=True` (the default) treats every frame independently: the result for a frame
    does not depend on which frames this process saw before, which is what a server needs when any
    worker may take the next frame of any session. Tracking mode is faster but keeps per-process
    state across calls, so it is only offered for benchmarks and single-stream tools.

    One instance may be shared by threads: calls are serialised by an internal lock because the
    underlying mediapipe graph is not re-entrant.
    """

    def __init__(
        self,
        *,
        max_faces: int = 2,
        static_image_mode: bool = True,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        self._lock = threading.Lock()
        with _native_start_up_logs_silenced():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static_image_mode,
                max_num_faces=max_faces,
                refine_landmarks=True,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            # The graph's calculators open (and log) on the first frame: do it here, on a
            # blank frame that has no face, so no state is carried into real frames.
            self._mesh.process(np.zeros((_WARM_UP_SIDE, _WARM_UP_SIDE, 3), dtype=np.uint8))

    def detect(self, image: RgbImage) -> list[FloatArray]:
        """Return one (478, 3) array of (x, y, z) per face; x, y in pixels, z in the x scale."""
        height, width = image.shape[:2]
        with self._lock:
            result = self._mesh.process(image)
        faces: list[FloatArray] = []
        for face in result.multi_face_landmarks or []:
            points = landmarks_array(face)
            points *= np.array([width, height, width], dtype=np.float32)
            faces.append(points)
        return faces

    def close(self) -> None:
        """Release the mediapipe graph."""
        with self._lock:
            self._mesh.close()
