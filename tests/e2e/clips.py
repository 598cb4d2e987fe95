"""Fake-camera clips for Chromium (`--use-file-for-fake-video-capture`), built from the
liveness corpus generator: 640x480, 30 fps Y4M, cached between runs (they take a while)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from liveness import parse_challenges
from liveness.corpus import (
    FACE_SOURCES,
    ClipMaker,
    Look,
    Segment,
    action_segment,
    photo_attack,
    write_y4m,
)
from liveness.landmarks import FaceMeshDetector

CLIP_VERSION = "v2"  # bump when the generator changes in a way the cache must not hide
FPS = 30
LEAD_S = 3.2
# Neutral time between two actions of the looping clip. It must stay below the session's
# steady period (1.5 s) so the first prompt can only be issued during the lead, and be as long
# as possible within that so the next prompt (after 0.4 s of neutral face) comes well before
# the next action even when a loaded CI machine delivers frames late. liveness.corpus's
# browser clip uses 1.0 s; 1.3 s leaves the reaction-time check (0.25 s) more room.
GAP_S = 1.3
MAX_ACTION_S = 1.1


def live_segments(challenges: Sequence[str], rng: random.Random) -> list[Segment]:
    """One loop: a long steady lead, then the actions separated by neutral gaps."""
    segments = [Segment("neutral", LEAD_S)]
    for i, challenge in enumerate(parse_challenges(list(challenges))):
        if i:
            segments.append(Segment("neutral", GAP_S))
        seg = action_segment(challenge.value, rng)
        segments.append(replace(seg, seconds=min(seg.seconds, MAX_ACTION_S)))
    segments.append(Segment("neutral", GAP_S))
    return segments


def live_clip(directory: Path, challenges: Sequence[str]) -> Path:
    """A bona fide looping clip that performs `challenges` in order (liveness corpus puppet)."""
    path = directory / f"live-{'-'.join(challenges)}-{CLIP_VERSION}.y4m"
    if not path.exists():
        rng = random.Random(7)
        maker = ClipMaker(FaceMeshDetector(max_faces=1))
        look = Look(width=640, height=480, face_fraction=0.34, noise=2.0)
        puppet = maker.puppet(FACE_SOURCES[1], look)
        frames = list(maker.live(puppet, live_segments(challenges, rng), fps=FPS, rng=rng,
                                 noise=look.noise))
        _write(path, frames)
    return path


def photo_clip(directory: Path) -> Path:
    """A printed photo held still before the camera (with sensor noise), looping."""
    path = directory / f"photo-static-{CLIP_VERSION}.y4m"
    if not path.exists():
        maker = ClipMaker(FaceMeshDetector(max_faces=1))
        look = Look(width=640, height=480, face_fraction=0.34, noise=2.0)
        puppet = maker.puppet(FACE_SOURCES[1], look)
        frames = list(photo_attack(puppet.image, kind="static_photo", seconds=4.0, fps=FPS,
                                   rng=random.Random(3), noise=2.0))
        _write(path, frames)
    return path


def _write(path: Path, frames: Sequence[object]) -> None:
    partial = path.with_suffix(".partial")
    write_y4m(partial, frames, fps=FPS)  # type: ignore[arg-type]
    partial.replace(path)
