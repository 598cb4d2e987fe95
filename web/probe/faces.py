"""Face clips for the liveness attacks and the honest applicant, from the liveness corpus
generator (real face photo animated by its 3D face-mesh puppet).

The honest applicant performs whatever the server prompts, so its clip is kept as short
pieces: a neutral face, and one piece per action (a short pause, the action, a neutral
return). Attack clips are fixed recordings, replayed without looking at the prompts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from liveness import Challenge
from liveness.corpus import (
    FACE_SOURCES,
    ClipMaker,
    FaceMeshDetector,
    FacePuppet,
    Look,
    MicroMotion,
    Segment,
    action_segment,
    add_noise,
    combine,
    encode_jpeg,
    photo_attack,
    timeline_poses,
)

FPS = 10.0
LOOK = Look(width=320, height=320, face_fraction=0.45, noise=2.0)
# A replayed recording of an honest session that was asked for this order.
RECORDED_ORDER = ("nod", "turn_right", "blink")


@dataclass(frozen=True)
class FaceClips:
    """JPEG frames at `FPS`: honest pieces and the attack recordings, with the challenge
    actions each recording performs in one pass (none for the photos)."""

    neutral: tuple[bytes, ...]
    actions: dict[str, tuple[bytes, ...]]
    attacks: dict[str, tuple[bytes, ...]]
    attack_actions: dict[str, tuple[str, ...]]


class _Renderer:
    """Renders pieces of one continuous performance (one micro-motion, one noise stream)."""

    def __init__(self, puppet: FacePuppet, seed: int) -> None:
        self.puppet = puppet
        self.rng = random.Random(seed)
        self.motion = MicroMotion(self.rng, degrees=2.5, pixels=2.5)
        self.offset = 0.0

    def render(self, segments: Sequence[Segment]) -> tuple[bytes, ...]:
        noise_rng = np.random.default_rng(self.rng.getrandbits(32))
        frames = []
        for i, pose in enumerate(timeline_poses(segments, FPS, None)):
            moved = combine(pose, self.motion.at(self.offset + i / FPS))
            frames.append(encode_jpeg(add_noise(self.puppet.render(moved), LOOK.noise,
                                                noise_rng)))
        self.offset += len(frames) / FPS
        return tuple(frames)


def render_face_clips(*, seed: int = 7, workers: int = 4) -> FaceClips:
    """Render every clip the probe needs (a few seconds of CPU; done once per run)."""
    maker = ClipMaker(FaceMeshDetector(max_faces=1))
    puppet = maker.puppet(FACE_SOURCES[1], LOOK)
    rng = random.Random(seed)
    jobs: dict[str, list[Segment]] = {"neutral": [Segment("neutral", 4.0)]}
    for challenge in Challenge:
        jobs[challenge.value] = [Segment("neutral", 0.5),
                                 action_segment(challenge.value, rng), Segment("neutral", 1.2)]
    renderers = {name: _Renderer(puppet, seed + i) for i, name in enumerate(jobs)}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rendered = dict(zip(jobs, pool.map(lambda n: renderers[n].render(jobs[n]), jobs),
                            strict=True))
    neutral = rendered.pop("neutral")
    # Recordings cut from the same performance: another session's answer to another order,
    # and every action in turn, looped.
    attacks = {
        "replay_other_order": neutral[:30] + tuple(
            frame for action in RECORDED_ORDER for frame in rendered[action]),
        "looping_video": tuple(frame for _ in range(2) for action in Challenge
                               for frame in rendered[action.value]),
    }
    for kind in ("static_photo", "photo_jitter"):
        attacks[kind] = tuple(encode_jpeg(f) for f in photo_attack(
            puppet.image, kind=kind, seconds=10.0, fps=FPS, rng=rng, noise=LOOK.noise))
    attack_actions = {"replay_other_order": RECORDED_ORDER,
                      "looping_video": tuple(c.value for c in Challenge),
                      "static_photo": (), "photo_jitter": ()}
    return FaceClips(neutral=neutral, actions=rendered, attacks=attacks,
                     attack_actions=attack_actions)


def looped(frames: Sequence[bytes]) -> Iterator[bytes]:
    """The clip played in a loop (as a video replayed to a camera would be)."""
    while True:
        yield from frames
