"""Signed anchors of the audit chain's head, kept outside the database to catch truncation.

A hash chain shows any altered or removed entry *before* the newest one, but an attacker with
write access can delete the newest entries and leave a shorter, intact chain. An anchor is the
head (sequence number and hash) signed with the issuer's Ed25519 key; kept somewhere the
database's writers cannot reach (write-once storage, a ticket, a regulator's inbox), it proves
that the chain once reached that entry: verifying against it finds a truncated or rewritten log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import nacl.exceptions
import nacl.signing
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.audit import AuditVerification, verify_audit_chain
from issuer.clock import require_aware
from issuer.errors import IssuerError, NotFound, ValidationFailed
from issuer.models import AuditEntry

_CONTEXT = b"cardsim audit anchor v1\n"  # domain separation from the key's other signatures
ANCHOR_VERSION = 1


class ForgedAnchor(IssuerError):
    """An anchor whose signature is not the issuer's: forged, altered after signing, or
    signed by another installation's key. `index` is its position in the list verified."""

    def __init__(self, *, index: int, seq: int) -> None:
        self.index = index
        self.seq = seq
        super().__init__(f"the anchor of entry {seq} is not signed with this installation's "
                         "issuer key (forged, altered, or from another installation)")


@dataclass(frozen=True)
class AuditAnchor:
    """The chain's head at `at`, signed: `signature` covers seq, hash and time."""

    seq: int
    hash_hex: str
    at: datetime
    signature_hex: str

    def signed_bytes(self) -> bytes:
        """What the signature covers."""
        return _signed_bytes(self.seq, self.hash_hex, self.at)

    def to_json(self) -> str:
        """The anchor as one line of JSON, to be stored outside the database."""
        return json.dumps({"version": ANCHOR_VERSION, "seq": self.seq, "hash": self.hash_hex,
                           "at": self.at.isoformat(), "signature": self.signature_hex})


def _signed_bytes(seq: int, hash_hex: str, at: datetime) -> bytes:
    return _CONTEXT + f"{seq}\n{hash_hex}\n{at.isoformat()}".encode("ascii")


def anchor_head(session: Session, *, signing_key: nacl.signing.SigningKey,
                now: datetime) -> AuditAnchor:
    """Sign the newest audit entry; `NotFound` when the log is empty."""
    now = require_aware(now)
    head = session.execute(select(AuditEntry.seq, AuditEntry.hash)
                           .order_by(AuditEntry.seq.desc()).limit(1)).first()
    if head is None:
        raise NotFound("the audit log is empty; there is nothing to anchor")
    hash_hex = bytes(head.hash).hex()
    signature = signing_key.sign(_signed_bytes(head.seq, hash_hex, now)).signature
    return AuditAnchor(seq=head.seq, hash_hex=hash_hex, at=now, signature_hex=signature.hex())


def parse_anchor(text: str) -> AuditAnchor:
    """Read an anchor written by `AuditAnchor.to_json`; `ValidationFailed` says what is wrong."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can read
        raise ValidationFailed({"anchor": "not JSON"}) from None
    version = raw.get("version") if isinstance(raw, dict) else None
    if type(version) is not int or version != ANCHOR_VERSION:  # not True, not 1.0
        raise ValidationFailed({"anchor": f"not a version {ANCHOR_VERSION} audit anchor"})
    seq, hash_hex, at_text, signature_hex = (raw.get(k) for k in ("seq", "hash", "at",
                                                                   "signature"))
    errors: dict[str, str] = {}
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        errors["seq"] = "must be a positive whole number"
    if not _is_hex(hash_hex, 32):
        errors["hash"] = "must be 64 hex digits"
    if not _is_hex(signature_hex, 64):
        errors["signature"] = "must be 128 hex digits"
    at: datetime | None = None
    if isinstance(at_text, str):
        try:
            at = require_aware(datetime.fromisoformat(at_text))
        except ValueError:
            at = None
    if at is None:
        errors["at"] = "must be an ISO 8601 time with a UTC offset"
    if errors or at is None:
        raise ValidationFailed(errors)
    assert isinstance(seq, int) and isinstance(hash_hex, str) and isinstance(signature_hex, str)
    return AuditAnchor(seq=seq, hash_hex=hash_hex.lower(), at=at,
                       signature_hex=signature_hex.lower())


def _is_hex(value: object, size: int) -> bool:
    if not isinstance(value, str) or len(value) != 2 * size:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def verify_with_anchors(session: Session, *, anchors: list[AuditAnchor],
                        verify_key: nacl.signing.VerifyKey) -> AuditVerification:
    """Recompute the chain, then check that it still holds every anchored head.

    An anchor with a bad signature is refused first with `ForgedAnchor` (it proves nothing,
    and says nothing about the log). An anchored entry that is gone means the newest entries
    were deleted; one with another hash means the log was rewritten from there on.
    """
    for index, anchor in enumerate(anchors):
        try:
            verify_key.verify(anchor.signed_bytes(), bytes.fromhex(anchor.signature_hex))
        except nacl.exceptions.BadSignatureError:
            raise ForgedAnchor(index=index, seq=anchor.seq) from None
    chain = verify_audit_chain(session)
    if not chain.ok:
        return chain
    for anchor in sorted(anchors, key=lambda a: a.seq):
        stored = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == anchor.seq))
        if stored is None:
            return AuditVerification(False, chain.checked, anchor.seq,
                                     f"entry {anchor.seq}, anchored at {anchor.at.isoformat()}, "
                                     f"is gone: the newest entries were deleted (the log ends "
                                     f"at {chain.checked})")
        if bytes(stored).hex() != anchor.hash_hex:
            return AuditVerification(False, chain.checked, anchor.seq,
                                     f"entry {anchor.seq} differs from the one anchored at "
                                     f"{anchor.at.isoformat()}: the log was rewritten")
    return chain
