"""Hostile TA command parameters: every trusted app answers a status, never an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tee_sim import (
    CHANNEL_TA,
    CONFIRMATION_TA,
    KEYSTORE_TA,
    PIN_TA,
    Device,
    DeviceStore,
    KeystoreCommand,
    TeeStatus,
)
from tee_sim.wallet import SIGNING_ALIAS, bind

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
PLAIN_ALIAS = "fuzz-plain"
TAS = [KEYSTORE_TA, CONFIRMATION_TA, PIN_TA, CHANNEL_TA]
PARAM_NAMES = ["alias", "kind", "challenge", "confirmation", "user_presence", "strongbox",
               "data", "message", "prompt", "nonce", "pin", "current_pin", "hello", "record",
               "payload",
               "type", "unknown"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=80), st.binary(max_size=200),
    st.sampled_from(["cardsim-signing", "cardsim-agreement", "cardsim-se", "ed25519",
                     "x25519", "1234", "123456"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                         max_size=2),
)


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Device:
    store = DeviceStore(Path(tmp_path_factory.mktemp("ta-devices")))
    device = store.open(store.create("genuine", issuer_public_key=bytes.fromhex(
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")))
    bind(device, challenge=b"fuzz-challenge")
    generated = device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.GENERATE_KEY, {"alias": PLAIN_ALIAS, "kind": "ed25519",
                                       "challenge": b"plain"})
    assert generated.ok, generated
    return device


@FUZZ
@given(ta=st.sampled_from(TAS), command=st.integers(-3, 8),
       params=st.dictionaries(st.sampled_from(PARAM_NAMES), VALUES, max_size=5))
def test_every_ta_answers_a_status_for_any_parameters(
    device: Device, ta: object, command: int, params: dict[str, object]
) -> None:
    result = device.open_session(ta).invoke(command, params)  # type: ignore[arg-type]
    assert isinstance(result.status, TeeStatus)
    if not result.ok:
        error = result.values.get("error")
        assert isinstance(error, str) and error
        # An "internal error" means a handler crashed on input it should have refused.
        assert not error.startswith("internal error"), (command, params, error)
    # The device state is still sound after any command.
    assert device.public_state()["device_id"] == device.device_id


@FUZZ
@given(data=st.binary(max_size=500))
def test_confirmation_key_never_signs_outside_the_trusted_ui(device: Device, data: bytes) -> None:
    result = device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.SIGN, {"alias": SIGNING_ALIAS, "message": data})
    assert result.status is TeeStatus.TEEC_ERROR_ACCESS_DENIED, result
    # The same call on an ordinary key works: the refusal is about the confirmation key.
    plain = device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.SIGN, {"alias": PLAIN_ALIAS, "message": data})
    assert plain.ok, plain
