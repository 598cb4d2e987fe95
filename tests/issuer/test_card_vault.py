"""The PAN vault binds each sealed card field to its row and column: a ciphertext moved from one
card to another (or from the DPAN column to the PAN column) is refused, never opened as the
other card's number; the card01 migration re-seals cards stored in the old, unbound form."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from issuer.cards import reveal_card_details
from issuer.db import alembic_config, make_engine, make_session_factory, upgrade_database
from issuer.errors import IssuerError, KeyFileError
from issuer.keys import IssuerKeys
from issuer.models import Card
from issuer.states import ApplicationState
from issuer.vault import decrypt_number, lookup_hash, open_card_field, seal_card_field
from tests.issuer.flow import NOW, Flow, PhoneLab

pytestmark = pytest.mark.integration


def _card(factory: sessionmaker[Session], application_id: str) -> Card:
    with factory() as s:
        card = s.scalars(select(Card).where(Card.application_id == application_id)).one()
        s.expunge(card)
    return card


def _two_issued_cards(factory: sessionmaker[Session], lab: PhoneLab) -> tuple[Flow, Card, Card]:
    victim = Flow(factory, lab).to(ApplicationState.APPROVED)
    victim.issue("vault-victim")
    other = Flow(factory, lab).to(ApplicationState.APPROVED)
    other.issue("vault-other")
    return victim, _card(factory, victim.application_id), _card(factory, other.application_id)


def test_pan_ciphertext_copied_from_another_card_is_refused(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    victim, mine, theirs = _two_issued_cards(session_factory, lab)
    with session_factory.begin() as s:
        s.execute(update(Card).where(Card.id == mine.id)
                  .values(pan_ciphertext=theirs.pan_ciphertext))
    # Before, the reveal opened the other card's PAN and computed a CVV2 for it; provisioning
    # would have personalised this phone with the other cardholder's number.
    with session_factory.begin() as s, pytest.raises(IssuerError) as caught:
        reveal_card_details(s, card_id=mine.id, keys=lab.keys, actor="applicant", now=NOW)
    assert "stored PAN of this card failed authentication" in caught.value.message
    with pytest.raises(IssuerError, match="stored PAN of this card failed authentication"):
        victim.provision()
    with session_factory.begin() as s:  # the other card is untouched
        shown = reveal_card_details(s, card_id=theirs.id, keys=lab.keys, actor="applicant",
                                    now=NOW)
    assert lookup_hash(hmac_key=lab.keys.pan_hmac_key, number=shown.pan) == theirs.pan_hash


def test_dpan_or_card_key_moved_into_the_pan_column_is_refused(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    victim, mine, _ = _two_issued_cards(session_factory, lab)
    for moved in (mine.dpan_ciphertext, mine.card_key_ciphertext):
        with session_factory.begin() as s:
            s.execute(update(Card).where(Card.id == mine.id).values(pan_ciphertext=moved))
        with session_factory.begin() as s, pytest.raises(IssuerError, match="stored PAN"):
            reveal_card_details(s, card_id=mine.id, keys=lab.keys, actor="applicant", now=NOW)
    with session_factory.begin() as s:
        s.execute(update(Card).where(Card.id == mine.id).values(
            pan_ciphertext=mine.pan_ciphertext, dpan_ciphertext=mine.card_key_ciphertext))
    with pytest.raises(IssuerError, match="stored DPAN of this card failed authentication"):
        victim.provision()


@pytest.mark.unit
def test_sealed_card_field_nonces_are_fresh_and_truncation_is_refused() -> None:
    kek = IssuerKeys.generate().kek
    sealed = {seal_card_field(kek=kek, application_id="a", field="pan",
                              value="6228480000000003") for _ in range(50)}
    assert len(sealed) == 50 and len({s[:24] for s in sealed}) == 50
    one = next(iter(sealed))
    assert open_card_field(kek=kek, application_id="a", field="pan",
                           ciphertext=one) == "6228480000000003"
    for broken in (b"", one[:10], one[:-1], one[:-1] + bytes([one[-1] ^ 1])):
        with pytest.raises(IssuerError, match="failed authentication"):
            open_card_field(kek=kek, application_id="a", field="pan", ciphertext=broken)
    with pytest.raises(IssuerError, match="wrong issuer key file"):
        open_card_field(kek=IssuerKeys.generate().kek, application_id="a", field="pan",
                        ciphertext=one)


def test_migration_reseals_cards_of_the_old_form_and_downgrade_restores_it(
    sqlite_url: str, lab: PhoneLab,
) -> None:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        factory = make_session_factory(engine)
        flow = Flow(factory, lab).to(ApplicationState.ISSUED)
        before = _card(factory, flow.application_id)
        pan = open_card_field(kek=lab.keys.kek, application_id=before.application_id,
                              field="pan", ciphertext=before.pan_ciphertext)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection, keys=lab.keys), "idem01")
        old = _card(factory, flow.application_id)
        assert decrypt_number(kek=lab.keys.kek, ciphertext=old.pan_ciphertext) == pan
        with pytest.raises(KeyFileError, match="1 card"):
            upgrade_database(sqlite_url)  # without the keys: stops, changes nothing
        assert _card(factory, flow.application_id).pan_ciphertext == old.pan_ciphertext
        upgrade_database(sqlite_url, keys=lab.keys)
        with factory.begin() as s:
            shown = reveal_card_details(s, card_id=old.id, keys=lab.keys, actor="applicant",
                                        now=NOW)
        assert shown.pan == pan
        assert flow.provision() == 0x9000  # DPAN and card key re-sealed as well
    finally:
        engine.dispose()
