"""Load what the phone manufacturer publishes: trust anchors, revoked serials, boot keys.

Files as written by the manufacturer export (docs/protocol.md §1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from issuer.devicetrust.errors import DeviceTrustError


@dataclass(frozen=True)
class ManufacturerTrust:
    trust_anchors: tuple[x509.Certificate, ...]
    revoked_serials: frozenset[int]
    verified_boot_keys: frozenset[bytes] | None


def _bad(what: str, detail: str) -> DeviceTrustError:
    return DeviceTrustError("bad_trust_material", f"The manufacturer {what} is unusable: {detail}")


def load_trust_anchors(pem: bytes) -> tuple[x509.Certificate, ...]:
    """Parse one or more PEM root certificates; each must be a CA."""
    try:
        anchors = tuple(x509.load_pem_x509_certificates(pem))
    except ValueError as exc:
        raise _bad("trust anchors", str(exc)) from exc
    for anchor in anchors:
        try:
            constraints = anchor.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            raise _bad("trust anchors", f"{anchor.subject.rfc4514_string()} is not a CA")
    return anchors


def parse_revoked_serials(data: bytes) -> frozenset[int]:
    """Parse `{"revoked_serials": ["<decimal>", ...]}`."""
    try:
        document = json.loads(data)
        serials = document["revoked_serials"]
        if not isinstance(serials, list):
            raise TypeError("revoked_serials is not a list")
        return frozenset(int(str(serial), 10) for serial in serials)
    except (ValueError, TypeError, KeyError) as exc:
        raise _bad("revocation list", str(exc)) from exc


def load_manufacturer_trust(directory: Path) -> ManufacturerTrust:
    """Read trust_anchors.pem, revoked_serials.json and (if present) verified_boot_key.hex."""
    try:
        anchors = load_trust_anchors((directory / "trust_anchors.pem").read_bytes())
        revoked = parse_revoked_serials((directory / "revoked_serials.json").read_bytes())
        boot_key_file = directory / "verified_boot_key.hex"
        boot_keys = None
        if boot_key_file.exists():
            boot_keys = frozenset({bytes.fromhex(boot_key_file.read_text().strip())})
    except (OSError, ValueError) as exc:
        raise _bad("export", str(exc)) from exc
    return ManufacturerTrust(
        trust_anchors=anchors, revoked_serials=revoked, verified_boot_keys=boot_keys
    )
