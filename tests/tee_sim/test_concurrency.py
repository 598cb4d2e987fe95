"""Several workers using one device at once: the lock serializes them, nothing is lost."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tee_sim import KEYSTORE_TA, Device, DeviceStore, KeystoreCommand

pytestmark = pytest.mark.unit


def test_parallel_key_generation_loses_no_update(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    device_id = make_device("genuine").device_id

    def generate(i: int) -> bool:
        # Each worker opens its own Device object, as separate web processes would.
        session = store.open(device_id).open_session(KEYSTORE_TA)
        params = {"alias": f"k{i}", "kind": "ed25519", "challenge": b"c"}
        return session.invoke(KeystoreCommand.GENERATE_KEY, params).ok

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(generate, range(24)))
    aliases = store.open(device_id).open_session(KEYSTORE_TA).invoke(KeystoreCommand.LIST_KEYS, {})
    listed = aliases.values["aliases"]
    assert isinstance(listed, list)
    assert sorted(listed) == sorted(f"k{i}" for i in range(24))
