"""The liveness presentation attacks when the server's random draw asks for exactly the order a
recording performs by itself (the replayed session's own order, or a run of the looping video):
that session proves nothing and the attack is made again; a pass for any other order, or in
every draw, is not detected.

Real `cardsim serve` processes with fixed challenge orders (CARDSIM_LIVENESS_CHALLENGES) on one
database stand for the random draw: the first application goes to a server asking the
recording's own order, later ones to a server asking another.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from liveness import Challenge
from tests.probe.servers import RunningServer, instance_env, start_server
from web.probe.api import Applicant, Server
from web.probe.attacks_liveness import clip_attack, performs_by_itself
from web.probe.context import ProbeContext
from web.probe.faces import RECORDED_ORDER, FaceClips, render_face_clips

# The orders each recording passes by itself (found by replaying it against every order).
OWN_ORDER = {"replay_other_order": "nod,turn_right,blink",
             "looping_video": "turn_left,turn_right,open_mouth"}
OTHER_ORDER = "open_mouth,blink,turn_left"
LOOP = tuple(c.value for c in Challenge)


class FirstApplicationElsewhere(Server):
    """The probe's client: its first application goes to `first`, every later one to `then`
    (each application is driven to its end before the next one starts)."""

    def __init__(self, first: str, then: str) -> None:
        super().__init__(first)
        self.then = then
        self.started = 0

    def new_applicant(self) -> Applicant:
        if self.started:
            self.base_url = self.then
        self.started += 1
        return super().new_applicant()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningServer]]:
    instance = tmp_path_factory.mktemp("liveness-orders")
    started: dict[str, RunningServer] = {}
    try:
        # One after the other: the first creates the database, the keys and the device dir.
        for name, order in [("other", OTHER_ORDER), *OWN_ORDER.items()]:
            env = {**instance_env(instance), "CARDSIM_LIVENESS_CHALLENGES": order}
            started[name] = start_server(env, instance / f"{name}.log")
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def clips() -> FaceClips:
    return render_face_clips()


def _context(server: Server, clips: FaceClips) -> ProbeContext:
    ctx = ProbeContext(server=server, device_dir=None)
    ctx.clips = clips
    return ctx


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(OWN_ORDER))
def test_a_session_that_asked_the_recordings_own_order_is_drawn_again(
        kind: str, servers: dict[str, RunningServer], clips: FaceClips) -> None:
    client = FirstApplicationElsewhere(servers[kind].url, servers["other"].url)
    result = clip_attack(kind)(_context(client, clips))
    own = OWN_ORDER[kind].replace(",", ", ")
    assert result.detected, result.server_reason
    assert client.started == 2
    assert f"asked {OTHER_ORDER.split(',')[0]}" in result.server_reason  # up to the refusal
    assert f"drew again after 1 session(s) that asked for the recording's own order ({own})" \
        in result.server_reason


@pytest.mark.integration
@pytest.mark.slow
def test_a_recording_passing_in_every_draw_is_not_detected(
        servers: dict[str, RunningServer], clips: FaceClips) -> None:
    result = clip_attack("replay_other_order")(
        _context(Server(servers["replay_other_order"].url), clips))
    assert not result.detected
    assert "passed in all 3 sessions" in result.server_reason
    assert "the challenge order is predictable" in result.server_reason


@pytest.mark.integration
@pytest.mark.slow
def test_a_pass_for_another_order_is_not_detected_at_once(
        servers: dict[str, RunningServer], clips: FaceClips) -> None:
    # The replayed recording is the honest session cut for the looping video's own order: it
    # passes that order, which is not the replay's own, so nothing is drawn again.
    client = Server(servers["looping_video"].url)
    ctx = _context(client, clips)
    ctx.clips = FaceClips(neutral=clips.neutral, actions=clips.actions,
                          attacks={**clips.attacks,
                                   "replay_other_order": clips.attacks["looping_video"]},
                          attack_actions=clips.attack_actions)
    result = clip_attack("replay_other_order")(ctx)
    assert not result.detected
    assert result.server_reason.endswith(
        f"the server asked {OWN_ORDER['looping_video'].replace(',', ', ')}")


@pytest.mark.unit
@pytest.mark.parametrize("asked, actions, expected", [
    (RECORDED_ORDER, RECORDED_ORDER, True),
    (("turn_right", "blink", "nod"), RECORDED_ORDER, True),  # the next pass of the loop
    (("nod", "blink", "turn_right"), RECORDED_ORDER, False),  # turn_right comes before blink
    (("turn_left", "turn_right", "open_mouth"), LOOP, True),
    (("open_mouth", "nod", "turn_left"), LOOP, True),  # only a blink between nod and turn_left
    (("turn_left", "open_mouth", "nod"), LOOP, False),  # turn_right between: a wrong action
    (("blink", "nod", "turn_left"), (), False),  # a photo performs nothing
    ((), LOOP, False),
])
def test_performs_by_itself(asked: tuple[str, ...], actions: tuple[str, ...],
                            expected: bool) -> None:
    assert performs_by_itself(asked, actions) is expected


@pytest.mark.unit
def test_few_orders_are_a_recordings_own() -> None:
    orders = list(itertools.permutations(LOOP, 3))
    assert sum(performs_by_itself(o, RECORDED_ORDER) for o in orders) == 3
    assert sum(performs_by_itself(o, LOOP) for o in orders) == 7
