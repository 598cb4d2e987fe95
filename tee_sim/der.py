"""A minimal DER encoder for the few ASN.1 types the attestation extension needs.

tee_sim may depend only on the stdlib, pynacl and cryptography, and cryptography exposes no
general DER encoder; the issuer decodes the result with pyasn1, an independent implementation.
"""

from __future__ import annotations

from collections.abc import Iterable

_UNIVERSAL_BOOLEAN = 0x01
_UNIVERSAL_INTEGER = 0x02
_UNIVERSAL_OCTET_STRING = 0x04
_UNIVERSAL_NULL = 0x05
_UNIVERSAL_ENUMERATED = 0x0A
_SEQUENCE = 0x30
_SET = 0x31


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(identifier: bytes, content: bytes) -> bytes:
    """Encode one element from its identifier octets and content octets."""
    return identifier + _length(len(content)) + content


def _int_content(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return value.to_bytes(size, "big", signed=True)


def integer(value: int) -> bytes:
    """DER INTEGER."""
    return tlv(bytes([_UNIVERSAL_INTEGER]), _int_content(value))


def enumerated(value: int) -> bytes:
    """DER ENUMERATED."""
    return tlv(bytes([_UNIVERSAL_ENUMERATED]), _int_content(value))


def boolean(value: bool) -> bytes:
    """DER BOOLEAN (TRUE is 0xFF)."""
    return tlv(bytes([_UNIVERSAL_BOOLEAN]), b"\xff" if value else b"\x00")


def octet_string(value: bytes) -> bytes:
    """DER OCTET STRING."""
    return tlv(bytes([_UNIVERSAL_OCTET_STRING]), value)


def null() -> bytes:
    """DER NULL."""
    return tlv(bytes([_UNIVERSAL_NULL]), b"")


def sequence(elements: Iterable[bytes]) -> bytes:
    """DER SEQUENCE of already-encoded elements, in the given order."""
    return tlv(bytes([_SEQUENCE]), b"".join(elements))


def set_of(elements: Iterable[bytes]) -> bytes:
    """DER SET OF: elements sorted by their encodings, as DER requires."""
    return tlv(bytes([_SET]), b"".join(sorted(elements)))


def explicit(tag_number: int, inner: bytes) -> bytes:
    """[tag_number] EXPLICIT wrapper (context-specific, constructed), high tag numbers included."""
    if tag_number < 31:
        identifier = bytes([0xA0 | tag_number])
    else:
        groups = []
        n = tag_number
        while True:
            groups.append(n & 0x7F)
            n >>= 7
            if n == 0:
                break
        groups.reverse()
        identifier = bytes([0xBF]) + bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])
    return tlv(identifier, inner)
