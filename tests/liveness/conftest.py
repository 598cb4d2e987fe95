"""Shared fixtures: one real FaceMesh per test session and small clips of real face photos."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

import pytest

from liveness import FrameAnalyzer, SessionState, Thresholds, expire, new_session
from liveness.corpus import FACE_SOURCES, ClipMaker, FaceSource, Look, encode_jpeg, performance
from liveness.landmarks import FaceMeshDetector
from liveness.puppet import FacePuppet
from liveness.session import process_frame

FPS = 10.0
SMALL = Look(width=240, height=240, face_fraction=0.5, noise=2.5)


@pytest.fixture()
def eval_without_face_mesh(monkeypatch: pytest.MonkeyPatch) -> None:
    """`cardsim liveness eval` fails the test if it loads the face mesh (for corpora it must
    refuse first)."""
    def no_face_mesh() -> None:
        raise AssertionError("the face mesh was loaded for a corpus that cannot be evaluated")

    monkeypatch.setattr("liveness.cli.FrameAnalyzer", no_face_mesh)


@pytest.fixture()
def generate_without_face_mesh(monkeypatch: pytest.MonkeyPatch) -> None:
    """`cardsim liveness generate-corpus` fails the test if it starts generating (for outputs
    it must refuse first)."""
    def no_face_mesh(**_: object) -> None:
        raise AssertionError("the corpus was generated although it could not be written")

    monkeypatch.setattr("liveness.cli.FaceMeshDetector", no_face_mesh)


@pytest.fixture(scope="session")
def analyzer() -> Iterator[FrameAnalyzer]:
    shared = FrameAnalyzer()
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def maker() -> ClipMaker:
    return ClipMaker(FaceMeshDetector(max_faces=1))


@pytest.fixture(scope="session", params=FACE_SOURCES, ids=lambda s: s.name)
def source(request: pytest.FixtureRequest) -> FaceSource:
    chosen: FaceSource = request.param
    return chosen


@pytest.fixture(scope="session")
def hopper() -> FaceSource:
    return FACE_SOURCES[1]


@pytest.fixture(scope="session")
def puppets(maker: ClipMaker) -> dict[str, FacePuppet]:
    return {s.name: maker.puppet(s, SMALL) for s in FACE_SOURCES}


def make_live_clip(
    maker: ClipMaker, puppet: FacePuppet, actions: Sequence[str], seed: int = 1, **kwargs: float
) -> list[bytes]:
    """JPEG frames at 10 fps of a live performance of `actions`."""
    rng = random.Random(seed)
    segments = performance(
        actions, rng, lead=float(kwargs.get("lead", 2.4)), tail=float(kwargs.get("tail", 1.0))
    )
    return [encode_jpeg(f) for f in maker.live(puppet, segments, fps=FPS, rng=rng, noise=2.5)]


def run_session_frames(
    frames: Sequence[bytes],
    challenges: Sequence[str],
    analyzer: FrameAnalyzer,
    thresholds: Thresholds | None = None,
    fps: float = FPS,
) -> SessionState:
    """Post frames one by one as the web layer would; expire the session if frames run out."""
    th = thresholds or Thresholds()
    state = new_session(challenges=challenges, now=0.0)
    for i, data in enumerate(frames):
        state = process_frame(
            state,
            jpeg=data,
            timestamp=i / fps,
            analyzer=analyzer,
            client_timestamp_ms=1000 * i / fps + 3,
            thresholds=th,
        ).state
        if state.finished:
            return state
    return expire(state, now=len(frames) / fps, thresholds=th)


LiveClip = Callable[..., list[bytes]]
RunFrames = Callable[..., SessionState]


@pytest.fixture(scope="session")
def live_clip() -> LiveClip:
    """make_live_clip(maker, puppet, actions, seed=...) -> JPEG frames at 10 fps."""
    return make_live_clip


@pytest.fixture(scope="session")
def run_frames() -> RunFrames:
    """run_session_frames(frames, challenges, analyzer, thresholds=None) -> final state."""
    return run_session_frames
