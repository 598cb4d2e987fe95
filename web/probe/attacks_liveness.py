"""Presentation attacks on the liveness check: recordings and photos replayed to the camera.

The server draws each session's challenge order at random (3 of 5 actions: 60 orders). Now and
then it asks for exactly the order a recording performs by itself (the replayed session's own
order, or a run of the looping video's actions); the recording then answers every prompt like
a person, which no challenge-response check can tell apart, and the scenario's premise (a
recording made for *another* order) did not hold. Such a session proves nothing either way, so
the attack is made again on a fresh application, up to DRAWS sessions. A recording that passes
while the server asked for any other order is reported at once as not detected; one that
passes in every draw means the server's order is predictable, and is not detected either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from liveness import Challenge
from web.probe.context import ProbeContext
from web.probe.live_session import SessionEnd, replay_clip
from web.probe.result import ProbeResult

ATTACK_CLIPS = {
    "static_photo": "liveness: printed photo held still",
    "photo_jitter": "liveness: photo with small hand jitter",
    "replay_other_order": "liveness: replay of a session that did another order",
    "looping_video": "liveness: video looping every action",
}
# Sessions per attack at most. A recording performs by itself 3 of the 60 orders (the replay)
# or 7 (the looping video), so a random server asks for one in all of them with probability
# at most (7/60) ** 3 < 0.2 % (and the recording must also pass each time).
DRAWS = 3


def performs_by_itself(asked: Sequence[str], actions: Sequence[str]) -> bool:
    """Whether a recording doing `actions` over and over answers the prompts `asked` without a
    wrong action: each asked action is the next one the recording does, or follows it with only
    blinks between (a blink never counts as a wrong action)."""
    if not asked or not actions:
        return False
    cycle = list(actions) * (len(asked) + 1)
    for start in range(len(actions)):
        position = start
        if cycle[position] != asked[0]:
            continue
        for wanted in asked[1:]:
            position += 1
            while cycle[position] != wanted and cycle[position] == Challenge.BLINK.value:
                position += 1
            if cycle[position] != wanted:
                break
        else:
            return True
    return False


def _passed(ctx: ProbeContext, kind: str) -> tuple[SessionEnd, bool]:
    applicant = ctx.applicant_with_identity()
    end = replay_clip(applicant, ctx.clips.attacks[kind])
    return end, end.passed or applicant.state() == "liveness_passed"


def clip_attack(kind: str) -> Callable[[ProbeContext], ProbeResult]:
    """Replay the corpus clip `kind` to a fresh application's liveness session."""
    name = ATTACK_CLIPS[kind]

    def attack(ctx: ProbeContext) -> ProbeResult:
        own_orders: list[str] = []
        for _ in range(DRAWS):
            end, passed = _passed(ctx, kind)
            if not passed:
                redrawn = (f"; drew again after {len(own_orders)} session(s) that asked for "
                           f"the recording's own order ({' / '.join(own_orders)})"
                           if own_orders else "")
                return ProbeResult(name, True, f"{end.reasons} (after {end.frames_sent} "
                                               f"frames, asked {end.asked_text}){redrawn}")
            if not performs_by_itself(end.asked, ctx.clips.attack_actions[kind]):
                return ProbeResult(name, False, f"liveness passed after {end.frames_sent} "
                                                f"frames; the server asked {end.asked_text}")
            own_orders.append(end.asked_text)
        return ProbeResult(name, False, f"liveness passed in all {DRAWS} sessions, each asking "
                                        f"for an order the recording performs by itself "
                                        f"({' / '.join(own_orders)}): the challenge order is "
                                        "predictable")

    attack.__name__ = f"liveness_{kind}"
    return attack


SCENARIOS: tuple[Callable[[ProbeContext], ProbeResult], ...] = tuple(
    clip_attack(kind) for kind in ATTACK_CLIPS)
