"""Tamper-evident audit log: each entry's hash covers the previous entry's hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from issuer.clock import require_aware
from issuer.models import AuditEntry

GENESIS_HASH = bytes(32)
# Any constant: PostgreSQL transaction-level advisory lock that serialises appenders.
_AUDIT_LOCK_KEY = 0x6361726473696D  # "cardsim"


@dataclass(frozen=True)
class AuditRecord:
    """One appended audit entry."""

    seq: int
    hash_hex: str


@dataclass(frozen=True)
class AuditVerification:
    """Result of recomputing the chain; `first_broken_seq` is None when `ok`."""

    ok: bool
    checked: int
    first_broken_seq: int | None
    reason: str


def entry_hash(
    *, prev_hash: bytes, seq: int, at: datetime, actor: str, action: str, subject: str,
    details: dict[str, Any],
) -> bytes:
    """SHA-256 over the previous hash and a canonical JSON encoding of the entry."""
    body = json.dumps(
        {
            "seq": seq,
            "at": require_aware(at, name="at").isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        },
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(prev_hash + body.encode("utf-8")).digest()


def _lock_chain(session: Session) -> None:
    # SQLite: every transaction already began with BEGIN IMMEDIATE (issuer.db), a global lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})


def append_audit(
    session: Session, *, actor: str, action: str, subject: str, details: dict[str, Any],
    now: datetime,
) -> AuditRecord:
    """Append one entry to the chain inside the caller's transaction (serialised)."""
    at = require_aware(now)
    _lock_chain(session)
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
    clean = json.loads(json.dumps(details, sort_keys=True))  # what the JSON column returns
    digest = entry_hash(prev_hash=prev, seq=seq, at=at, actor=actor, action=action,
                        subject=subject, details=clean)
    session.add(AuditEntry(seq=seq, at=at, actor=actor, action=action, subject=subject,
                           details=clean, prev_hash=prev, hash=digest))
    session.flush()
    return AuditRecord(seq=seq, hash_hex=digest.hex())


_ENTRY_COLUMNS = ("seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash")


def _decoders(dialect: Dialect) -> list[tuple[str, Callable[[Any], Any]]]:
    """Each audit column's own result conversion (what the ORM would apply), by name."""
    decoders: list[tuple[str, Callable[[Any], Any]]] = []
    for name in _ENTRY_COLUMNS:
        column_type = AuditEntry.__table__.c[name].type
        processor = column_type.dialect_impl(dialect).result_processor(dialect, None)
        decoders.append((name, processor or (lambda value: value)))
    return decoders


def verify_audit_chain(session: Session, *, batch_size: int = 1000) -> AuditVerification:
    """Recompute every hash in order; report the first entry that does not match.

    Rows are fetched undecoded and decoded here one by one, so an entry whose stored text
    can no longer be read (a date or JSON overwritten by hand) is reported as altered like
    any other tampering, instead of aborting the whole verification.
    """
    decoders = _decoders(session.get_bind().dialect)
    table = AuditEntry.__table__
    rows = session.execute(
        select(*(type_coerce(table.c[name], NullType()).label(name) for name in _ENTRY_COLUMNS))
        .order_by(table.c.seq).execution_options(yield_per=batch_size)
    )
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for row in rows:
        entry: dict[str, Any] = {}
        for (name, decode), raw in zip(decoders, row, strict=True):
            try:
                entry[name] = decode(raw)
            except (ValueError, TypeError, AttributeError, OverflowError):
                seq = entry.get("seq", expected_seq)
                return AuditVerification(False, checked, seq,
                                         f"its stored {name!r} value cannot be read "
                                         "(entry was altered)")
        if entry["seq"] != expected_seq:
            return AuditVerification(False, checked, entry["seq"],
                                     f"entry {expected_seq} is missing (next is {entry['seq']})")
        if entry["prev_hash"] != expected_prev:
            return AuditVerification(False, checked, entry["seq"],
                                     "prev_hash does not match the previous entry's hash")
        try:
            recomputed = entry_hash(prev_hash=entry["prev_hash"], seq=entry["seq"],
                                    at=entry["at"], actor=entry["actor"],
                                    action=entry["action"], subject=entry["subject"],
                                    details=entry["details"])
        except (ValueError, TypeError):  # e.g. a naive time or a non-string actor
            recomputed = b""
        if recomputed != entry["hash"]:
            return AuditVerification(False, checked, entry["seq"],
                                     "content does not match its hash (entry was altered)")
        expected_prev = entry["hash"]
        expected_seq += 1
        checked += 1
    return AuditVerification(True, checked, None, "chain intact")
