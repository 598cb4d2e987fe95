"""Sealed, rollback-protected device state on disk.

Layout under the store directory:
  `.fuses/<device_id>`     the hardware-unique key (HUK). It models eFuses: never inside the
                           device directory, mode 0600, and only read to derive keys.
  `.rpmb/<device_id>`      emulated RPMB: a monotonic write counter, MAC'd under a HUK-derived key.
  `<device_id>/state.bin`  everything else, sealed with SecretBox under a HUK-derived key; the
                           sealed plaintext carries the device id and the write counter, which
                           must match the RPMB counter (an older copy is refused as a rollback).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import shutil
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.secret
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tee_sim.errors import DeviceNotFound, StateIntegrityError
from tee_sim.locking import write_atomically
from tee_sim.status import TeeStatus

STATE_MAGIC = b"CSTEE1\n"
_FUSES = ".fuses"
_RPMB = ".rpmb"
_STATE = "state.bin"

State = dict[str, Any]


def derive_key(huk: bytes, label: str) -> bytes:
    """A 32-byte key for one purpose, derived from the hardware-unique key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(huk)


def _encode(obj: object) -> object:
    if isinstance(obj, bytes):
        return {"$b": obj.hex()}
    raise TypeError(f"cannot store {type(obj).__name__}")


def _decode(obj: dict[str, Any]) -> object:
    if set(obj) == {"$b"}:
        return bytes.fromhex(obj["$b"])
    return obj


class SealedStorage:
    """Reads and writes one device's sealed state with RPMB rollback protection."""

    def __init__(self, root: Path, device_id: str) -> None:
        self.root = root
        self.device_id = device_id
        self.device_dir = root / device_id
        self._fuse_path = root / _FUSES / device_id
        self._rpmb_path = root / _RPMB / device_id

    @property
    def state_path(self) -> Path:
        """The sealed state file (the only file a REE-level attacker can usefully copy)."""
        return self.device_dir / _STATE

    def exists(self) -> bool:
        """True when the device was fully provisioned."""
        return self.state_path.exists() and self._fuse_path.exists()

    def burn_fuses(self, huk: bytes) -> None:
        """Write the hardware-unique key once, at manufacture, and start the RPMB counter at 0.

        From then on the RPMB block must exist: a device with fuses and no RPMB was erased.
        """
        self._fuse_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._rpmb_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._fuse_path.exists():
            raise StateIntegrityError(f"fuses of {self.device_id} are already burnt")
        write_atomically(self._fuse_path, huk)
        self._write_rpmb(huk, 0)

    def discard(self) -> None:
        """Remove a device whose manufacture failed: its fuses, RPMB block and directory."""
        shutil.rmtree(self.device_dir, ignore_errors=True)
        for path in (self._fuse_path, self._rpmb_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _huk(self) -> bytes:
        try:
            return self._fuse_path.read_bytes()
        except FileNotFoundError as exc:
            raise DeviceNotFound(f"no device {self.device_id}") from exc

    def _rpmb_mac(self, huk: bytes, counter: int) -> bytes:
        key = derive_key(huk, "cardsim-tee-rpmb-v1")
        msg = self.device_id.encode() + counter.to_bytes(8, "big")
        return hashlib.blake2b(msg, key=key, digest_size=32).digest()

    def _read_rpmb(self, huk: bytes) -> int:
        try:
            raw = self._rpmb_path.read_bytes()
        except FileNotFoundError as exc:
            # Written when the fuses were burnt: its absence is an erasure (which would reset
            # the counter and let an old state, e.g. with fewer PIN failures, back in).
            raise StateIntegrityError(
                "RPMB counter is missing (the replay-protected block was erased)",
                status=TeeStatus.TEEC_ERROR_SECURITY,
            ) from exc
        except OSError as exc:
            raise StateIntegrityError(
                f"RPMB counter cannot be read ({exc.strerror or exc})",
                status=TeeStatus.TEEC_ERROR_SECURITY,
            ) from exc
        counter = int.from_bytes(raw[:8], "big")
        if len(raw) != 40 or not hmac.compare_digest(raw[8:], self._rpmb_mac(huk, counter)):
            raise StateIntegrityError(
                "RPMB counter failed its authentication", status=TeeStatus.TEEC_ERROR_SECURITY
            )
        return counter

    def _write_rpmb(self, huk: bytes, counter: int) -> None:
        write_atomically(self._rpmb_path, counter.to_bytes(8, "big") + self._rpmb_mac(huk, counter))

    def load(self) -> tuple[State, int]:
        """Unseal the state; refuse it when tampered with or older than the RPMB counter."""
        huk = self._huk()
        try:
            raw = self.state_path.read_bytes()
        except FileNotFoundError as exc:
            raise DeviceNotFound(f"no device {self.device_id}") from exc
        box = nacl.secret.SecretBox(derive_key(huk, "cardsim-tee-storage-v1"))
        if not raw.startswith(STATE_MAGIC):
            raise StateIntegrityError(
                "device state file is not a sealed state", status=TeeStatus.TEEC_ERROR_SECURITY
            )
        try:
            plain = box.decrypt(raw[len(STATE_MAGIC) :])
            doc = json.loads(plain, object_hook=_decode)
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise StateIntegrityError(
                "device state failed its integrity check (modified or corrupted)",
                status=TeeStatus.TEEC_ERROR_SECURITY,
            ) from exc
        if doc.get("device_id") != self.device_id:
            raise StateIntegrityError(
                "device state belongs to another device", status=TeeStatus.TEEC_ERROR_SECURITY
            )
        counter = int(doc["counter"])
        rpmb = self._read_rpmb(huk)
        if counter < rpmb:
            raise StateIntegrityError(
                f"device state is older than the RPMB counter ({counter} < {rpmb}): "
                "rollback refused",
                status=TeeStatus.TEE_ERROR_ROLLBACK,
            )
        if counter > rpmb + 1:
            raise StateIntegrityError(
                "device state is ahead of the RPMB counter", status=TeeStatus.TEEC_ERROR_SECURITY
            )
        if counter == rpmb + 1:  # a write was interrupted after the state, before the RPMB
            self._write_rpmb(huk, counter)
        state: State = doc["state"]
        return state, counter

    def save(self, state: State, *, previous_counter: int) -> int:
        """Seal and write `state` with the next counter value; returns that value."""
        huk = self._huk()
        counter = previous_counter + 1
        doc = {"device_id": self.device_id, "counter": counter, "state": state}
        plain = json.dumps(doc, default=_encode, sort_keys=True).encode()
        box = nacl.secret.SecretBox(derive_key(huk, "cardsim-tee-storage-v1"))
        self.device_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(self.state_path, STATE_MAGIC + bytes(box.encrypt(plain)))
        self._write_rpmb(huk, counter)
        return counter

    def secret_key(self, label: str) -> bytes:
        """A HUK-derived key for a TA's own use (e.g. keyed PIN hashing)."""
        return derive_key(self._huk(), label)
