"""Challenge vocabulary, random draws and the configured sequence."""

from __future__ import annotations

import random
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveness import (
    ENV_CHALLENGES,
    Challenge,
    InvalidChallenge,
    challenges_from_env,
    draw_challenges,
    new_session,
    parse_challenges,
)

pytestmark = pytest.mark.unit


def test_env_sequence_is_parsed_in_order() -> None:
    env = {ENV_CHALLENGES: "blink, turn_left,OPEN_MOUTH"}
    assert challenges_from_env(env) == (Challenge.BLINK, Challenge.TURN_LEFT, Challenge.OPEN_MOUTH)
    assert challenges_from_env({}) is None
    assert challenges_from_env({ENV_CHALLENGES: "  "}) is None


@pytest.mark.parametrize("value", ["blink,wink", "blink,blink", ","])
def test_bad_sequences_are_rejected(value: str) -> None:
    with pytest.raises(InvalidChallenge):
        challenges_from_env({ENV_CHALLENGES: value})


def test_draw_is_three_distinct_and_uses_the_given_rng() -> None:
    first = draw_challenges(random.Random(5))
    assert len(first) == 3 and len(set(first)) == 3
    assert draw_challenges(random.Random(5)) == first
    orders = {draw_challenges(random.Random(seed)) for seed in range(300)}
    assert len(orders) > 40  # order matters: many of the 60 permutations appear


def test_default_draw_is_cryptographic() -> None:
    orders = {draw_challenges(secrets.SystemRandom()) for _ in range(50)}
    assert len(orders) > 10
    state = new_session(now=0.0)
    assert len(state.challenges) == 3


@given(st.lists(st.sampled_from([c.value for c in Challenge]), min_size=1, max_size=5, unique=True))
def test_any_distinct_known_sequence_round_trips(names: list[str]) -> None:
    state = new_session(challenges=names, now=1.0)
    assert state.challenges == names
    assert parse_challenges(names) == tuple(Challenge(n) for n in names)
