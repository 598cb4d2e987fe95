"""Presentation attacks on the liveness check: recordings and photos replayed to the camera."""

from __future__ import annotations

from collections.abc import Callable

from web.probe.context import ProbeContext
from web.probe.live_session import replay_clip
from web.probe.result import ProbeResult

ATTACK_CLIPS = {
    "static_photo": "liveness: printed photo held still",
    "photo_jitter": "liveness: photo with small hand jitter",
    "replay_other_order": "liveness: replay of a session that did another order",
    "looping_video": "liveness: video looping every action",
}


def clip_attack(kind: str) -> Callable[[ProbeContext], ProbeResult]:
    """Replay the corpus clip `kind` to a fresh application's liveness session."""

    def attack(ctx: ProbeContext) -> ProbeResult:
        applicant = ctx.applicant_with_identity()
        end = replay_clip(applicant, ctx.clips.attacks[kind])
        state = applicant.state()
        if end.passed or state == "liveness_passed":
            return ProbeResult(ATTACK_CLIPS[kind], False,
                               f"liveness passed after {end.frames_sent} frames")
        return ProbeResult(ATTACK_CLIPS[kind], True,
                           f"{end.reasons} (after {end.frames_sent} frames)")

    attack.__name__ = f"liveness_{kind}"
    return attack


SCENARIOS: tuple[Callable[[ProbeContext], ProbeResult], ...] = tuple(
    clip_attack(kind) for kind in ATTACK_CLIPS)
