"""X.509 path validation for attestation chains (leaf first, root last or omitted).

`cryptography`'s own verifier implements the Web PKI profile (server/client EKUs, SANs, no
Ed25519), which attestation chains do not follow, so the path rules are applied here with
`Certificate.verify_directly_issued_by` doing the name match and signature check.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from issuer.devicetrust.asn1_schema import KEY_DESCRIPTION_OID
from issuer.devicetrust.errors import AttestationRejected, Check

MAX_CHAIN_LENGTH = 6
MAX_CERTIFICATE_BYTES = 16 * 1024
_DER = Encoding.DER
# What `cryptography` raises on malformed certificates (not one hierarchy).
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
)

# Critical extensions these rules understand; any other critical extension fails the path.
_UNDERSTOOD_CRITICAL = {
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
}


@dataclass(frozen=True)
class ValidatedChain:
    """A chain that passed path validation: leaf first, ending with the trust anchor."""

    certificates: tuple[x509.Certificate, ...]
    anchor: x509.Certificate

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]


def _reject(reason: str, message: str, checks: list[Check], name: str, detail: str) -> None:
    checks.append(Check(name, False, detail))
    raise AttestationRejected(reason, message, checks)


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _load_fully(der: bytes) -> x509.Certificate:
    """Load and decode every field now: `cryptography` parses names and extensions lazily,
    and a malformed field must fail here, not later in the middle of a check."""
    cert = x509.load_der_x509_certificate(der)
    cert.subject.rfc4514_string()
    cert.issuer.rfc4514_string()
    _ = (cert.not_valid_before_utc, cert.not_valid_after_utc)
    for ext in cert.extensions:  # raises on malformed or duplicate extensions
        _ = ext.value
    cert.public_key()
    if cert.serial_number <= 0:
        raise ValueError("serial number is not positive (RFC 5280)")
    # The outer signature BIT STRING is not covered by the signature: allow exactly one
    # encoding (no unused bits, minimal length) so a certificate's bytes cannot be varied.
    if not der.endswith(_signature_bit_string(cert.signature)):
        raise ValueError("signature BIT STRING is not in canonical DER")
    return cert


def _signature_bit_string(signature: bytes) -> bytes:
    size = len(signature) + 1
    if size < 0x80:
        length = bytes([size])
    else:
        body = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(body)]) + body
    return b"\x03" + length + b"\x00" + signature


def parse_chain(chain: Sequence[bytes], checks: list[Check]) -> list[x509.Certificate]:
    """Parse DER certificates, recording a `chain_parsed` check."""
    if not chain or len(chain) > MAX_CHAIN_LENGTH:
        _reject(
            "malformed_chain",
            "The phone sent no usable certificate chain.",
            checks,
            "chain_parsed",
            f"chain has {len(chain)} certificates",
        )
    certs: list[x509.Certificate] = []
    for index, der in enumerate(chain):
        if not isinstance(der, bytes | bytearray) or len(der) > MAX_CERTIFICATE_BYTES:
            _reject(
                "malformed_chain",
                "The phone's certificate chain could not be read.",
                checks,
                "chain_parsed",
                f"certificate {index} is not DER bytes of at most {MAX_CERTIFICATE_BYTES}",
            )
        try:
            certs.append(_load_fully(bytes(der)))
        except _PARSE_ERRORS as exc:
            _reject(
                "malformed_chain",
                "The phone's certificate chain could not be read.",
                checks,
                "chain_parsed",
                f"certificate {index}: {exc}",
            )
    checks.append(Check("chain_parsed", True, f"{len(certs)} certificates"))
    return certs


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _extensions_problem(cert: x509.Certificate) -> str | None:
    try:
        extensions = cert.extensions
    except (ValueError, x509.DuplicateExtension) as exc:
        return f"unreadable extensions: {exc}"
    for ext in extensions:
        if ext.critical and ext.oid not in _UNDERSTOOD_CRITICAL:
            return f"unknown critical extension {ext.oid.dotted_string}"
    return None


def _issuer_problem(cert: x509.Certificate, below: int) -> str | None:
    """Why `cert` may not issue a path with `below` intermediates under it, or None."""
    constraints = _basic_constraints(cert)
    if constraints is None or not constraints.ca:
        return "is not a CA (basicConstraints CA:FALSE or absent)"
    if constraints.path_length is not None and below > constraints.path_length:
        return f"pathLenConstraint {constraints.path_length} exceeded by {below}"
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not usage.key_cert_sign:
        return "keyUsage lacks keyCertSign"
    return None


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> str | None:
    try:
        child.verify_directly_issued_by(parent)
    except ValueError as exc:
        return f"issuer name mismatch or bad signature parameters: {exc}"
    except InvalidSignature:
        return "signature does not verify"
    except (TypeError, UnsupportedAlgorithm) as exc:
        return f"unsupported key or signature algorithm: {exc}"
    return None


def validate_chain(
    *,
    certs: list[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
    revoked_serials: Collection[int],
    now: datetime,
    checks: list[Check],
) -> ValidatedChain:
    """Check signatures, validity, CA constraints, anchor and revocation; append checks."""
    anchor_ders = {a.public_bytes(_DER): a for a in trust_anchors}
    # RFC 5280 §6.1: a certificate appears at most once in a path. A repeated self-signed
    # root would otherwise "verify" as its own issuer.
    ders = [c.public_bytes(_DER) for c in certs]
    if len(set(ders)) != len(ders):
        _reject(
            "bad_chain",
            "The phone's certificate chain is not well formed.",
            checks,
            "distinct_certificates",
            "a certificate appears more than once in the chain",
        )
    checks.append(Check("distinct_certificates", True, "no certificate repeated"))
    path = list(certs)
    # A chain may include the root itself; it is accepted only if it is one of our anchors.
    if len(path) > 1 and path[-1].public_bytes(_DER) in anchor_ders:
        path.pop()

    for cert in path:
        problem = _extensions_problem(cert)
        if problem:
            _reject(
                "malformed_chain",
                "The phone's certificate chain is not well formed.",
                checks,
                "extensions",
                f"{_subject(cert)}: {problem}",
            )
    checks.append(Check("extensions", True, "no unknown critical extensions"))

    leaf_constraints = _basic_constraints(path[0])
    if leaf_constraints is not None and leaf_constraints.ca:
        _reject(
            "bad_chain",
            "The phone's key certificate is not a key certificate.",
            checks,
            "leaf_not_ca",
            "leaf certificate has CA:TRUE",
        )
    checks.append(Check("leaf_not_ca", True, "leaf is an end-entity certificate"))

    for index in range(len(path) - 1):
        child, parent = path[index], path[index + 1]
        problem = _issuer_problem(parent, below=index)
        if problem:
            _reject(
                "bad_chain",
                "The phone's certificate chain is not well formed.",
                checks,
                "ca_constraints",
                f"{_subject(parent)} {problem}",
            )
        problem = _signed_by(child, parent)
        if problem:
            _reject(
                "bad_signature",
                "The phone's certificate chain does not verify.",
                checks,
                "signatures",
                f"{_subject(child)}: {problem}",
            )
    checks.append(Check("ca_constraints", True, "every issuer is a CA within its path length"))
    # Defence in depth: an attested key certificate can never be an issuer.
    for other in path[1:]:
        if _has_attestation_extension(other):
            _reject(
                "bad_chain",
                "The phone's certificate chain is not well formed.",
                checks,
                "attestation_only_in_leaf",
                f"{_subject(other)} above the leaf carries a key attestation",
            )

    anchor = _find_anchor(path[-1], trust_anchors, below=len(path) - 1)
    if anchor is None:
        _reject(
            "untrusted_root",
            "The phone was not made by a manufacturer we trust.",
            checks,
            "trusted_root",
            f"no trust anchor issued {_subject(path[-1])}",
        )
    assert anchor is not None
    checks.append(Check("signatures", True, "each certificate is signed by the next"))
    checks.append(Check("trusted_root", True, f"anchored at {_subject(anchor)}"))

    for cert in [*path, anchor]:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            _reject(
                "expired_certificate",
                "A certificate of the phone is expired or not yet valid.",
                checks,
                "validity",
                f"{_subject(cert)} valid {cert.not_valid_before_utc.isoformat()} to "
                f"{cert.not_valid_after_utc.isoformat()}, now {now.isoformat()}",
            )
    checks.append(Check("validity", True, f"all certificates valid at {now.isoformat()}"))

    revoked = sorted(
        c.serial_number for c in [*path, anchor] if c.serial_number in revoked_serials
    )
    if revoked:
        _reject(
            "revoked",
            "The phone's attestation certificate has been revoked by its manufacturer.",
            checks,
            "revocation",
            f"revoked serial(s) {', '.join(hex(s) for s in revoked)}",
        )
    checks.append(Check("revocation", True, "no certificate serial on the revocation list"))
    return ValidatedChain(certificates=tuple(path), anchor=anchor)


def _find_anchor(
    top: x509.Certificate, trust_anchors: Sequence[x509.Certificate], below: int
) -> x509.Certificate | None:
    for anchor in trust_anchors:
        if anchor.subject != top.issuer:
            continue
        if _issuer_problem(anchor, below=below) is None and _signed_by(top, anchor) is None:
            return anchor
    return None


def _has_attestation_extension(cert: x509.Certificate) -> bool:
    return any(ext.oid.dotted_string == KEY_DESCRIPTION_OID for ext in cert.extensions)


def summarize(cert: x509.Certificate) -> dict[str, str]:
    """JSON-friendly summary of one certificate for the case file."""
    return {
        "subject": cert.subject.rfc4514_string(),
        "serial": str(cert.serial_number),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }
