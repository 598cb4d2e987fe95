"""Signed anchors of the audit head: truncation and rewriting found, forged anchors refused."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from issuer.audit import append_audit, verify_audit_chain
from issuer.audit_anchor import (
    AuditAnchor,
    ForgedAnchor,
    anchor_head,
    parse_anchor,
    verify_with_anchors,
)
from issuer.errors import NotFound, ValidationFailed
from issuer.keys import IssuerKeys
from issuer.models import AuditEntry
from tests.issuer.cli import run_admin as cardsim
from tests.issuer.test_audit import T0, fill

KEYS = IssuerKeys.generate()


def _anchor(factory: sessionmaker[Session], keys: IssuerKeys = KEYS) -> AuditAnchor:
    with factory() as s:
        return anchor_head(s, signing_key=keys.signing_key, now=T0 + timedelta(days=1))


def _verify(factory: sessionmaker[Session], *anchors: AuditAnchor) -> tuple[bool, str]:
    with factory() as s:
        result = verify_with_anchors(s, anchors=list(anchors), verify_key=KEYS.verify_key)
    return result.ok, result.reason


def _drop_after(factory: sessionmaker[Session], seq: int) -> None:
    with factory.begin() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > seq))


@pytest.mark.integration
def test_a_log_that_grew_past_its_anchors_verifies(session_factory: sessionmaker[Session]) -> None:
    fill(session_factory, 4)
    first = _anchor(session_factory)
    fill(session_factory, 3)
    second = _anchor(session_factory)
    assert (first.seq, second.seq) == (4, 7)
    assert _verify(session_factory, first, second) == (True, "chain intact")


@pytest.mark.integration
def test_deleting_the_newest_entries_is_found(session_factory: sessionmaker[Session]) -> None:
    fill(session_factory, 6)
    anchor = _anchor(session_factory)
    _drop_after(session_factory, 4)  # the chain that is left is intact on its own ...
    with session_factory() as s:
        assert verify_audit_chain(s).ok
    ok, reason = _verify(session_factory, anchor)  # ... but not against the anchor
    assert not ok and "entry 6" in reason and "deleted" in reason


@pytest.mark.integration
def test_rewriting_the_tail_is_found(session_factory: sessionmaker[Session]) -> None:
    fill(session_factory, 5)
    anchor = _anchor(session_factory)
    _drop_after(session_factory, 3)
    with session_factory.begin() as s:  # two new, validly chained entries in their place
        for i in range(2):
            append_audit(s, actor="staff:mallory", action="case.viewed", subject=f"x{i}",
                         details={}, now=T0 + timedelta(hours=1))
    ok, reason = _verify(session_factory, anchor)
    assert not ok and "entry 5 differs" in reason and "rewritten" in reason


@pytest.mark.integration
def test_forged_or_altered_anchors_are_refused(session_factory: sessionmaker[Session]) -> None:
    fill(session_factory, 3)
    forged = _anchor(session_factory, IssuerKeys.generate())  # signed by someone else
    genuine = _anchor(session_factory)
    with pytest.raises(ForgedAnchor, match="not signed with this installation's") as caught:
        _verify(session_factory, genuine, forged)
    assert (caught.value.index, caught.value.seq) == (1, 3)
    moved = AuditAnchor(seq=2, hash_hex=genuine.hash_hex, at=genuine.at,
                        signature_hex=genuine.signature_hex)
    with pytest.raises(ForgedAnchor, match="anchor of entry 2") as caught:
        _verify(session_factory, moved)
    assert caught.value.index == 0


@pytest.mark.integration
def test_an_empty_log_has_no_head_to_anchor(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(NotFound, match="empty"):
        _anchor(session_factory)


@pytest.mark.unit
def test_anchor_json_round_trip() -> None:
    anchor = AuditAnchor(seq=12, hash_hex="ab" * 32, at=T0, signature_hex="cd" * 64)
    assert parse_anchor(anchor.to_json()) == anchor


@pytest.mark.unit
@pytest.mark.parametrize(("change", "field"), [
    ({"seq": 0}, "seq"), ({"seq": True}, "seq"), ({"hash": "ab"}, "hash"),
    ({"hash": "zz" * 32}, "hash"), ({"signature": "00"}, "signature"),
    ({"at": "yesterday"}, "at"), ({"at": "2025-06-15T12:00:00"}, "at"),
])
def test_malformed_anchors_name_the_field(change: dict[str, object], field: str) -> None:
    good = json.loads(AuditAnchor(seq=3, hash_hex="ab" * 32, at=T0,
                                  signature_hex="cd" * 64).to_json())
    with pytest.raises(ValidationFailed) as caught:
        parse_anchor(json.dumps({**good, **change}))
    assert field in caught.value.field_errors


@pytest.mark.unit
@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.dictionaries(
    st.sampled_from(["version", "seq", "hash", "at", "signature", "x"]),
    st.one_of(st.integers(), st.text(max_size=130), st.none(), st.booleans()),
).map(json.dumps)))
def test_any_text_parses_or_is_a_validation_error(text: str) -> None:
    try:
        anchor = parse_anchor(text)
    except ValidationFailed:
        return
    assert anchor.seq >= 1 and len(anchor.hash_hex) == 64


@pytest.mark.integration
def test_cli_anchor_then_verify_finds_truncation(
    session_factory: sessionmaker[Session], migrated_url: str, tmp_path: Path,
    cli_keys: IssuerKeys, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    assert cardsim(["audit", "anchor", "--out", str(anchors), "--database-url",
                    migrated_url]) == 1  # nothing to anchor yet
    assert "empty" in capsys.readouterr().err
    fill(session_factory, 5)
    assert cardsim(["audit", "anchor", "--out", str(anchors), "--database-url",
                    migrated_url]) == 0
    assert json.loads(capsys.readouterr().out)["seq"] == 5
    assert cardsim(["audit", "verify", "--anchors", str(anchors), "--database-url",
                    migrated_url]) == 0
    assert "holds all 1 anchored heads" in capsys.readouterr().out
    _drop_after(session_factory, 3)
    assert cardsim(["audit", "verify", "--anchors", str(anchors), "--database-url",
                    migrated_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "entry 5" in err and "deleted" in err
    anchors.write_text("not an anchor\n")
    assert cardsim(["audit", "verify", "--anchors", str(anchors), "--database-url",
                    migrated_url]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(tmp_path / "missing.json"))
    assert cardsim(["audit", "anchor", "--database-url", migrated_url]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.timeout(60)  # FIFOs used to block the command for ever
def test_cli_anchor_files_that_are_not_regular_files_are_refused(
    session_factory: sessionmaker[Session], migrated_url: str, tmp_path: Path,
    cli_keys: IssuerKeys, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    fill(session_factory, 2)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    binary = tmp_path / "anchors.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for anchors, expected in ((fifo, f"cannot read {fifo}: it is not a regular file"),
                              (tmp_path, f"cannot read {tmp_path}: it is a directory"),
                              (binary, f"{binary} is not a text file of anchors")):
        assert cardsim(["audit", "verify", "--anchors", str(anchors), "--database-url",
                        migrated_url]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
    for out, expected in ((fifo, f"cannot write {fifo}: it is not a regular file"),
                          (tmp_path, f"cannot write {tmp_path}: it is a directory")):
        assert cardsim(["audit", "anchor", "--out", str(out), "--database-url",
                        migrated_url]) == 1
        assert capsys.readouterr().err == f"cardsim: {expected}\n"
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(fifo))
    assert cardsim(["audit", "anchor", "--database-url", migrated_url]) == 1
    assert capsys.readouterr().err == f"cardsim: issuer key file {fifo} is not a regular file\n"


@pytest.mark.integration
def test_cli_bad_anchor_line_names_each_field(
    migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(tmp_path / "keys.json"))
    anchors = tmp_path / "anchors.jsonl"
    anchors.write_text('\n{"version":1,"seq":"x","hash":5,"at":"nope","signature":"zz"}\n')
    assert cardsim(["audit", "verify", "--anchors", str(anchors), "--database-url",
                    migrated_url]) == 2
    assert capsys.readouterr().err == (
        f"cardsim: {anchors}:2: at must be an ISO 8601 time with a UTC offset; hash must be 64 "
        "hex digits; seq must be a positive whole number; signature must be 128 hex digits\n")
