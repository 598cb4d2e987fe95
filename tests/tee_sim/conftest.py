"""Fixtures for tee_sim tests: a device store in a temp dir, an issuer key, a settable clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.signing
import pytest

from tee_sim import Device, DeviceStore, wallet
from tests.tee_sim.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    # A little in the past so openssl (real time) never sees a not-yet-valid certificate.
    return FakeClock(datetime.now(UTC) - timedelta(hours=1))


@pytest.fixture
def issuer_key() -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey.generate()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> DeviceStore:
    return DeviceStore(tmp_path / "devices", clock=clock)


@pytest.fixture
def make_device(store: DeviceStore, issuer_key: nacl.signing.SigningKey) -> Callable[[str], Device]:
    def make(profile: str = "genuine") -> Device:
        device_id = store.create(profile, issuer_public_key=bytes(issuer_key.verify_key))
        return store.open(device_id)

    return make


@pytest.fixture
def bound_device(
    make_device: Callable[[str], Device],
) -> tuple[Device, dict[str, dict[str, object]]]:
    device = make_device("genuine")
    return device, wallet.bind(device, challenge=b"binding-challenge-0001")
