"""Throughput of the TEE emulator against raw pynacl, measured in the same run.

Run: .venv/bin/python -m benchmarks.bench_tee_sim [--seconds 2]
Prints operations per second for (1) key generation + attestation, (2) Ed25519 signing, each
through the full client API (lock, unseal, work, reseal, RPMB update) and as raw pynacl, with
the ratio emulator / raw.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nacl.signing

from tee_sim import KEYSTORE_TA, DeviceStore, KeystoreCommand


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of `operation`, run repeatedly for about `seconds`."""
    operation()  # warm-up
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        operation()
        count += 1
    return count / elapsed


def main() -> None:
    """Measure and print the four rates and two ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        device = DeviceStore(Path(tmp)).open(DeviceStore(Path(tmp)).create("genuine"))
        keystore = device.open_session(KEYSTORE_TA)
        gen_params = {"alias": "bench", "kind": "ed25519", "challenge": b"benchmark-challenge"}
        sign_params = {"alias": "plain", "message": b"m" * 64}
        made = keystore.invoke(KeystoreCommand.GENERATE_KEY, {**gen_params, "alias": "plain"})
        assert made.ok, made.values

        def emulated_generate() -> None:
            assert keystore.invoke(KeystoreCommand.GENERATE_KEY, gen_params).ok

        def emulated_sign() -> None:
            assert keystore.invoke(KeystoreCommand.SIGN, sign_params).ok

        raw_key = nacl.signing.SigningKey.generate()
        rows = [
            ("key generation + attestation", emulated_generate, nacl.signing.SigningKey.generate),
            ("Ed25519 sign (64-byte message)", emulated_sign, lambda: raw_key.sign(b"m" * 64)),
        ]
        print(f"{'operation':34} {'emulator/s':>12} {'raw pynacl/s':>14} {'ratio':>8}")
        for name, emulated, raw in rows:
            e, r = rate(emulated, args.seconds), rate(raw, args.seconds)
            print(f"{name:34} {e:12.1f} {r:14.1f} {e / r:8.4f}")


if __name__ == "__main__":
    main()
