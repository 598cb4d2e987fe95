"""Attacks on the audit log's stored text and on anchor files, found and named precisely."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from issuer.audit import verify_audit_chain
from issuer.models import AuditEntry
from tests.issuer.cli import run_admin as cardsim
from tests.issuer.test_audit import T0, fill

pytestmark = pytest.mark.integration


def _stored_at(factory: sessionmaker[Session], seq: int) -> str:
    with factory() as s:
        raw: str = s.execute(text("SELECT at FROM audit_entry WHERE seq = :seq"),
                             {"seq": seq}).scalar_one()
    return raw


def _set_at(factory: sessionmaker[Session], seq: int, raw: str) -> None:
    with factory.begin() as s:
        s.execute(text("UPDATE audit_entry SET at = :raw WHERE seq = :seq"),
                  {"raw": raw, "seq": seq})


# Only SQLite keeps a time as the text it was given, offset and all; PostgreSQL's
# `timestamp` column has no offset to rewrite.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rewrite", [
    lambda iso: iso.replace(" ", "T") + "Z",
    lambda iso: iso + "+00:00",
    lambda iso: iso.replace(" 12:00:03", " 14:00:03") + "+02:00",
    lambda iso: iso.replace(" 12:00:03", " 06:30:03") + "-05:30",
], ids=["Z", "+00:00", "+02:00", "-05:30"])
def test_a_time_rewritten_in_another_offset_for_the_same_instant_is_intact(
    session_factory: sessionmaker[Session], rewrite: Callable[[str], str],
) -> None:
    fill(session_factory, 5)
    stored = _stored_at(session_factory, 4)
    assert stored == "2025-06-15 12:00:03.000123"
    _set_at(session_factory, 4, rewrite(stored))
    with session_factory() as s:
        result = verify_audit_chain(s)
        entry = s.get(AuditEntry, 4)
        assert entry is not None and entry.at == T0 + timedelta(seconds=3, microseconds=123)
    assert (result.ok, result.checked) == (True, 5), result.reason


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("offset", ["+05:00", "-00:01", "+00:00:01"])
def test_an_offset_added_to_a_stored_time_moves_the_instant_and_is_found(
    session_factory: sessionmaker[Session], migrated_url: str, offset: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(session_factory, 5)
    _set_at(session_factory, 4, _stored_at(session_factory, 4) + offset)
    with session_factory() as s:
        result = verify_audit_chain(s)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 4, 3)
    assert cardsim(["audit", "verify", "--database-url", migrated_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "entry 4" in err and "altered" in err
