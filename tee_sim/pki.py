"""The manufacturer's attestation PKI: root CA, attestation intermediate, revocation list."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.x509.oid import NameOID

from tee_sim.errors import TeeError
from tee_sim.locking import exclusive_lock, shared_lock_if_present, write_atomically
from tee_sim.status import TeeStatus

ORGANIZATION = "Cardsim Phone Manufacturing"
CA_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
CA_NOT_AFTER = datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)
LEAF_NOT_AFTER = CA_NOT_AFTER  # Android's "no expiry" convention for attestation leaves

_ROOT_KEY = "root_key.pem"
_ROOT_CERT = "root_cert.pem"
_INTERMEDIATE_KEY = "intermediate_key.pem"
_INTERMEDIATE_CERT = "intermediate_cert.pem"
_REVOKED = "revoked_serials.json"
_BOOT_KEY = "verified_boot_key.bin"
_PKI_FILES = (_ROOT_KEY, _ROOT_CERT, _INTERMEDIATE_KEY, _INTERMEDIATE_CERT, _REVOKED, _BOOT_KEY)

PublicKey = ed25519.Ed25519PublicKey | x25519.X25519PublicKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )


def build_certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    signing_key: ed25519.Ed25519PrivateKey,
    not_before: datetime,
    not_after: datetime,
    ca_path_length: int | bool | None,
    key_usage: str,
    extra: list[x509.ExtensionType] | None = None,
) -> x509.Certificate:
    """Build and Ed25519-sign one certificate.

    `ca_path_length=False` makes an end-entity certificate, `None` a CA without path limit.
    `key_usage` is "ca", "sign" or "agree".
    """
    is_ca = ca_path_length is not False
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(
                ca=is_ca,
                path_length=None if not is_ca else ca_path_length,  # type: ignore[arg-type]
            ),
            critical=True,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=key_usage == "sign",
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=key_usage == "agree",
                key_cert_sign=key_usage == "ca",
                crl_sign=key_usage == "ca",
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
    )
    for ext in extra or []:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(signing_key, algorithm=None)


def _private_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _damaged(message: str) -> TeeError:
    """A missing or damaged PKI file: refused, never replaced."""
    return TeeError(message, status=TeeStatus.TEEC_ERROR_BAD_STATE)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _damaged(f"cannot read {path}: {exc.strerror or exc}") from exc


def _load_key(path: Path) -> ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _damaged(f"{path} is damaged (not a PEM private key)") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise _damaged(f"{path} is not an Ed25519 key")
    return key


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError as exc:
        raise _damaged(f"{path} is damaged (not a PEM certificate)") from exc


_SERIAL = re.compile(r"[0-9]{1,49}")  # a certificate serial is at most 20 octets


def _parse_revoked(raw: bytes, path: Path) -> frozenset[int]:
    """The serials in a revocation list `{"revoked_serials": ["<decimal>", ...]}`."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _damaged(f"{path} is damaged (not JSON)") from exc
    serials = data.get("revoked_serials") if isinstance(data, dict) else None
    if not isinstance(serials, list):
        raise _damaged(f'{path} is damaged (expected {{"revoked_serials": [...]}})')
    out: set[int] = set()
    for serial in serials:
        if isinstance(serial, str) and _SERIAL.fullmatch(serial):
            out.add(int(serial))
        elif isinstance(serial, int) and not isinstance(serial, bool) and serial >= 0:
            out.add(serial)
        else:
            raise _damaged(f"{path} is damaged ({serial!r} is not a certificate serial)")
    return frozenset(out)


def _holds_no_pki(directory: Path) -> bool:
    """Whether `directory` holds none of the PKI's files (only then may one be created)."""
    return not any(os.path.lexists(directory / name) for name in _PKI_FILES)


def _check_pair(key: ed25519.Ed25519PrivateKey, certificate: x509.Certificate, path: Path) -> None:
    if certificate.public_key() != key.public_key():
        raise _damaged(f"{path} does not match its private key")


class Manufacturer:
    """The phone maker's attestation PKI, kept in one directory (modelling the factory HSM).

    CA private keys are PEM files readable only by the owner (0600); they never enter a
    device's state directory. The PKI is created only into a directory holding none of its
    files: a partial or damaged one is refused, never silently replaced (replacing it would
    orphan every device's chain and forget the revocation list).
    """

    def __init__(self, directory: Path) -> None:
        """Load a complete PKI; TeeError naming the file when one is missing or damaged."""
        self._dir = directory
        self._root_key = _load_key(directory / _ROOT_KEY)
        self._intermediate_key = _load_key(directory / _INTERMEDIATE_KEY)
        self.root_certificate = _load_certificate(directory / _ROOT_CERT)
        self.intermediate_certificate = _load_certificate(directory / _INTERMEDIATE_CERT)
        self._boot_key = _read(directory / _BOOT_KEY)
        if len(self._boot_key) != 32:
            raise _damaged(f"{directory / _BOOT_KEY} is damaged (not 32 bytes)")
        _check_pair(self._root_key, self.root_certificate, directory / _ROOT_CERT)
        _check_pair(self._intermediate_key, self.intermediate_certificate,
                    directory / _INTERMEDIATE_CERT)
        try:
            self.intermediate_certificate.verify_directly_issued_by(self.root_certificate)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise _damaged(
                f"{directory / _INTERMEDIATE_CERT} is not issued by {directory / _ROOT_CERT}"
            ) from exc
        self.revoked_serials()  # a damaged revocation list is refused now, not halfway later

    @classmethod
    def load(cls, directory: Path) -> Manufacturer:
        """Open the existing PKI in `directory` without writing anything.

        TeeError(ITEM_NOT_FOUND) when the directory holds none of the PKI's files; TeeError
        when some are missing or damaged.
        """
        directory = Path(directory)
        if _holds_no_pki(directory):
            raise TeeError(
                f"no manufacturer PKI in {directory}",
                status=TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND,
            )
        try:
            with shared_lock_if_present(directory / ".lock"):
                return cls._open_complete(directory)
        except OSError as exc:
            raise TeeError(f"cannot open manufacturer PKI in {directory}: {exc}") from exc

    @classmethod
    def load_or_create(cls, directory: Path) -> Manufacturer:
        """Open the PKI in `directory`, generating root, intermediate and lists when the
        directory holds none of its files. A partial or damaged PKI is refused (TeeError)."""
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with exclusive_lock(directory / ".lock"):
                if _holds_no_pki(directory):
                    cls._create(directory)
                return cls._open_complete(directory)
        except OSError as exc:
            raise TeeError(f"cannot open manufacturer PKI in {directory}: {exc}") from exc

    @classmethod
    def _open_complete(cls, directory: Path) -> Manufacturer:
        missing = [name for name in _PKI_FILES if not os.path.lexists(directory / name)]
        if missing:
            raise _damaged(
                f"manufacturer PKI in {directory} is incomplete (missing {', '.join(missing)}); "
                "refusing to replace it: restore the files from a backup"
            )
        return cls(directory)

    @staticmethod
    def _create(directory: Path) -> None:
        root_key = ed25519.Ed25519PrivateKey.generate()
        root_name = _name("Cardsim Manufacturer Root")
        root = build_certificate(
            subject=root_name,
            issuer=root_name,
            public_key=root_key.public_key(),
            signing_key=root_key,
            not_before=CA_NOT_BEFORE,
            not_after=CA_NOT_AFTER,
            ca_path_length=None,
            key_usage="ca",
        )
        inter_key = ed25519.Ed25519PrivateKey.generate()
        inter = build_certificate(
            subject=_name("Cardsim Attestation Intermediate"),
            issuer=root_name,
            public_key=inter_key.public_key(),
            signing_key=root_key,
            not_before=CA_NOT_BEFORE,
            not_after=CA_NOT_AFTER,
            ca_path_length=1,
            key_usage="ca",
        )
        pem = serialization.Encoding.PEM
        write_atomically(directory / _ROOT_KEY, _private_pem(root_key))
        write_atomically(directory / _INTERMEDIATE_KEY, _private_pem(inter_key))
        write_atomically(directory / _ROOT_CERT, root.public_bytes(pem), mode=0o644)
        write_atomically(directory / _BOOT_KEY, os.urandom(32))
        write_atomically(directory / _REVOKED, b'{"revoked_serials": []}\n', mode=0o644)
        # Written last (an interrupted creation leaves a PKI that is refused as incomplete).
        write_atomically(directory / _INTERMEDIATE_CERT, inter.public_bytes(pem), mode=0o644)

    def trust_anchors_pem(self) -> bytes:
        """The manufacturer root certificate (PEM): the issuer's trust anchor."""
        return self.root_certificate.public_bytes(serialization.Encoding.PEM)

    def intermediates_pem(self) -> bytes:
        """The attestation intermediate certificate (PEM)."""
        return self.intermediate_certificate.public_bytes(serialization.Encoding.PEM)

    def verified_boot_key(self) -> bytes:
        """The 32-byte verifiedBootKey that the manufacturer's signed OS reports."""
        return hashlib.sha256(self._boot_key).digest()

    def revoked_serials(self) -> frozenset[int]:
        """Serials of revoked device attestation certificates; TeeError if the list is damaged."""
        path = self._dir / _REVOKED
        return _parse_revoked(_read(path), path)

    def revoke(self, serial: int) -> None:
        """Add a device attestation certificate serial to the revocation list."""
        with exclusive_lock(self._dir / ".lock"):
            serials = sorted(self.revoked_serials() | {serial})
            body = json.dumps({"revoked_serials": [str(s) for s in serials]}, indent=1) + "\n"
            write_atomically(self._dir / _REVOKED, body.encode(), mode=0o644)

    def export(self, directory: Path) -> None:
        """Write `trust_anchors.pem`, `revoked_serials.json` and `verified_boot_key.hex`.

        Every file's content is built before the first is written, so a damaged revocation
        list fails the export without leaving some of the files behind.
        """
        directory = Path(directory)
        body = json.dumps(
            {"revoked_serials": [str(s) for s in sorted(self.revoked_serials())]}, indent=1
        )
        files = {
            "trust_anchors.pem": self.trust_anchors_pem(),
            "revoked_serials.json": (body + "\n").encode(),
            "verified_boot_key.hex": (self.verified_boot_key().hex() + "\n").encode(),
        }
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for name, content in files.items():
                write_atomically(directory / name, content, mode=0o644)
        except OSError as exc:
            raise TeeError(f"cannot export trust anchors to {directory}: {exc}") from exc

    def issue_device_certificate(
        self, *, device_id: str, public_key: bytes, now: datetime
    ) -> x509.Certificate:
        """Certify a device attestation key (raw Ed25519 public key) as a CA with pathlen 0."""
        return build_certificate(
            subject=_name(f"cardsim device attestation {device_id}"),
            issuer=self.intermediate_certificate.subject,
            public_key=ed25519.Ed25519PublicKey.from_public_bytes(public_key),
            signing_key=self._intermediate_key,
            not_before=now - timedelta(minutes=1),
            not_after=CA_NOT_AFTER,
            ca_path_length=0,
            key_usage="ca",
        )
