"""The pre-recorded liveness clip of `cardsim demo` (and the browser tests' fake camera).

Rendered with the liveness corpus puppet: a steady lead, then the configured actions in order,
separated by neutral gaps, looping. The gaps must stay below the session's steady period
(1.5 s) so the first prompt can only be issued during the lead, and be as long as possible
within that so each next prompt (after 0.4 s of neutral face) comes well before the next
action even when a loaded machine delivers frames late (the session refuses actions completed
less than 0.25 s after their prompt). liveness.corpus's own browser clip uses 1.0 s gaps.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

LEAD_S = 3.2
GAP_S = 1.3
MAX_ACTION_S = 1.1


def demo_clip_frames(challenges: Sequence[str], *, fps: int, width: int = 640,
                     height: int = 480, seed: int = 7) -> list[Any]:
    """BGR frames of one loop of the clip performing `challenges` in order."""
    from liveness import parse_challenges
    from liveness.corpus import (
        FACE_SOURCES,
        ClipMaker,
        FaceMeshDetector,
        Look,
        Segment,
        action_segment,
    )

    rng = random.Random(seed)
    segments = [Segment("neutral", LEAD_S)]
    for i, challenge in enumerate(parse_challenges(list(challenges))):
        if i:
            segments.append(Segment("neutral", GAP_S))
        action = action_segment(challenge.value, rng)
        segments.append(replace(action, seconds=min(action.seconds, MAX_ACTION_S)))
    segments.append(Segment("neutral", GAP_S))
    maker = ClipMaker(FaceMeshDetector(max_faces=1))
    look = Look(width=width, height=height, face_fraction=0.34, noise=2.0)
    puppet = maker.puppet(FACE_SOURCES[1], look)
    return list(maker.live(puppet, segments, fps=fps, rng=rng, noise=look.noise))
