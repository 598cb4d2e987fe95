"""Luhn, PAN/DPAN generation, Visa CVV, the PAN vault and the issuer key file."""

from __future__ import annotations

import json
import os
import random
import stat
from pathlib import Path
from typing import TypedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.cvv import compute_cvv
from issuer.errors import IssuerError, KeyFileError
from issuer.keys import IssuerKeys
from issuer.luhn import is_luhn_valid, luhn_check_digit
from issuer.pan import DPAN_BIN, PAN_BIN, new_dpan, new_pan
from issuer.vault import decrypt_number, encrypt_number, lookup_hash, mask_number

pytestmark = pytest.mark.unit

CVK_A = bytes.fromhex("0123456789ABCDEF")
CVK_B = bytes.fromhex("FEDCBA9876543210")


@pytest.mark.parametrize("number", ["79927398713", "4111111111111111", "6228480402564890018",
                                    "5555555555554444", "378282246310005"])
def test_known_luhn_valid_numbers(number: str) -> None:
    assert is_luhn_valid(number)


@pytest.mark.parametrize("number", ["79927398710", "4111111111111112", "", "1", "41111a1111111111"])
def test_known_luhn_invalid_numbers(number: str) -> None:
    assert not is_luhn_valid(number)


@given(st.text(alphabet="0123456789", min_size=12, max_size=18), st.data())
def test_luhn_detects_every_single_digit_error(partial: str, data: st.DataObject) -> None:
    number = partial + luhn_check_digit(partial)
    assert is_luhn_valid(number)
    index = data.draw(st.integers(0, len(number) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[index]]))
    assert not is_luhn_valid(number[:index] + replacement + number[index + 1:])


def test_pan_and_dpan_ranges() -> None:
    pans = {new_pan() for _ in range(200)}
    dpans = {new_dpan() for _ in range(200)}
    assert len(pans) == 200 and len(dpans) == 200
    for pan in pans:
        assert len(pan) == 16 and pan.startswith(PAN_BIN) and is_luhn_valid(pan)
    for dpan in dpans:
        assert len(dpan) == 16 and dpan.startswith(DPAN_BIN) and is_luhn_valid(dpan)
    assert PAN_BIN.startswith("62") and DPAN_BIN.startswith("62") and PAN_BIN != DPAN_BIN


def test_pan_digits_come_from_the_injected_rng() -> None:
    seeded = random.Random(7)
    first = new_pan(rng=seeded.randbytes)
    assert new_pan(rng=random.Random(7).randbytes) == first


def test_cvv_reference_vector() -> None:
    assert compute_cvv(cvk_a=CVK_A, cvk_b=CVK_B, pan="4123456789012345", expiry="8701",
                       service_code="101") == "561"


class CvvInputs(TypedDict):
    """Every keyword argument of `compute_cvv` but `digits`."""

    cvk_a: bytes
    cvk_b: bytes
    pan: str
    expiry: str
    service_code: str


def test_cvv_depends_on_every_input() -> None:
    base = CvvInputs(cvk_a=CVK_A, cvk_b=CVK_B, pan="4123456789012345", expiry="8701",
                     service_code="101")
    reference = compute_cvv(**base)
    variants: list[CvvInputs] = [{**base, "pan": "4123456789012346"}, {**base, "expiry": "8702"},
                                 {**base, "service_code": "000"},
                                 {**base, "cvk_b": bytes.fromhex("FEDCBA9876543211")}]
    changed = [compute_cvv(**v) for v in variants]
    assert sum(c != reference for c in changed) >= 3  # 3 digits: a collision is possible


@given(st.text(alphabet="0123456789", min_size=12, max_size=19),
       st.text(alphabet="0123456789", min_size=4, max_size=4))
def test_cvv_is_three_decimal_digits(pan: str, expiry: str) -> None:
    cvv = compute_cvv(cvk_a=CVK_A, cvk_b=CVK_B, pan=pan, expiry=expiry, service_code="000")
    assert len(cvv) == 3 and cvv.isdigit()


@pytest.mark.parametrize("bad", [{"pan": "12ab"}, {"expiry": "871"}, {"service_code": "1"},
                                 {"cvk_a": b"short"}])
def test_cvv_rejects_bad_input(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"cvk_a": CVK_A, "cvk_b": CVK_B, "pan": "4123456789012345",
                               "expiry": "8701", "service_code": "101", **bad}
    with pytest.raises(ValueError):
        compute_cvv(**args)  # type: ignore[arg-type]


def test_vault_round_trip_and_authentication() -> None:
    keys, other = IssuerKeys.generate(), IssuerKeys.generate()
    pan = new_pan()
    sealed = encrypt_number(kek=keys.kek, number=pan)
    assert pan.encode() not in sealed
    assert decrypt_number(kek=keys.kek, ciphertext=sealed) == pan
    assert encrypt_number(kek=keys.kek, number=pan) != sealed  # fresh nonce each time
    with pytest.raises(IssuerError):
        decrypt_number(kek=other.kek, ciphertext=sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(IssuerError):
        decrypt_number(kek=keys.kek, ciphertext=tampered)
    assert lookup_hash(hmac_key=keys.pan_hmac_key, number=pan) == lookup_hash(
        hmac_key=keys.pan_hmac_key, number=pan)
    assert lookup_hash(hmac_key=other.pan_hmac_key, number=pan) != lookup_hash(
        hmac_key=keys.pan_hmac_key, number=pan)
    assert mask_number("6228481234567890") == "622848******7890"


def test_key_file_is_created_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "issuer-keys.json"
    created = IssuerKeys.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert IssuerKeys.load_or_create(path) == created
    assert "secret" in repr(created) and created.kek.hex() not in repr(created)
    assert set(json.loads(path.read_text())) == {"version", "kek", "pan_hmac_key", "cvk_a",
                                                 "cvk_b", "signing_seed"}


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    IssuerKeys.load_or_create(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        IssuerKeys.load_or_create(path)


@pytest.mark.parametrize("content", ["not json", "[]", '{"version": 1}', '{"version": 2}',
                                     '{"version": 1, "kek": "!!", "pan_hmac_key": "", '
                                     '"cvk_a": "00", "cvk_b": "00", "signing_seed": ""}'])
def test_malformed_key_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content.encode())
    os.close(fd)
    with pytest.raises(KeyFileError):
        IssuerKeys.load_or_create(path)


def test_keys_serialise_round_trip() -> None:
    keys = IssuerKeys.generate()
    assert IssuerKeys.from_json(keys.to_json()) == keys
    assert len(bytes(keys.verify_key)) == 32
