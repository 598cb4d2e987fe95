"""Attacks on the audit log's stored text and on anchor files, found and named precisely."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from issuer.audit import append_audit, verify_audit_chain
from issuer.audit_anchor import anchor_head
from issuer.keys import IssuerKeys
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


def _anchor_line(factory: sessionmaker[Session], keys: IssuerKeys) -> str:
    with factory() as s:
        return anchor_head(s, signing_key=keys.signing_key,
                           now=T0 + timedelta(days=1)).to_json() + "\n"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_anchor_from_another_key_names_the_anchor_not_the_log(
    session_factory: sessionmaker[Session], migrated_url: str, tmp_path: Path,
    cli_keys: IssuerKeys, capsys: pytest.CaptureFixture[str],
) -> None:
    fill(session_factory, 3)
    genuine = _anchor_line(session_factory, cli_keys)
    foreign = _anchor_line(session_factory, IssuerKeys.generate())  # another installation
    anchors = tmp_path / "anchors.jsonl"
    anchors.write_text(genuine + "\n" + foreign)
    assert cardsim(["audit", "verify", "--anchors", str(anchors), "--database-url",
                    migrated_url]) == 1
    err = capsys.readouterr().err
    assert err == (f"cardsim: {anchors}:3: the anchor of entry 3 is not signed with this "
                   "installation's issuer key (forged, altered, or from another "
                   "installation)\n")
    altered = json.loads(genuine)
    altered["at"] = (T0 + timedelta(days=2)).isoformat()  # replayed with a newer time
    anchors.write_text(json.dumps(altered) + "\n")
    assert cardsim(["audit", "verify", "--anchors", str(anchors), "--database-url",
                    migrated_url]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cardsim: {anchors}:1: the anchor of entry 3 is not signed")
    assert err.count("\n") == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("line", "expected"), [
    ("[" * 100_000, "not JSON"),
    ('{"version": true, "seq": 1}', "not a version 1 audit anchor"),
    ('{"version": 1.0, "seq": 1}', "not a version 1 audit anchor"),
], ids=["deeply-nested", "version-true", "version-float"])
def test_garbled_anchor_lines_are_one_line_input_errors(
    session_factory: sessionmaker[Session], migrated_url: str, tmp_path: Path,
    cli_keys: IssuerKeys, capsys: pytest.CaptureFixture[str], line: str, expected: str,
) -> None:
    fill(session_factory, 2)
    anchors = tmp_path / "anchors.jsonl"
    anchors.write_text(_anchor_line(session_factory, cli_keys) + line + "\n")
    assert cardsim(["audit", "verify", "--anchors", str(anchors), "--database-url",
                    migrated_url]) == 2
    assert capsys.readouterr().err == f"cardsim: {anchors}:2: {expected}\n"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(60)
def test_cli_verify_and_anchor_read_beside_a_writer_on_sqlite(
    session_factory: sessionmaker[Session], migrated_url: str, tmp_path: Path,
    cli_keys: IssuerKeys, capsys: pytest.CaptureFixture[str],
) -> None:
    """Verification only reads: it must not queue behind (or block) the app's writers."""
    fill(session_factory, 3)
    writer = sqlite3.connect(tmp_path / "cardsim.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a long write transaction of the running app
        writer.execute("UPDATE audit_entry SET actor = actor WHERE seq = 1")
        started = time.monotonic()
        assert cardsim(["audit", "verify", "--database-url", migrated_url]) == 0
        assert cardsim(["audit", "anchor", "--out", str(tmp_path / "anchors.jsonl"),
                        "--database-url", migrated_url]) == 0
        assert cardsim(["audit", "verify", "--anchors", str(tmp_path / "anchors.jsonl"),
                        "--database-url", migrated_url]) == 0
        assert time.monotonic() - started < 10  # not the 30 s busy timeout
    finally:
        writer.rollback()
        writer.close()
    assert "3 entries verified; it holds all 1 anchored heads" in capsys.readouterr().out


AWKWARD_DETAILS: list[dict[str, Any]] = [
    {"b": 1, "a": 2, "B": 3, "é": 4, "e\u0301": 5, "10": 6, "9": 7, "": 8},
    {"f": [0.1, 1e16, 1e-7, 1.0, -0.0, 1.7976931348623157e308, 5e-324, 123456789.123456789]},
    {"i": [2**63 - 1, 2**64, -(2**70), 10**40, 0, -1]},
    {"s": "\u2028\u2029 \x00 \x1f \x7f \U0001f600 \\u0041 \"q\" </script>", "\u00e9": "\u00e9"},
    {"n": [None, True, False, [], {}, [{"z": {"y": [1, {"x": None}]}}]]},
]


@pytest.mark.parametrize("details", AWKWARD_DETAILS, ids=["keys", "floats", "ints", "text",
                                                          "nesting"])
def test_awkward_details_verify_after_the_database_round_trip(
    session_factory: sessionmaker[Session], details: dict[str, Any],
) -> None:
    """The hash is over what the database gives back (PostgreSQL's json keeps the text)."""
    with session_factory.begin() as s:
        append_audit(s, actor="staff:a", action="t", subject="x", details=details, now=T0)
        append_audit(s, actor="staff:a", action="t", subject="y", details={}, now=T0)
    with session_factory() as s:
        result = verify_audit_chain(s)
        assert s.get(AuditEntry, 1).details == details  # type: ignore[union-attr]
    assert (result.ok, result.checked) == (True, 2), result.reason


def test_an_append_rolled_back_leaves_no_gap(session_factory: sessionmaker[Session]) -> None:
    fill(session_factory, 2)
    with pytest.raises(LookupError), session_factory.begin() as s:
        append_audit(s, actor="staff:a", action="t", subject="gone", details={}, now=T0)
        raise LookupError("the request failed after auditing")
    fill(session_factory, 2)
    with session_factory() as s:
        result = verify_audit_chain(s)
        subjects = s.scalars(select(AuditEntry.subject).order_by(AuditEntry.seq)).all()
    assert (result.ok, result.checked) == (True, 4)
    assert "gone" not in subjects
