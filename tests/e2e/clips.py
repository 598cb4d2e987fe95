"""Fake-camera clips for Chromium (`--use-file-for-fake-video-capture`), built from the
liveness corpus generator: 640x480, 30 fps Y4M, cached between runs (they take a while)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from liveness.corpus import FACE_SOURCES, ClipMaker, Look, photo_attack, write_y4m
from liveness.landmarks import FaceMeshDetector
from web.commands.demo_clip import demo_clip_frames

CLIP_VERSION = "v2"  # bump when the generator changes in a way the cache must not hide
FPS = 30


def live_clip(directory: Path, challenges: Sequence[str]) -> Path:
    """A bona fide looping clip performing `challenges` in order (the demo's clip, 30 fps)."""
    path = directory / f"live-{'-'.join(challenges)}-{CLIP_VERSION}.y4m"
    if not path.exists():
        _write(path, demo_clip_frames(challenges, fps=FPS))
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
