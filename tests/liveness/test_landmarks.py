"""Reading FaceMesh landmarks from the serialised protobuf equals reading them one by one."""

from __future__ import annotations

import subprocess
import sys

import cv2
import mediapipe as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mediapipe.framework.formats import landmark_pb2

from liveness.landmarks import LANDMARK_COUNT, landmarks_array
from liveness.puppet import FacePuppet, Pose

pytestmark = pytest.mark.unit


def _one_by_one(landmarks: landmark_pb2.NormalizedLandmarkList) -> np.ndarray:  # type: ignore[type-arg]
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)


def test_real_face_mesh_output_is_read_exactly(puppets: dict[str, FacePuppet]) -> None:
    image = cv2.cvtColor(puppets["grace_hopper"].render(Pose(yaw=10)), cv2.COLOR_BGR2RGB)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                         refine_landmarks=True) as mesh:
        found = mesh.process(image).multi_face_landmarks
    assert found, "FaceMesh found no face in the rendered photo"
    points = landmarks_array(found[0])
    assert points.shape == (LANDMARK_COUNT, 3) and points.dtype == np.float32
    assert np.array_equal(points, _one_by_one(found[0]))


coordinate = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(st.tuples(coordinate, coordinate, coordinate), max_size=20),
    visibility_at=st.one_of(st.none(), st.integers(min_value=0, max_value=19)),
)
def test_any_landmark_list_is_read_exactly(
    points: list[tuple[float, float, float]], visibility_at: int | None
) -> None:
    # Zeros, negative zeros and extra fields (visibility) change the wire layout: the reader
    # must notice and fall back rather than misread.
    landmarks = landmark_pb2.NormalizedLandmarkList()
    for i, (x, y, z) in enumerate(points):
        point = landmarks.landmark.add(x=x, y=y, z=z)
        if i == visibility_at:
            point.visibility = 0.5
    read = landmarks_array(landmarks)
    assert read.shape == (len(points), 3)
    assert np.array_equal(read, _one_by_one(landmarks).reshape(len(points), 3))


def test_face_mesh_start_up_logs_nothing_and_stderr_still_works() -> None:
    # A fresh process: mediapipe's native start-up lines would go straight to fd 2.
    script = (
        "import os, sys\n"
        "import numpy as np\n"
        "from liveness.landmarks import FaceMeshDetector\n"
        "detector = FaceMeshDetector(max_faces=1)\n"
        "detector.detect(np.zeros((120, 160, 3), dtype=np.uint8))\n"
        "os.write(2, b'native stderr still works\\n')\n"
        "print('python stderr still works', file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "native stderr still works\npython stderr still works\n"
