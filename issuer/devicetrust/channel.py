"""The issuer's end of the secure channel to the phone's TEE (docs/protocol.md §4).

`IssuerChannel` is an immutable value: every seal/open returns the next channel state, so the
web layer stores it between requests and a failed request leaves the stored state untouched.
Its serialised form holds the two session keys: store it encrypted at rest.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_scalarmult,
)
from nacl.exceptions import CryptoError
from nacl.exceptions import RuntimeError as NaclRuntimeError
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from issuer.devicetrust.errors import ChannelError

CHANNEL_VERSION = 1
HELLO_PREFIX = b"cardsim-channel-hello-v1\x00"
HKDF_INFO = b"cardsim-channel-v1"
ISSUER_TO_DEVICE = 0x01
DEVICE_TO_ISSUER = 0x02

RECORD_PROVISION = 0x01
RECORD_PROVISION_RESULT = 0x81
RECORD_APP_DATA = 0x10

_STATE_FORMAT = ">B32s32sQQ"
_STATE_VERSION = 1
_TAG_BYTES = 16


def _nonce(seq: int) -> bytes:
    return bytes(16) + struct.pack(">Q", seq)


def _aad(direction: int, seq: int) -> bytes:
    return struct.pack(">BQ", direction, seq)


@dataclass(frozen=True)
class ChannelHello:
    """What `begin` produces: the 97-byte hello to send and the channel to store."""

    hello: bytes
    channel: IssuerChannel


@dataclass(frozen=True)
class IssuerChannel:
    """Session keys and the next sequence number in each direction."""

    key_to_device: bytes = field(repr=False)
    key_from_device: bytes = field(repr=False)
    send_seq: int = 0
    receive_seq: int = 0

    @classmethod
    def begin(
        cls,
        *,
        device_public_key: bytes,
        issuer_signing_key: SigningKey,
        ephemeral_key: PrivateKey | None = None,
    ) -> ChannelHello:
        """Start a channel to the device's attested X25519 key; returns the hello to send."""
        if len(device_public_key) != 32:
            raise ChannelError("bad_device_key", "The phone's agreement key must be 32 bytes.")
        ephemeral = ephemeral_key or PrivateKey.generate()
        e_pub = bytes(ephemeral.public_key)
        d_pub = bytes(device_public_key)
        try:
            shared = crypto_scalarmult(bytes(ephemeral), d_pub)
        except NaclRuntimeError as exc:  # libsodium refuses an all-zero (low-order) result
            raise ChannelError(
                "bad_device_key", "The phone's agreement key is not usable."
            ) from exc
        if hmac.compare_digest(shared, bytes(32)):
            raise ChannelError("bad_device_key", "The phone's agreement key is not usable.")
        okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=e_pub + d_pub, info=HKDF_INFO).derive(
            shared
        )
        signature = issuer_signing_key.sign(HELLO_PREFIX + d_pub + e_pub).signature
        hello = bytes([CHANNEL_VERSION]) + e_pub + signature
        return ChannelHello(
            hello=hello, channel=cls(key_to_device=okm[:32], key_from_device=okm[32:])
        )

    def seal(self, *, record_type: int, body: bytes) -> tuple[IssuerChannel, bytes]:
        """Encrypt one issuer→device record; returns the advanced channel and the record."""
        if not 0 <= record_type <= 0xFF:
            raise ChannelError("bad_record_type", "Record type must fit in one byte.")
        seq = self.send_seq
        ct = crypto_aead_xchacha20poly1305_ietf_encrypt(
            bytes([record_type]) + bytes(body),
            _aad(ISSUER_TO_DEVICE, seq),
            _nonce(seq),
            self.key_to_device,
        )
        return replace(self, send_seq=seq + 1), struct.pack(">Q", seq) + ct

    def open(self, record: bytes) -> tuple[IssuerChannel, int, bytes]:
        """Decrypt one device→issuer record: (advanced channel, record type, body).

        Refuses a replayed or reordered record (wrong seq) and an altered one (tag); a refused
        record does not advance the channel.
        """
        if len(record) < 8 + _TAG_BYTES + 1:
            raise ChannelError("malformed_record", "The record from the phone is too short.")
        (seq,) = struct.unpack(">Q", record[:8])
        if seq < self.receive_seq:
            raise ChannelError("replayed_record", "This record from the phone was already seen.")
        if seq > self.receive_seq:
            raise ChannelError("out_of_order_record", "A record from the phone is missing.")
        try:
            plaintext = crypto_aead_xchacha20poly1305_ietf_decrypt(
                bytes(record[8:]), _aad(DEVICE_TO_ISSUER, seq), _nonce(seq), self.key_from_device
            )
        except CryptoError as exc:
            raise ChannelError("altered_record", "The record from the phone was altered.") from exc
        return replace(self, receive_seq=seq + 1), plaintext[0], plaintext[1:]

    def provision(self, *, sealed_payload: bytes) -> tuple[IssuerChannel, bytes]:
        """A PROVISION record carrying a sealed personalization payload."""
        return self.seal(record_type=RECORD_PROVISION, body=sealed_payload)

    def open_provision_result(self, record: bytes) -> tuple[IssuerChannel, int]:
        """Open a PROVISION_RESULT record: the SE applet's status word (0x9000 = personalized)."""
        channel, record_type, body = self.open(record)
        if record_type != RECORD_PROVISION_RESULT or len(body) != 2:
            raise ChannelError("unexpected_record", "The phone did not answer the provisioning.")
        return channel, int.from_bytes(body, "big")

    def to_bytes(self) -> bytes:
        """Serialise for storage between requests (secret: encrypt at rest)."""
        return struct.pack(
            _STATE_FORMAT,
            _STATE_VERSION,
            self.key_to_device,
            self.key_from_device,
            self.send_seq,
            self.receive_seq,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> IssuerChannel:
        """Restore a channel stored with `to_bytes`."""
        if len(data) != struct.calcsize(_STATE_FORMAT) or data[0] != _STATE_VERSION:
            raise ChannelError("bad_channel_state", "The stored channel state is not readable.")
        _, k_out, k_in, send_seq, receive_seq = struct.unpack(_STATE_FORMAT, data)
        return cls(
            key_to_device=k_out, key_from_device=k_in, send_seq=send_seq, receive_seq=receive_seq
        )
