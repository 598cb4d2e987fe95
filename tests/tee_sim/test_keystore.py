"""Keystore TA: challenge echoed, keys never exported, precise statuses for bad input."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import nacl.signing
import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tee_sim import (
    CHANNEL_TA,
    CONFIRMATION_TA,
    KEYSTORE_TA,
    PIN_TA,
    Device,
    KeystoreCommand,
    TeeError,
    TeeStatus,
    wallet,
)
from tee_sim.storage import SealedStorage
from tests.tee_sim.keydescription_asn1 import decode_key_description
from tests.tee_sim.support import as_bytes, as_chain

pytestmark = pytest.mark.unit
OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.17")


def _challenge_of(chain: list[bytes]) -> bytes:
    leaf = x509.load_der_x509_certificate(chain[0])
    extension = leaf.extensions.get_extension_for_oid(OID).value
    assert isinstance(extension, x509.UnrecognizedExtension)
    kd = decode_key_description(extension.value)
    return bytes(kd["attestationChallenge"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(challenge=st.binary(min_size=1, max_size=128))
def test_challenge_is_echoed_exactly(
    make_device: Callable[[str], Device], challenge: bytes
) -> None:
    device = _shared_device(make_device)
    result = device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.GENERATE_KEY, {"alias": "k", "kind": "ed25519", "challenge": challenge}
    )
    assert result.ok, result.values
    assert _challenge_of(as_chain(result.values["chain"])) == challenge


_DEVICES: dict[int, Device] = {}


def _shared_device(make_device: Callable[[str], Device]) -> Device:
    return _DEVICES.setdefault(id(make_device), make_device("genuine"))


def _all_bytes(value: object) -> list[bytes]:
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, dict):
        return [b for v in value.values() for b in _all_bytes(v)]
    if isinstance(value, list | tuple):
        return [b for v in value for b in _all_bytes(v)]
    if isinstance(value, str):
        return [value.encode()]
    return []


def test_no_command_returns_private_key_material(make_device: Callable[[str], Device]) -> None:
    device = make_device("genuine")
    outputs: list[object] = []
    bound = wallet.bind(device, challenge=b"challenge")
    outputs.append(bound)
    ks = device.open_session(KEYSTORE_TA)
    outputs.append(
        ks.invoke(
            KeystoreCommand.GENERATE_KEY, {"alias": "plain", "kind": "ed25519", "challenge": b"x"}
        ).values
    )
    for alias in ("plain", wallet.SIGNING_ALIAS, wallet.AGREEMENT_ALIAS, wallet.SE_ALIAS):
        outputs.append(ks.invoke(KeystoreCommand.GET_CHAIN, {"alias": alias}).values)
        outputs.append(ks.invoke(KeystoreCommand.SIGN, {"alias": alias, "message": b"m"}).values)
    outputs.append(ks.invoke(KeystoreCommand.LIST_KEYS, {}).values)
    outputs.append(wallet.confirm(device, prompt="ok", nonce=b"n" * 16))
    outputs.append(device.public_state())
    # Every command of every TA, with empty params.
    for ta in (KEYSTORE_TA, CONFIRMATION_TA, PIN_TA, CHANNEL_TA):
        for command in range(0, 8):
            outputs.append(device.open_session(ta).invoke(command, {}).values)

    state, _ = SealedStorage(device._storage.root, device.device_id).load()
    secrets = [k["private"] for k in state["keys"].values()] + [state["attestation_key"]]
    blob = b"\x00".join(b for out in outputs for b in _all_bytes(out))
    blob += repr(outputs).encode()
    for secret in secrets:
        assert secret not in blob
        assert secret.hex().encode() not in blob


def test_sign_works_for_plain_keys_and_is_refused_for_confirmation_keys(
    bound_device: tuple[Device, dict[str, dict[str, object]]],
) -> None:
    device, _keys = bound_device
    ks = device.open_session(KEYSTORE_TA)
    made = ks.invoke(
        KeystoreCommand.GENERATE_KEY, {"alias": "p", "kind": "ed25519", "challenge": b"c"}
    )
    signed = ks.invoke(KeystoreCommand.SIGN, {"alias": "p", "message": b"hello"})
    assert signed.ok
    nacl.signing.VerifyKey(as_bytes(made.values["public_key"])).verify(
        b"hello", as_bytes(signed.values["signature"])
    )

    refused = ks.invoke(KeystoreCommand.SIGN, {"alias": wallet.SIGNING_ALIAS, "message": b"hello"})
    assert refused.status is TeeStatus.TEEC_ERROR_ACCESS_DENIED
    assert "confirmation" in str(refused.values["error"])
    agree = ks.invoke(KeystoreCommand.SIGN, {"alias": wallet.AGREEMENT_ALIAS, "message": b"m"})
    assert agree.status is TeeStatus.TEEC_ERROR_BAD_PARAMETERS


@pytest.mark.parametrize(
    ("command", "params", "status"),
    [
        (99, {}, TeeStatus.TEEC_ERROR_NOT_SUPPORTED),
        (-1, {}, TeeStatus.TEEC_ERROR_NOT_SUPPORTED),
        ("1", {}, TeeStatus.TEEC_ERROR_BAD_PARAMETERS),
        (True, {}, TeeStatus.TEEC_ERROR_BAD_PARAMETERS),
        (1, [], TeeStatus.TEEC_ERROR_BAD_PARAMETERS),
        (1, {"alias": "a", "kind": "ed25519"}, TeeStatus.TEEC_ERROR_BAD_PARAMETERS),
        (1, {"alias": "a", "kind": "rsa", "challenge": b"c"}, TeeStatus.TEEC_ERROR_BAD_PARAMETERS),
        (
            1,
            {"alias": "a", "kind": "ed25519", "challenge": b""},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            1,
            {"alias": "a", "kind": "ed25519", "challenge": b"c" * 129},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            1,
            {"alias": "a", "kind": "ed25519", "challenge": "text"},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            1,
            {"alias": "../x", "kind": "ed25519", "challenge": b"c"},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            1,
            {"alias": "a", "kind": "ed25519", "challenge": b"c", "extra": 1},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            1,
            {"alias": "a", "kind": "ed25519", "challenge": b"c", "strongbox": True},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            1,
            {"alias": "a", "kind": "x25519", "challenge": b"c", "confirmation": True},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            1,
            {"alias": "a", "kind": "ed25519", "challenge": b"c", "confirmation": "yes"},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (2, {"alias": "missing", "message": b"m"}, TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND),
        (3, {"alias": "missing"}, TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND),
    ],
)
def test_bad_input_gets_a_precise_status(
    make_device: Callable[[str], Device], command: object, params: object, status: TeeStatus
) -> None:
    device = _shared_device(make_device)
    result = device.open_session(KEYSTORE_TA).invoke(command, params)  # type: ignore[arg-type]
    assert result.status is status
    assert isinstance(result.values["error"], str) and result.values["error"]


def test_unknown_trusted_application(make_device: Callable[[str], Device]) -> None:
    with pytest.raises(TeeError) as err:
        _shared_device(make_device).open_session(uuid.uuid4())
    assert err.value.status is TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND


def test_se_key_cannot_be_replaced_after_personalization_but_can_before(
    bound_device: tuple[Device, dict[str, dict[str, object]]],
) -> None:
    device, _ = bound_device
    ks = device.open_session(KEYSTORE_TA)
    again = ks.invoke(
        KeystoreCommand.GENERATE_KEY,
        {"alias": wallet.SE_ALIAS, "kind": "x25519", "challenge": b"c", "strongbox": True},
    )
    assert again.ok
    assert (
        ks.invoke(KeystoreCommand.DELETE_KEY, {"alias": "nope"}).status
        is TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND
    )
