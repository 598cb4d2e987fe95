"""Device manufacture and the device object: the public face of one emulated phone."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import nacl.signing
import nacl.utils
from cryptography.hazmat.primitives import serialization
from nacl.bindings import crypto_core_ed25519_is_valid_point

from tee_sim.context import Clock, DeviceContext, Rng
from tee_sim.errors import BadParameters, DeviceNotFound, TeeError
from tee_sim.locking import exclusive_lock
from tee_sim.pki import Manufacturer
from tee_sim.profiles import PROFILES, VerifiedBootState
from tee_sim.se_applet import LIFE_CYCLE_SELECTABLE, SecureElement
from tee_sim.status import TeeStatus
from tee_sim.storage import SealedStorage

if TYPE_CHECKING:
    from tee_sim.client import TeeSession

_DEVICE_ID = re.compile(r"^dev-[0-9a-f]{16}$")
OFFICIAL_BOOT_HASH = hashlib.sha256(b"cardsim OS 14 official image").digest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _default_rng(n: int) -> bytes:
    return bytes(nacl.utils.random(n))


@dataclass(frozen=True)
class DeviceSummary:
    """One line of `DeviceStore.list()`; `state` is "ok" or why the state is unusable."""

    device_id: str
    profile: str | None
    created_at: str | None
    state: str


class Device:
    """One emulated phone. Every operation loads, checks and (if changed) reseals its state."""

    def __init__(self, *, root: Path, device_id: str, clock: Clock, rng: Rng) -> None:
        self.device_id = device_id
        self._storage = SealedStorage(root, device_id)
        self._clock = clock
        self._rng = rng

    @contextmanager
    def transaction(self) -> Iterator[DeviceContext]:
        """Lock the device, unseal its state, and reseal it afterwards if it changed.

        If the block raises, nothing is written (no half-applied operation), except what the
        block made durable itself with `ctx.persist()`.
        """
        with exclusive_lock(self._storage.device_dir / "lock"):
            state, counter = self._storage.load()
            ctx = DeviceContext(
                self.device_id, state, self._storage, self._clock, self._rng, counter
            )
            yield ctx
            ctx.persist()

    def open_session(self, ta_uuid: uuid.UUID) -> TeeSession:
        """Open a session to a trusted application; TeeError(ITEM_NOT_FOUND) if unknown."""
        from tee_sim.client import TeeSession

        return TeeSession(self, ta_uuid)

    def transmit(self, apdu: bytes) -> bytes:
        """Send one ISO 7816-4 command APDU to the secure element; returns data || SW1 SW2."""
        return SecureElement.transmit(self, apdu)

    def press_confirmation_button(self) -> None:
        """The physical side button: confirms the prompt currently shown by the trusted UI.

        This is the only path that can set the confirmation; no TA command can.
        Raises TeeError(BAD_STATE) when no prompt is shown.
        """
        with self.transaction() as ctx:
            pending = ctx.state["confirmation"]
            if pending is None:
                raise TeeError(
                    "no confirmation prompt is shown", status=TeeStatus.TEEC_ERROR_BAD_STATE
                )
            pending["confirmed"] = True

    def public_state(self) -> dict[str, object]:
        """Non-secret facts: profile, keys (public halves), PIN counters, SE summary, ..."""
        from tee_sim.ta_pin import pin_status

        with self.transaction() as ctx:
            s = ctx.state
            keys = {
                alias: {
                    "kind": k["kind"],
                    "security_level": k["level"],
                    "confirmation_required": k["confirmation"],
                    "user_presence_required": k["user_presence"],
                    "public_key": k["public"].hex(),
                }
                for alias, k in sorted(s["keys"].items())
            }
            pending = s["confirmation"]
            channel = s["channel"]
            card = s["se"]["card"]
            return {
                "device_id": self.device_id,
                "profile": s["profile"],
                "created_at": s["created_at"],
                "issuer_key_installed": s["issuer_public_key"] is not None,
                "keys": keys,
                "pin": pin_status(ctx),
                "confirmation": None
                if pending is None
                else {"prompt": pending["prompt"], "confirmed": pending["confirmed"]},
                "channel": None
                if channel is None
                else {"recv_seq": channel["recv_seq"], "send_seq": channel["send_seq"]},
                "secure_element": {
                    "hardware": ctx.profile.has_secure_element,
                    "life_cycle": s["se"]["life_cycle"],
                    "atc": s["se"]["atc"],
                    "pan_last4": None if card is None else card["pan"][-4:],
                    "dpan_last4": None if card is None else card["dpan"][-4:],
                    "expiry": None if card is None else card["expiry"],
                },
            }


class DeviceStore:
    """All emulated phones under one directory, plus the manufacturer PKI that made them.

    Layout: `<dir>/<device_id>/` per device, `<dir>/.fuses/`, `<dir>/.rpmb/` (emulated
    hardware), `<dir>/.manufacturer/` (the factory's CA keys).
    """

    def __init__(
        self,
        directory: Path,
        *,
        clock: Callable[[], datetime] | None = None,
        rng: Callable[[int], bytes] | None = None,
        create_manufacturer: bool = True,
    ) -> None:
        """Open the store in `directory`.

        With `create_manufacturer` (the default) a directory without a manufacturer PKI gets a
        new one; without it nothing is written and such a directory is refused with
        TeeError(ITEM_NOT_FOUND). A partial or damaged PKI is always refused (TeeError).
        """
        self.directory = Path(directory)
        self._clock: Clock = clock or _utc_now
        self._rng: Rng = rng or _default_rng
        pki = self.directory / ".manufacturer"
        if create_manufacturer:
            self.manufacturer = Manufacturer.load_or_create(pki)
        else:
            self.manufacturer = Manufacturer.load(pki)

    def create(self, profile: str, *, issuer_public_key: bytes | None = None) -> str:
        """Manufacture and provision a device with `profile`; returns its device id.

        `issuer_public_key` (raw Ed25519, 32 bytes) is installed for the payment applet and
        the secure channel, as a TSM would when installing the applet.
        """
        if profile not in PROFILES:
            raise BadParameters(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        if issuer_public_key is not None:
            if not isinstance(issuer_public_key, bytes) or len(issuer_public_key) != 32:
                raise BadParameters("issuer public key must be 32 raw Ed25519 bytes")
            # VerifyKey takes any 32 bytes; a real key is a canonical point of the prime-order
            # subgroup (this refuses non-points such as ff..ff and small-order ones such as 00..00).
            if not crypto_core_ed25519_is_valid_point(issuer_public_key):
                raise BadParameters(
                    "issuer public key is not a valid Ed25519 public key "
                    "(not a canonical point of the prime-order subgroup)"
                )
        spec = PROFILES[profile]
        device_id = "dev-" + self._rng(8).hex()
        now = self._clock()
        attestation_seed = self._rng(32)
        attestation_public = bytes(nacl.signing.SigningKey(attestation_seed).verify_key)
        device_cert = self.manufacturer.issue_device_certificate(
            device_id=device_id, public_key=attestation_public, now=now
        )
        if spec.revoked:
            self.manufacturer.revoked_serials()  # a damaged list fails before anything is written
        if spec.boot_state is VerifiedBootState.UNVERIFIED:
            boot_key, boot_hash = bytes(32), OFFICIAL_BOOT_HASH
        elif spec.boot_state is VerifiedBootState.SELF_SIGNED:
            custom = self._rng(32)
            boot_key = hashlib.sha256(b"user boot key" + custom).digest()
            boot_hash = hashlib.sha256(b"custom OS image" + custom).digest()
        else:
            boot_key, boot_hash = self.manufacturer.verified_boot_key(), OFFICIAL_BOOT_HASH
        state = {
            "profile": profile,
            "created_at": now.isoformat(),
            "attestation_key": attestation_seed,
            "device_cert": device_cert.public_bytes(serialization.Encoding.DER),
            "intermediate_cert": self.manufacturer.intermediate_certificate.public_bytes(
                serialization.Encoding.DER
            ),
            "boot_key": boot_key,
            "boot_hash": boot_hash,
            "issuer_public_key": issuer_public_key,
            "keys": {},
            "pin": {"hash": None, "failures": 0, "not_before": None, "cdcvm_until": None},
            "confirmation": None,
            "channel": None,
            "se": {
                "selected": False,
                "challenge": None,
                "key_alias": None,
                "buffer": b"",
                "next_block": 0,
                "card": None,
                "atc": 0,
                "life_cycle": LIFE_CYCLE_SELECTABLE,
            },
        }
        storage = SealedStorage(self.directory, device_id)
        try:
            storage.burn_fuses(self._rng(32))
        except OSError as exc:
            raise TeeError(f"cannot create device in {self.directory}: {exc}") from exc
        try:
            storage.save(state, previous_counter=0)
            # Revoked only once the device exists: a failed manufacture revokes nothing.
            if spec.revoked:
                self.manufacturer.revoke(device_cert.serial_number)
        except (OSError, TeeError) as exc:
            storage.discard()
            if isinstance(exc, TeeError):
                raise
            raise TeeError(f"cannot create device in {self.directory}: {exc}") from exc
        return device_id

    def open(self, device_id: str) -> Device:
        """The device with this id; DeviceNotFound if there is none."""
        if not isinstance(device_id, str) or not _DEVICE_ID.match(device_id):
            raise DeviceNotFound(f"no device {device_id!r} (ids look like dev-<16 hex digits>)")
        if not SealedStorage(self.directory, device_id).exists():
            raise DeviceNotFound(f"no device {device_id} in {self.directory}")
        return Device(root=self.directory, device_id=device_id, clock=self._clock, rng=self._rng)

    def list(self) -> list[DeviceSummary]:
        """Every device in the store, with its profile and whether its state is usable.

        A device that cannot be read or unsealed is listed with the reason, never skipped.
        """
        out: list[DeviceSummary] = []
        if not self.directory.is_dir():
            return out
        for path in sorted(self.directory.iterdir()):
            storage = SealedStorage(self.directory, path.name)
            if not _DEVICE_ID.match(path.name) or not storage.exists():
                continue
            try:
                # Under the device's lock, as every transaction: unsealing reads the state, then
                # the RPMB, and may complete an interrupted RPMB write.
                with exclusive_lock(storage.device_dir / "lock"):
                    state, _ = storage.load()
                out.append(DeviceSummary(path.name, state["profile"], state["created_at"], "ok"))
            except TeeError as exc:
                out.append(DeviceSummary(path.name, None, None, str(exc)))
            except OSError as exc:  # e.g. its state or fuse file replaced by a directory
                why = f"unreadable: {exc.strerror or exc}: {exc.filename}"
                out.append(DeviceSummary(path.name, None, None, why))
        return out
