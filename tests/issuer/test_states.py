"""Application and card state machines: every allowed move passes, every other one raises."""

from __future__ import annotations

import itertools

import pytest

from issuer.errors import Conflict, IllegalTransition
from issuer.states import (
    APPLICATION_TRANSITIONS,
    CARD_TRANSITIONS,
    ApplicationState,
    CardStatus,
    check_application_transition,
    check_card_transition,
)

pytestmark = pytest.mark.unit

A = ApplicationState
HAPPY_PATH = [A.STARTED, A.IDENTITY_SUBMITTED, A.LIVENESS_PASSED, A.INTERVIEW_DONE,
              A.DEVICE_BOUND, A.AGREEMENT_SIGNED, A.APPROVED, A.ISSUED, A.ACTIVATED]
APP_PAIRS = list(itertools.product(ApplicationState, ApplicationState))
ILLEGAL_APP = [(a, b) for a, b in APP_PAIRS if b not in APPLICATION_TRANSITIONS[a]]
CARD_PAIRS = list(itertools.product(CardStatus, CardStatus))
ILLEGAL_CARD = [(a, b) for a, b in CARD_PAIRS if b not in CARD_TRANSITIONS[a]]


def test_happy_path_is_allowed() -> None:
    for current, following in itertools.pairwise(HAPPY_PATH):
        assert check_application_transition(current, following) == following


def test_decision_outcomes_and_review() -> None:
    for outcome in (A.APPROVED, A.DECLINED, A.MANUAL_REVIEW):
        check_application_transition(A.AGREEMENT_SIGNED, outcome)
    for outcome in (A.APPROVED, A.DECLINED):
        check_application_transition(A.MANUAL_REVIEW, outcome)


def test_abandon_and_expire_only_before_a_decision() -> None:
    open_states = set(HAPPY_PATH[:6])
    for state in ApplicationState:
        for end in (A.ABANDONED, A.EXPIRED):
            assert (end in APPLICATION_TRANSITIONS[state]) == (state in open_states), state


def test_terminal_states_have_no_exit() -> None:
    for state in (A.ACTIVATED, A.ABANDONED, A.EXPIRED):
        assert not APPLICATION_TRANSITIONS[state]
    # a decline is final except for the staff console's four-eyes override
    assert APPLICATION_TRANSITIONS[A.DECLINED] == {A.APPROVED}


@pytest.mark.parametrize(("current", "requested"), ILLEGAL_APP,
                         ids=[f"{a}->{b}" for a, b in ILLEGAL_APP])
def test_every_illegal_application_transition_raises(
    current: ApplicationState, requested: ApplicationState
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_application_transition(current, requested)
    assert isinstance(caught.value, Conflict)
    assert caught.value.message == f"application is {current}; it cannot move to {requested}"


def test_illegal_transition_count_is_what_the_table_implies() -> None:
    allowed = sum(len(targets) for targets in APPLICATION_TRANSITIONS.values())
    assert len(ILLEGAL_APP) == len(ApplicationState) ** 2 - allowed
    assert (A.STARTED, A.APPROVED) in ILLEGAL_APP  # skipping every check
    assert (A.DECLINED, A.ISSUED) in ILLEGAL_APP
    assert (A.APPROVED, A.MANUAL_REVIEW) in ILLEGAL_APP
    assert (A.ISSUED, A.ISSUED) in ILLEGAL_APP  # no self loops


@pytest.mark.parametrize(("current", "requested"), ILLEGAL_CARD,
                         ids=[f"{a}->{b}" for a, b in ILLEGAL_CARD])
def test_every_illegal_card_transition_raises(current: CardStatus, requested: CardStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_card_transition(current, requested)


def test_card_lifecycle() -> None:
    C = CardStatus
    for current, following in [(C.INACTIVE, C.ACTIVE), (C.ACTIVE, C.FROZEN),
                               (C.FROZEN, C.ACTIVE), (C.FROZEN, C.CLOSED),
                               (C.ACTIVE, C.CLOSED), (C.INACTIVE, C.CLOSED)]:
        assert check_card_transition(current, following) == following
    assert not CARD_TRANSITIONS[C.CLOSED]
