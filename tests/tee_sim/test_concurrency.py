"""Several workers using one device at once: the lock serializes them, nothing is lost."""

from __future__ import annotations

import threading
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


def test_listing_while_a_device_is_used_breaks_nothing_and_reports_no_false_rollback(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    # `list` unseals every device; done without the device lock, with temporary files named
    # by process only, it raced the writers in the same process: torn RPMB blocks (the device
    # then refused as tampered), failed commands, and healthy devices listed as rolled back.
    device_id = make_device("genuine").device_id
    done = threading.Event()

    def use(worker: int) -> list[str]:
        session = store.open(device_id).open_session(KEYSTORE_TA)
        params = {"alias": f"w{worker}", "kind": "ed25519", "challenge": b"c"}
        failures = [
            str(result.values)
            for result in (session.invoke(KeystoreCommand.GENERATE_KEY, params) for _ in range(40))
            if not result.ok
        ]
        return failures

    def list_until_done() -> list[str]:
        reports: list[str] = []
        while not done.is_set():
            reports += [s.state for s in store.list() if s.state != "ok"]
        return reports

    with ThreadPoolExecutor(max_workers=4) as pool:
        listers = [pool.submit(list_until_done) for _ in range(2)]
        users = [pool.submit(use, worker) for worker in range(2)]
        failures = [f for user in users for f in user.result()]
        done.set()
        reports = [r for lister in listers for r in lister.result()]
    assert failures == [] and reports == []
    assert [s.state for s in store.list()] == ["ok"]
