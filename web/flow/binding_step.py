"""Step 5: bind the phone. The issuer sends a challenge; the phone answers with three attested
chains (signing, agreement, SE); the issuer verifies them against the manufacturer's exported
trust anchors and revocation list."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from flask import current_app

from issuer.device_binding import (
    MAX_BINDING_ATTEMPTS,
    BindingOutcome,
    begin_device_binding,
    complete_device_binding,
)
from issuer.devicetrust import ManufacturerTrust, load_manufacturer_trust
from issuer.errors import ValidationFailed
from web.clock import now
from web.database import db_session

CHAIN_NAMES = ("signing", "agreement", "se")
MAX_CHAIN_CERTS = 6
MAX_CERT_BYTES = 16_384


def manufacturer_trust() -> ManufacturerTrust:
    """Trust anchors and revocation list exported by the phone manufacturer (device dir)."""
    return load_manufacturer_trust(current_app.config["CARDSIM_DEVICE_DIR"])


def b64decode_field(value: object, field: str, *, max_bytes: int = 65_536) -> bytes:
    """Standard base64 text to bytes, or a field error."""
    if not isinstance(value, str) or not value or len(value) > max_bytes * 2:
        raise ValidationFailed({field: "expected base64 text"})
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed({field: "expected base64 text"}) from None
    if len(decoded) > max_bytes:
        raise ValidationFailed({field: f"at most {max_bytes} bytes"})
    return decoded


def b64(data: bytes) -> str:
    """Bytes as standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def issue_challenge(*, application_id: str) -> bytes:
    """A fresh single-use attestation challenge."""
    return begin_device_binding(db_session(), application_id=application_id, now=now())


def parse_chains(raw: object) -> dict[str, list[bytes]]:
    """`{"signing": [b64 DER, ...], "agreement": [...], "se": [...]}` → DER lists."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed({"chains": "expected an object with signing, agreement and se"})
    chains: dict[str, list[bytes]] = {}
    for name in CHAIN_NAMES:
        certs = raw.get(name)
        if not isinstance(certs, list) or not 1 <= len(certs) <= MAX_CHAIN_CERTS:
            raise ValidationFailed(
                {f"chains.{name}": f"expected a list of 1 to {MAX_CHAIN_CERTS} certificates"})
        chains[name] = [b64decode_field(c, f"chains.{name}", max_bytes=MAX_CERT_BYTES)
                        for c in certs]
    return chains


def submit_chains(*, application_id: str, challenge: bytes, chains: Mapping[str, list[bytes]]
                  ) -> BindingOutcome:
    """Verify and store the binding (or the refusal, which the caller must commit)."""
    return complete_device_binding(
        db_session(), application_id=application_id, challenge=challenge,
        signing_chain=list(chains["signing"]), agreement_chain=list(chains["agreement"]),
        se_chain=list(chains["se"]), trust=manufacturer_trust(), now=now(),
    )


def attempts_left(binding_attempts: int) -> int:
    """Binding attempts the applicant still has."""
    return max(0, MAX_BINDING_ATTEMPTS - binding_attempts)
