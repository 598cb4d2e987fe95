"""Per-frame signals measured by real FaceMesh on warped real photos."""

from __future__ import annotations

import numpy as np
import pytest

from liveness import FrameAnalyzer
from liveness.image import rgb_from_bgr
from liveness.puppet import FacePuppet, Pose
from liveness.signals import similarity_residual

pytestmark = pytest.mark.unit


def _signals(puppet: FacePuppet, pose: Pose, analyzer: FrameAnalyzer):  # type: ignore[no-untyped-def]
    signals = analyzer.analyze(rgb_from_bgr(puppet.render(pose)))
    assert signals.face_count == 1 and signals.face is not None
    return signals.face


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_warped_actions_move_the_right_signal(
    name: str, puppets: dict[str, FacePuppet], analyzer: FrameAnalyzer
) -> None:
    puppet = puppets[name]
    neutral = _signals(puppet, Pose(), analyzer)
    ear = (neutral.ear_left + neutral.ear_right) / 2
    closed = _signals(puppet, Pose(blink=1.0), analyzer)
    assert (closed.ear_left + closed.ear_right) / 2 < 0.75 * ear
    assert _signals(puppet, Pose(mouth=1.0), analyzer).mouth > neutral.mouth + 0.1
    left = _signals(puppet, Pose(yaw=25), analyzer)
    right = _signals(puppet, Pose(yaw=-25), analyzer)
    assert left.yaw - neutral.yaw > 14 and right.yaw - neutral.yaw < -14
    assert _signals(puppet, Pose(pitch=-18), analyzer).pitch - neutral.pitch < -7
    # Opening the mouth must not read as a nod: the pose uses rigid points only.
    assert abs(_signals(puppet, Pose(mouth=1.0), analyzer).pitch - neutral.pitch) < 4


def test_astronaut_blink_reaches_closed_eye_range(
    puppets: dict[str, FacePuppet], analyzer: FrameAnalyzer
) -> None:
    closed = _signals(puppets["astronaut"], Pose(blink=1.0), analyzer)
    assert (closed.ear_left + closed.ear_right) / 2 < 0.12


def test_similarity_residual_ignores_in_plane_motion() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 100, (40, 2))
    angle = 0.3
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 1.2 * points @ rot.T + [15, -7]
    assert similarity_residual(points, moved) < 1e-9
    bent = moved.copy()
    bent[:10, 0] += 3
    assert similarity_residual(points, bent) > 0.5
