"""Certificate forgeries an attacker can build, starting from a real phone's attestation chain.

Everything is built with `cryptography`; TEE signatures come from tee_sim's keystore (a key the
attacker generated on a genuine phone signs whatever the attacker asks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from tee_sim import KEYSTORE_TA, Device, KeystoreCommand
from web.probe.result import ProbeAborted

ED25519_SIGNATURE_BYTES = 64
Signer = Callable[[bytes], bytes]
PublicKey = ed25519.Ed25519PublicKey | x25519.X25519PublicKey


def _load(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _public_key(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey | x25519.X25519PublicKey):
        raise ProbeAborted(f"unexpected key type in {cert.subject.rfc4514_string()}")
    return key


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def copy_certificate(template: x509.Certificate, *, issuer: x509.Name, public_key: PublicKey,
                     sign: Signer | ed25519.Ed25519PrivateKey) -> bytes:
    """`template` with a new issuer/public key, signed by `sign` (a key or a TEE signer).

    A TEE signer signs the TBS bytes: the certificate is first signed with a throwaway key, then
    its 64-byte Ed25519 signature (the last bytes of the DER) is replaced.
    """
    builder = (x509.CertificateBuilder().subject_name(template.subject).issuer_name(issuer)
               .public_key(public_key).serial_number(template.serial_number)
               .not_valid_before(template.not_valid_before_utc)
               .not_valid_after(template.not_valid_after_utc))
    for extension in template.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    if isinstance(sign, ed25519.Ed25519PrivateKey):
        return _der(builder.sign(sign, None))
    draft = builder.sign(ed25519.Ed25519PrivateKey.generate(), None)
    signature = sign(draft.tbs_certificate_bytes)
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise ProbeAborted("the TEE did not return an Ed25519 signature")
    return _der(draft)[:-ED25519_SIGNATURE_BYTES] + signature


def resign_under_own_root(chain: list[bytes]) -> list[bytes]:
    """The same chain (same names, extensions and leaf key) under a self-made root.

    Every CA key is replaced by the attacker's; the result looks exactly like the
    manufacturer's chain except that no certificate chains to the real trust anchor.
    """
    leaf, device, intermediate = (_load(der) for der in chain[:3])
    root_key = ed25519.Ed25519PrivateKey.generate()
    intermediate_key = ed25519.Ed25519PrivateKey.generate()
    device_key = ed25519.Ed25519PrivateKey.generate()
    return [
        copy_certificate(leaf, issuer=device.subject, public_key=_public_key(leaf),
                         sign=device_key),
        copy_certificate(device, issuer=intermediate.subject,
                         public_key=device_key.public_key(), sign=intermediate_key),
        copy_certificate(intermediate, issuer=intermediate.issuer,
                         public_key=intermediate_key.public_key(), sign=root_key),
    ]


@dataclass(frozen=True)
class TeeKey:
    """An ordinary signing key the attacker generated in a genuine phone's keystore."""

    device: Device
    alias: str
    chain: list[bytes]

    def sign(self, message: bytes) -> bytes:
        """Have the TEE sign `message` (allowed: the key needs no trusted confirmation)."""
        result = self.device.open_session(KEYSTORE_TA).invoke(
            KeystoreCommand.SIGN, {"alias": self.alias, "message": message})
        signature = result.values.get("signature")
        if not result.ok or not isinstance(signature, bytes):
            raise ProbeAborted(f"the keystore refused to sign: {result.values.get('error')}")
        return signature


def tee_key(device: Device, *, alias: str = "probe-ca") -> TeeKey:
    """Generate an attested, unrestricted Ed25519 key on `device`."""
    result = device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.GENERATE_KEY, {"alias": alias, "kind": "ed25519", "challenge": b"ca"})
    chain = result.values.get("chain")
    if not result.ok or not isinstance(chain, list):
        raise ProbeAborted(f"the keystore refused to make a key: {result.values.get('error')}")
    return TeeKey(device=device, alias=alias, chain=[bytes(c) for c in chain])


def leaf_as_intermediate(genuine_leaf: bytes, ca: TeeKey) -> tuple[list[bytes],
                                                                   ed25519.Ed25519PrivateKey]:
    """A chain where a genuine attested *leaf* (no CA flag) certifies the attacker's key.

    The forged leaf carries the genuine leaf's attestation extension (right challenge, TEE
    security level) over a software key whose private half the attacker holds.
    """
    template = _load(genuine_leaf)
    attacker_key = ed25519.Ed25519PrivateKey.generate()
    ca_leaf = _load(ca.chain[0])
    forged = copy_certificate(template, issuer=ca_leaf.subject,
                              public_key=attacker_key.public_key(), sign=ca.sign)
    return [forged, *ca.chain], attacker_key
