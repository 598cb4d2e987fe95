"""Real tee_sim phones of every profile, bound to one issuer challenge, and the issuer's view
of the manufacturer (loaded from the manufacturer's export files, as the bank would)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from issuer.devicetrust import ManufacturerTrust, load_manufacturer_trust
from tee_sim import PROFILES, Device, DeviceStore, wallet

DEVICE_CLOCK = datetime(2025, 6, 15, 9, 0, tzinfo=UTC)
ISSUER_NOW = DEVICE_CLOCK + timedelta(minutes=5)
CHALLENGE = bytes(range(32))


@dataclass
class Phones:
    store: DeviceStore
    issuer_key: SigningKey
    trust: ManufacturerTrust
    devices: dict[str, Device]
    bindings: dict[str, dict[str, dict[str, object]]]

    def chain(self, profile: str, key: str) -> list[bytes]:
        chain = self.bindings[profile][key]["chain"]
        assert isinstance(chain, list)
        return chain

    def new_device(self, profile: str = "genuine") -> Device:
        return self.store.open(
            self.store.create(profile, issuer_public_key=bytes(self.issuer_key.verify_key))
        )


@pytest.fixture(scope="module")
def phones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phones]:
    root: Path = tmp_path_factory.mktemp("phones")
    issuer_key = SigningKey.generate()
    store = DeviceStore(root / "devices", clock=lambda: DEVICE_CLOCK)
    devices = {
        profile: store.open(store.create(profile, issuer_public_key=bytes(issuer_key.verify_key)))
        for profile in PROFILES
    }
    bindings = {p: wallet.bind(d, challenge=CHALLENGE) for p, d in devices.items()}
    store.manufacturer.export(root / "export")
    trust = load_manufacturer_trust(root / "export")
    yield Phones(store, issuer_key, trust, devices, bindings)
