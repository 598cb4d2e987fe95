"""The tamper-evident audit chain: appends, verification, tampering, concurrent appenders."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from issuer.audit import append_audit, verify_audit_chain
from issuer.audit_anchor import anchor_head
from issuer.keys import IssuerKeys
from issuer.models import AuditEntry
from tests.issuer.cli import run_admin as cardsim

pytestmark = pytest.mark.integration

T0 = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def fill(factory: sessionmaker[Session], count: int) -> None:
    with factory.begin() as s:
        for i in range(count):
            append_audit(s, actor=f"staff:user{i % 3}", action="case.viewed",
                         subject=f"application:{i}", details={"i": i, "note": "ünïcode ✓"},
                         now=T0 + timedelta(seconds=i, microseconds=123))


def test_intact_chain_verifies(session_factory: sessionmaker[Session]) -> None:
    fill(session_factory, 5)
    with session_factory() as s:
        result = verify_audit_chain(s)
    assert (result.ok, result.checked, result.first_broken_seq) == (True, 5, None)


def test_empty_chain_is_intact(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s:
        assert verify_audit_chain(s).ok


@pytest.mark.parametrize("column", ["details", "actor", "at", "hash"])
def test_altering_an_entry_names_it(session_factory: sessionmaker[Session], column: str) -> None:
    fill(session_factory, 6)
    values: dict[str, object] = {
        "details": {"i": 99}, "actor": "staff:mallory",
        "at": T0 + timedelta(days=1), "hash": bytes(32),
    }
    with session_factory.begin() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 4).values({column: values[column]}))
    with session_factory() as s:
        result = verify_audit_chain(s)
    assert not result.ok
    assert result.first_broken_seq == 4
    assert result.checked == result.first_broken_seq - 1


def test_deleting_an_entry_is_detected(session_factory: sessionmaker[Session]) -> None:
    fill(session_factory, 5)
    with session_factory.begin() as s:
        s.delete(s.get(AuditEntry, 3))
    with session_factory() as s:
        result = verify_audit_chain(s)
    assert (result.ok, result.first_broken_seq) == (False, 4)
    assert "missing" in result.reason


def test_concurrent_appenders_never_fork_the_chain(
    session_factory: sessionmaker[Session],
) -> None:
    threads_count, per_thread = 6, 5
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with session_factory.begin() as s:
                    append_audit(s, actor=f"worker{worker}", action="test.append",
                                 subject=f"n:{i}", details={}, now=T0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with session_factory() as s:
        result = verify_audit_chain(s)
        seqs = s.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert result.ok and result.checked == threads_count * per_thread
    assert list(seqs) == list(range(1, threads_count * per_thread + 1))


def test_cli_audit_verify(session_factory: sessionmaker[Session], migrated_url: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    fill(session_factory, 3)
    assert cardsim(["audit", "verify", "--database-url", migrated_url]) == 0
    assert "3 entries verified" in capsys.readouterr().out
    with session_factory.begin() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(subject="forged"))
    assert cardsim(["audit", "verify", "--database-url", migrated_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "entry 2" in err


def test_cli_audit_verify_before_init_db_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.db").write_bytes(b"")  # a database file, but no schema
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert cardsim(["audit", "verify", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `cardsim init-db` first" in err


UNREADABLE = [(2, "details", "not json"), (1, "at", "garbage"),
              (3, "at", "2025-13-45 25:00:00")]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.parametrize(("seq", "column", "raw"), UNREADABLE)
def test_postgresql_refuses_undecodable_values_on_write(
        session_factory: sessionmaker[Session], seq: int, column: str, raw: str) -> None:
    fill(session_factory, 4)
    with pytest.raises(DBAPIError), session_factory.begin() as s:
        s.execute(text(f"UPDATE audit_entry SET {column} = :raw WHERE seq = :seq"),
                  {"raw": raw, "seq": seq})


# Only SQLite stores text a column type cannot decode (PostgreSQL refuses it on write, above).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("seq", "column", "raw"), UNREADABLE)
def test_unreadable_entry_is_reported_as_altered(
    session_factory: sessionmaker[Session], migrated_url: str, tmp_path: Path,
    cli_keys: IssuerKeys, capsys: pytest.CaptureFixture[str],
    seq: int, column: str, raw: str,
) -> None:
    fill(session_factory, 4)
    with session_factory() as s:
        anchor = anchor_head(s, signing_key=cli_keys.signing_key, now=T0 + timedelta(days=1))
    anchors = tmp_path / "anchors.jsonl"
    anchors.write_text(anchor.to_json() + "\n")
    with session_factory.begin() as s:
        s.execute(text(f"UPDATE audit_entry SET {column} = :raw WHERE seq = :seq"),
                  {"raw": raw, "seq": seq})
    with session_factory() as s:
        result = verify_audit_chain(s)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, seq, seq - 1)
    assert f"'{column}'" in result.reason and "altered" in result.reason
    for extra in ([], ["--anchors", str(anchors)]):
        assert cardsim(["audit", "verify", "--database-url", migrated_url, *extra]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"entry {seq}" in err and "Traceback" not in err
