"""Sealed storage: no secret in plaintext on disk, tampering and rollback are refused."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import nacl.signing
import pytest

from tee_sim import (
    KEYSTORE_TA,
    PIN_TA,
    SW,
    BadParameters,
    Device,
    DeviceNotFound,
    DeviceStore,
    KeystoreCommand,
    PinCommand,
    StateIntegrityError,
    TeeStatus,
    wallet,
)
from tee_sim.storage import SealedStorage, derive_key
from tests.tee_sim.issuer_side import IssuerChannel, card_inner, perso_payload
from tests.tee_sim.support import as_bytes

pytestmark = pytest.mark.unit

PIN = "482916"
PAN = "6250941234567890"


def _provisioned(
    make_device: Callable[[str], Device], issuer_key: nacl.signing.SigningKey
) -> Device:
    device = make_device("genuine")
    keys = wallet.bind(device, challenge=b"c")
    channel = IssuerChannel.start(
        issuer_key=issuer_key, device_public=as_bytes(keys["agreement"]["public_key"])
    )
    wallet.open_channel(device, hello=channel.hello)
    inner = card_inner(challenge=wallet.se_challenge(device), pan=PAN)
    payload = perso_payload(
        issuer_key=issuer_key, se_public=as_bytes(keys["se"]["public_key"]), inner=inner
    )
    assert (
        wallet.receive_provisioning(device, record=channel.seal(b"\x01" + payload))["sw"] == 0x9000
    )
    wallet.set_pin(device, pin=PIN)
    return device


def _files_outside_fuses(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".fuses" not in p.parts]


def test_no_secret_appears_in_plaintext_in_device_files(
    make_device: Callable[[str], Device], issuer_key: nacl.signing.SigningKey, store: DeviceStore
) -> None:
    device = _provisioned(make_device, issuer_key)
    storage = SealedStorage(store.directory, device.device_id)
    state, _ = storage.load()
    huk = (store.directory / ".fuses" / device.device_id).read_bytes()
    secrets = {
        "huk": huk,
        "storage key": derive_key(huk, "cardsim-tee-storage-v1"),
        "attestation key": state["attestation_key"],
        "card key": state["se"]["card"]["card_key"],
        "PAN": PAN.encode(),
        "PIN": PIN.encode(),
        "channel key i2d": state["channel"]["k_i2d"],
        "channel key d2i": state["channel"]["k_d2i"],
        "PIN hash": state["pin"]["hash"],
    }
    secrets.update({f"key {a}": k["private"] for a, k in state["keys"].items()})
    device_files = [
        *_files_outside_fuses(store.directory / device.device_id),
        store.directory / ".rpmb" / device.device_id,
    ]
    assert (store.directory / device.device_id / "state.bin") in device_files
    for path in device_files:
        data = path.read_bytes()
        for name, secret in secrets.items():
            for encoding in (secret, secret.hex().encode(), secret.hex().upper().encode()):
                assert encoding not in data, f"{name} found in {path}"
    # The fuse file is outside the device directory and owner-only.
    fuse = store.directory / ".fuses" / device.device_id
    assert fuse.stat().st_mode & 0o077 == 0
    assert store.directory / device.device_id not in fuse.parents


def test_restoring_an_older_state_file_is_refused(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    device = make_device("genuine")
    wallet.set_pin(device, pin="1234")
    state_file = store.directory / device.device_id / "state.bin"
    saved = state_file.read_bytes()
    pin = device.open_session(PIN_TA)
    for _ in range(3):
        assert (
            pin.invoke(PinCommand.VERIFY_PIN, {"pin": "0000"}).status
            is TeeStatus.TEE_ERROR_PIN_INCORRECT
        )
    state_file.write_bytes(saved)  # the attacker restores the copy with zero failures

    result = pin.invoke(PinCommand.VERIFY_PIN, {"pin": "1234"})
    assert result.status is TeeStatus.TEE_ERROR_ROLLBACK
    assert "rollback" in str(result.values["error"])
    assert device.transmit(bytes.fromhex("00A4040008A000000333010102")) == bytes.fromhex("6581")
    with pytest.raises(StateIntegrityError) as err:
        device.public_state()
    assert err.value.status is TeeStatus.TEE_ERROR_ROLLBACK
    assert "rollback" in next(s.state for s in store.list())


def test_a_flipped_byte_is_detected(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    device = make_device("genuine")
    state_file = store.directory / device.device_id / "state.bin"
    data = bytearray(state_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    state_file.write_bytes(bytes(data))
    result = device.open_session(KEYSTORE_TA).invoke(KeystoreCommand.LIST_KEYS, {})
    assert result.status is TeeStatus.TEEC_ERROR_SECURITY
    assert device.transmit(bytes.fromhex("00A4040008A000000333010102"))[
        -2:
    ] == SW.MEMORY_FAILURE.to_bytes(2, "big")


def test_state_of_another_device_is_refused(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    a, b = make_device("genuine"), make_device("genuine")
    shutil.copy(
        store.directory / a.device_id / "state.bin", store.directory / b.device_id / "state.bin"
    )
    result = b.open_session(KEYSTORE_TA).invoke(KeystoreCommand.LIST_KEYS, {})
    assert result.status is TeeStatus.TEEC_ERROR_SECURITY


def test_tampered_rpmb_is_detected(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    device = make_device("genuine")
    rpmb = store.directory / ".rpmb" / device.device_id
    rpmb.write_bytes((0).to_bytes(8, "big") + rpmb.read_bytes()[8:])
    result = device.open_session(KEYSTORE_TA).invoke(KeystoreCommand.LIST_KEYS, {})
    assert result.status is TeeStatus.TEEC_ERROR_SECURITY


def test_rpmb_is_written_when_the_fuses_are_burnt(store: DeviceStore) -> None:
    storage = SealedStorage(store.directory, "dev-0123456789abcdef")
    storage.burn_fuses(b"\x07" * 32)
    assert (store.directory / ".rpmb" / "dev-0123456789abcdef").stat().st_size == 40


def test_erasing_the_rpmb_to_restore_an_older_state_is_refused(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    device = make_device("genuine")
    state_file = store.directory / device.device_id / "state.bin"
    fresh = state_file.read_bytes()  # counter 1: no PIN, no failures
    wallet.set_pin(device, pin="1234")
    pin = device.open_session(PIN_TA)
    for _ in range(3):
        assert pin.invoke(PinCommand.VERIFY_PIN, {"pin": "0000"}).status in (
            TeeStatus.TEE_ERROR_PIN_INCORRECT,
            TeeStatus.TEE_ERROR_PIN_DELAY,
        )
    (store.directory / ".rpmb" / device.device_id).unlink()
    state_file.write_bytes(fresh)  # with the counter gone, counter 1 would look current

    result = pin.invoke(PinCommand.STATUS, {})
    assert result.status is TeeStatus.TEEC_ERROR_SECURITY
    assert "RPMB counter is missing" in str(result.values["error"])
    assert not (store.directory / ".rpmb" / device.device_id).exists()  # nothing rewritten
    assert device.transmit(bytes.fromhex("00A4040008A000000333010102")) == bytes.fromhex("6581")
    assert "RPMB counter is missing" in next(s.state for s in store.list())


def test_erasing_the_rpmb_alone_is_refused(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    device = make_device("genuine")
    (store.directory / ".rpmb" / device.device_id).unlink()
    with pytest.raises(StateIntegrityError) as err:
        device.public_state()
    assert err.value.status is TeeStatus.TEEC_ERROR_SECURITY


def test_failed_commands_write_nothing(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    device = make_device("genuine")
    state_file = store.directory / device.device_id / "state.bin"
    before = state_file.read_bytes()
    ks = device.open_session(KEYSTORE_TA)
    assert not ks.invoke(KeystoreCommand.GENERATE_KEY, {"alias": "a", "kind": "x"}).ok
    assert not ks.invoke(KeystoreCommand.SIGN, {"alias": "nope", "message": b""}).ok
    assert ks.invoke(KeystoreCommand.LIST_KEYS, {}).ok
    assert state_file.read_bytes() == before


def test_open_and_create_refuse_bad_input(store: DeviceStore) -> None:
    for bad in ("../etc", "dev-0000000000000000", "", "dev-XYZ"):
        with pytest.raises(DeviceNotFound):
            store.open(bad)
    with pytest.raises(Exception) as err:
        store.create("jailbroken")
    assert err.value.status is TeeStatus.TEEC_ERROR_BAD_PARAMETERS  # type: ignore[attr-defined]
    with pytest.raises(Exception) as err2:
        store.create("genuine", issuer_public_key=b"short")
    assert err2.value.status is TeeStatus.TEEC_ERROR_BAD_PARAMETERS  # type: ignore[attr-defined]
    for not_a_key in (b"\xff" * 32, bytes(32), b"\x01" + bytes(31)):
        with pytest.raises(BadParameters, match="not a valid Ed25519 public key"):
            store.create("genuine", issuer_public_key=not_a_key)
    assert store.list() == []
