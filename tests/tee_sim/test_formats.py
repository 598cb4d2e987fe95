"""Byte formats of docs/protocol.md: round trips and total parsers (hypothesis)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tee_sim.formats import (
    CardData,
    confirmation_message,
    decode_card_data,
    encode_card_data,
    parse_confirmation_message,
)
from tests.tee_sim.issuer_side import card_inner

pytestmark = pytest.mark.unit

digits = st.text("0123456789", min_size=12, max_size=19)


@given(prompt=st.text(min_size=1, max_size=300), nonce=st.binary(min_size=8, max_size=64))
def test_confirmation_message_round_trip(prompt: str, nonce: bytes) -> None:
    try:
        message = confirmation_message(prompt=prompt, nonce=nonce)
    except (ValueError, UnicodeEncodeError):
        return  # lone surrogates cannot be UTF-8; the TA refuses them earlier
    assert parse_confirmation_message(message) == (prompt, nonce)


@settings(max_examples=300)
@given(data=st.binary(max_size=200))
def test_confirmation_parser_is_total(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        parse_confirmation_message(b"cardsim-confirmation-v1\x00" + data)


@given(
    challenge=st.binary(min_size=16, max_size=16),
    pan=digits,
    dpan=digits,
    yy=st.integers(0, 99),
    mm=st.integers(1, 12),
    name=st.text(st.characters(codec="utf-8", categories=("L", "Zs")), min_size=1, max_size=15),
    key=st.binary(min_size=32, max_size=32),
    ref=st.none() | st.text("abcdef0123456789-", min_size=1, max_size=64),
)
def test_card_data_round_trip_matches_the_independent_encoder(
    challenge: bytes, pan: str, dpan: str, yy: int, mm: int, name: str, key: bytes, ref: str | None
) -> None:
    card = CardData(challenge, pan, dpan, f"{yy:02d}{mm:02d}", name, key, ref)
    inner = encode_card_data(card)
    assert inner == card_inner(
        challenge=challenge,
        pan=pan,
        dpan=dpan,
        expiry=card.expiry,
        cardholder=name,
        card_key=key,
        card_ref=ref,
    )
    assert decode_card_data(inner) == card


@settings(max_examples=300)
@given(data=st.binary(max_size=300))
def test_card_data_parser_is_total(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        decode_card_data(data)


@pytest.mark.parametrize(
    "mutation",
    [
        lambda b: b[:-1],  # truncated
        lambda b: b + b"\x08\x00\x00",  # unknown tag
        lambda b: b[b.index(b"\x02\x00") :],  # challenge missing
        lambda b: b.replace(b"3011", b"3013"),  # month 13
    ],
)
def test_card_data_deviations_are_refused(mutation: object) -> None:
    inner = card_inner(challenge=bytes(16))
    with pytest.raises(ValueError):
        decode_card_data(mutation(inner))  # type: ignore[operator]
