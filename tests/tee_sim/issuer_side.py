"""What the issuer does with the phone's byte formats, written from docs/protocol.md only.

Deliberately independent of tee_sim's code (only nacl and cryptography), so the tests check the
published contract rather than the emulator agreeing with itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nacl.bindings
import nacl.public
import nacl.signing
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + len(value).to_bytes(2, "big") + value


def card_inner(
    *,
    challenge: bytes,
    pan: str = "6250941234567890",
    dpan: str = "6250949876543210",
    expiry: str = "3011",
    cardholder: str = "LI MING",
    card_key: bytes = bytes(range(32)),
    card_ref: str | None = "card-1",
) -> bytes:
    out = (
        tlv(1, challenge)
        + tlv(2, pan.encode())
        + tlv(3, dpan.encode())
        + tlv(4, expiry.encode())
        + tlv(5, cardholder.encode())
        + tlv(6, card_key)
    )
    if card_ref is not None:
        out += tlv(7, card_ref.encode())
    return out


def perso_payload(*, issuer_key: nacl.signing.SigningKey, se_public: bytes, inner: bytes) -> bytes:
    sig = issuer_key.sign(b"cardsim-perso-v1\x00" + se_public + inner).signature
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(se_public)).encrypt(inner + sig))


@dataclass
class IssuerChannel:
    """The issuer end of the secure channel."""

    k_i2d: bytes
    k_d2i: bytes
    hello: bytes
    send_seq: int = 0
    recv_seq: int = 0
    sent: list[bytes] = field(default_factory=list)

    @classmethod
    def start(cls, *, issuer_key: nacl.signing.SigningKey, device_public: bytes) -> IssuerChannel:
        eph = nacl.public.PrivateKey.generate()
        e_pub = bytes(eph.public_key)
        sig = issuer_key.sign(b"cardsim-channel-hello-v1\x00" + device_public + e_pub).signature
        shared = nacl.bindings.crypto_scalarmult(bytes(eph), device_public)
        okm = HKDF(
            algorithm=hashes.SHA256(),
            length=64,
            salt=e_pub + device_public,
            info=b"cardsim-channel-v1",
        ).derive(shared)
        return cls(k_i2d=okm[:32], k_d2i=okm[32:], hello=b"\x01" + e_pub + sig)

    def seal(self, plaintext: bytes) -> bytes:
        seq = self.send_seq.to_bytes(8, "big")
        ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, b"\x01" + seq, bytes(16) + seq, self.k_i2d
        )
        self.send_seq += 1
        record = seq + bytes(ct)
        self.sent.append(record)
        return record

    def open(self, record: bytes) -> bytes:
        seq = record[:8]
        assert int.from_bytes(seq, "big") == self.recv_seq, "device record out of sequence"
        pt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            record[8:], b"\x02" + seq, bytes(16) + seq, self.k_d2i
        )
        self.recv_seq += 1
        return bytes(pt)
