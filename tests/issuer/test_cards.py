"""Card issuance (idempotent, exactly once under concurrency), provisioning into a real
emulated secure element, activation, lifecycle, CVV2 on demand, and no plaintext PAN at rest."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from issuer.cards import (
    activate_card,
    card_history,
    close_card,
    find_card_by_pan,
    freeze_card,
    issue_card,
    reveal_card_details,
    unfreeze_card,
)
from issuer.cvv import compute_cvv
from issuer.db import make_engine, make_session_factory, upgrade_database
from issuer.errors import Conflict, IllegalTransition, IssuerError
from issuer.luhn import is_luhn_valid
from issuer.models import Card
from issuer.states import ApplicationState, CardStatus
from tee_sim import wallet
from tests.issuer.flow import IDENTITY, NOW, PIN, Flow, PhoneLab

pytestmark = pytest.mark.integration


def issue_concurrently(
    factory: sessionmaker[Session], flow: Flow, idempotency_keys: list[str]
) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(len(idempotency_keys))
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(key: str) -> None:
        barrier.wait()
        try:
            with factory.begin() as s:
                card = issue_card(s, application_id=flow.application_id, idempotency_key=key,
                                  keys=flow.lab.keys, now=NOW)
            with lock:
                results.append(card)
        except BaseException as exc:  # collected and asserted on
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(key,)) for key in idempotency_keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_full_lifecycle_with_a_real_phone(session_factory: sessionmaker[Session],
                                          lab: PhoneLab) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.APPROVED)
    card = flow.issue()
    assert card.status == CardStatus.INACTIVE
    assert re.fullmatch(r"622848\*{6}\d{4}", card.masked_pan)
    assert card.credit_limit == 36_000
    with session_factory() as s, pytest.raises(Conflict, match="provisioned"):
        activate_card(s, application_id=flow.application_id, now=NOW)
    assert flow.provision() == 0x9000
    assert flow.device is not None
    on_phone = wallet.card_summary(flow.device)
    assert on_phone["personalized"] is True
    assert on_phone["pan_last4"] == card.masked_pan[-4:]
    assert on_phone["dpan_last4"] == card.masked_dpan[-4:]
    assert on_phone["expiry"] == card.expiry and on_phone["cardholder"] == IDENTITY["full_name"]
    active = flow.activate()
    assert active.status == CardStatus.ACTIVE and active.activated_at == NOW
    with session_factory.begin() as s:
        details = reveal_card_details(s, card_id=card.id, keys=lab.keys, actor="applicant",
                                      now=NOW)
        assert details.pan != on_phone["dpan_last4"] and is_luhn_valid(details.pan)
        assert details.cvv2 == compute_cvv(cvk_a=lab.keys.cvk_a, cvk_b=lab.keys.cvk_b,
                                           pan=details.pan, expiry=card.expiry,
                                           service_code="000")
        assert details.pan not in repr(details)
        assert find_card_by_pan(s, pan=details.pan, keys=lab.keys).id == card.id
    with session_factory.begin() as s:
        freeze_card(s, card_id=card.id, actor="staff:carol", reason="lost phone", now=NOW)
    with session_factory.begin() as s, pytest.raises(IllegalTransition):
        freeze_card(s, card_id=card.id, actor="staff:carol", reason="again", now=NOW)
    with session_factory.begin() as s:
        unfreeze_card(s, card_id=card.id, actor="applicant", reason="found it", now=NOW)
    with session_factory.begin() as s:
        close_card(s, card_id=card.id, actor="applicant", reason="no longer needed", now=NOW)
    for move in (freeze_card, unfreeze_card, close_card):
        with session_factory.begin() as s, pytest.raises(IllegalTransition):
            move(s, card_id=card.id, actor="applicant", reason="x", now=NOW)
    with session_factory.begin() as s:
        with pytest.raises(Conflict):
            reveal_card_details(s, card_id=card.id, keys=lab.keys, actor="applicant", now=NOW)
        history = card_history(s, card_id=card.id)
    assert [(h[1], h[2], h[3]) for h in history] == [
        (None, "inactive", "system"), ("inactive", "active", "applicant"),
        ("active", "frozen", "staff:carol"), ("frozen", "active", "applicant"),
        ("active", "closed", "applicant")]
    wallet.verify_pin(flow.device, pin=PIN)


def test_lifecycle_change_needs_a_reason(session_factory: sessionmaker[Session],
                                         lab: PhoneLab) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.ISSUED)
    with session_factory() as s:
        card_id = s.scalar(select(Card.id).where(Card.application_id == flow.application_id))
    assert card_id is not None
    with session_factory.begin() as s, pytest.raises(IssuerError):
        close_card(s, card_id=card_id, actor="applicant", reason="  ", now=NOW)


def test_retry_with_the_same_key_returns_the_same_card(session_factory: sessionmaker[Session],
                                                       lab: PhoneLab) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.APPROVED)
    first = flow.issue("key-A")
    assert flow.issue("key-A") == first
    with pytest.raises(Conflict, match="already issued"):
        flow.issue("key-B")
    other = Flow(session_factory, lab).to(ApplicationState.APPROVED)
    with pytest.raises(Conflict, match="another application"):
        other.issue("key-A")


def test_card_needs_an_approved_application(session_factory: sessionmaker[Session],
                                            lab: PhoneLab) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.AGREEMENT_SIGNED)
    with pytest.raises(Conflict):
        flow.issue()


@pytest.mark.parametrize("same_key", [True, False], ids=["same-key", "different-keys"])
def test_concurrent_issuance_issues_exactly_one_card(
    session_factory: sessionmaker[Session], lab: PhoneLab, same_key: bool
) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.APPROVED)
    keys = ["retry"] * 8 if same_key else [f"client-{i}" for i in range(8)]
    results, errors = issue_concurrently(session_factory, flow, keys)
    with session_factory() as s:
        assert s.scalar(select(func.count(Card.id)).where(
            Card.application_id == flow.application_id)) == 1
    if same_key:
        assert errors == [] and len(results) == 8 and len(set(results)) == 1
    else:
        assert len(results) == 1
        assert len(errors) == 7 and all(isinstance(e, Conflict) for e in errors), errors


_RUNS = re.compile(rb"[0-9]{16,}")


def luhn_valid_runs(data: bytes) -> set[str]:
    """Every Luhn-valid 16-19 digit substring of every digit run in `data`."""
    found: set[str] = set()
    for match in _RUNS.finditer(data):
        run = match.group().decode()
        for length in range(16, 20):
            for start in range(len(run) - length + 1):
                if is_luhn_valid(run[start:start + length]):
                    found.add(run[start:start + length])
    return found


def test_no_card_number_or_id_number_in_plaintext_in_the_sqlite_file(tmp_path: Path,
                                                                      lab: PhoneLab) -> None:
    url = f"sqlite:///{tmp_path / 'scan.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    numbers: list[str] = []
    for i in range(3):
        flow = Flow(factory, lab).to(ApplicationState.APPROVED)
        card = flow.issue(f"scan-{i}")
        flow.provision()
        flow.activate()
        with factory.begin() as s:
            details = reveal_card_details(s, card_id=card.id, keys=lab.keys, actor="test",
                                          now=NOW)
            numbers.append(details.pan)
    engine.dispose()
    assert all(is_luhn_valid(n) for n in numbers)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("scan.db")]
    with sqlite3.connect(tmp_path / "scan.db") as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blob = b"".join(p.read_bytes() for p in files if p.exists())
    assert len(blob) > 50_000
    # Personal data is sealed as well: neither the resident ID nor the mobile number is there.
    assert str(IDENTITY["id_number"]).encode() not in blob
    assert str(IDENTITY["mobile"]).encode() not in blob
    assert luhn_valid_runs(blob) == set()
    for pan in numbers:
        assert pan.encode() not in blob and pan[6:].encode() not in blob
    # the scanner itself finds a plaintext PAN
    assert numbers[0] in luhn_valid_runs(b"xx" + numbers[0].encode() + b"yy")
