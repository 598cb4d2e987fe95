"""The challenge vocabulary, prompts, and how a session's sequence is chosen."""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Mapping, Sequence
from enum import StrEnum

from liveness.errors import InvalidChallenge

ENV_CHALLENGES = "CARDSIM_LIVENESS_CHALLENGES"
CHALLENGES_PER_SESSION = 3


class Challenge(StrEnum):
    """An action the applicant is asked to perform; "left"/"right" are the applicant's own."""

    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    OPEN_MOUTH = "open_mouth"
    NOD = "nod"


PROMPT_TEXT: Mapping[Challenge, str] = {
    Challenge.BLINK: "Blink your eyes",
    Challenge.TURN_LEFT: "Turn your head to your left",
    Challenge.TURN_RIGHT: "Turn your head to your right",
    Challenge.OPEN_MOUTH: "Open your mouth",
    Challenge.NOD: "Nod your head down",
}


def parse_challenges(names: Sequence[str]) -> tuple[Challenge, ...]:
    """Validate a configured sequence: 1-5 distinct known challenge names."""
    result: list[Challenge] = []
    for raw in names:
        name = raw.strip().lower()
        try:
            challenge = Challenge(name)
        except ValueError:
            known = ", ".join(c.value for c in Challenge)
            raise InvalidChallenge("unknown_challenge",
                                   f"unknown challenge {raw!r}; known: {known}") from None
        if challenge in result:
            raise InvalidChallenge("repeated_challenge", f"challenge {name!r} appears twice")
        result.append(challenge)
    if not result:
        raise InvalidChallenge("no_challenges", "at least one challenge is required")
    return tuple(result)


def draw_challenges(rng: secrets.SystemRandom | random.Random | None = None,
                    count: int = CHALLENGES_PER_SESSION) -> tuple[Challenge, ...]:
    """Draw `count` distinct challenges in random order (cryptographic randomness by default)."""
    chooser = rng if rng is not None else secrets.SystemRandom()
    return tuple(chooser.sample(list(Challenge), count))


def challenges_from_env(environ: Mapping[str, str] | None = None) -> tuple[Challenge, ...] | None:
    """The fixed sequence configured in CARDSIM_LIVENESS_CHALLENGES, or None when unset/empty.

    Meant for demos and tests; production leaves it unset so sequences are drawn at random.
    """
    value = (environ if environ is not None else os.environ).get(ENV_CHALLENGES, "").strip()
    if not value:
        return None
    return parse_challenges(value.split(","))
