"""Identity form checks: GB 11643-1999 resident ID, mobile, name, income, employer."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime
from typing import TypedDict, Unpack, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.errors import ValidationFailed
from issuer.identity import (
    IdentityData,
    beijing_date,
    id_check_character,
    parse_income,
    parse_resident_id,
    validate_identity,
)

pytestmark = pytest.mark.unit

TODAY = date(2025, 6, 15)
# Published example of GB 11643-1999 (check character computed by hand in the standard's annex).
PUBLISHED_ID = "11010519491231002X"


def make_id(region: str, birth: str, sequence: str) -> str:
    first17 = region + birth + sequence
    return first17 + id_check_character(first17)


class IdentityArgs(TypedDict, total=False):
    """Keyword arguments of `validate_identity`."""

    full_name: str
    id_number: str
    mobile: str
    annual_income: int | str
    employer: str
    today: date


def form(**overrides: Unpack[IdentityArgs]) -> IdentityArgs:
    values: IdentityArgs = {
        "full_name": "王小明", "id_number": make_id("110105", "19900307", "123"),
        "mobile": "13812345678", "annual_income": "120,000", "employer": "Acme Co., Ltd.",
        "today": TODAY,
    }
    values.update(overrides)
    return values


def validate(**overrides: Unpack[IdentityArgs]) -> IdentityData:
    """`validate_identity` on the standard form with `overrides`."""
    args = form(**overrides)
    return validate_identity(full_name=args["full_name"], id_number=args["id_number"],
                             mobile=args["mobile"], annual_income=args["annual_income"],
                             employer=args["employer"], today=args["today"])


def field_errors(**overrides: Unpack[IdentityArgs]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(**overrides)
    return caught.value.field_errors


def test_published_example_is_valid() -> None:
    parsed = parse_resident_id(PUBLISHED_ID)
    assert parsed.birth_date == date(1949, 12, 31)
    assert id_check_character(PUBLISHED_ID[:17]) == "X"


def test_lower_case_x_is_accepted_and_normalised() -> None:
    assert parse_resident_id(PUBLISHED_ID.lower()).number == PUBLISHED_ID
    data = validate(id_number=PUBLISHED_ID.lower())
    assert data.id_number == PUBLISHED_ID


def test_valid_form_is_normalised() -> None:
    data = validate(mobile="+86 138-1234-5678")
    assert data.mobile == "13812345678"
    assert data.annual_income == 120_000
    assert data.birth_date == date(1990, 3, 7)
    assert data.age == 35


@pytest.mark.parametrize("wrong", ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X"])
def test_wrong_check_character(wrong: str) -> None:
    good = make_id("110105", "19900307", "123")
    if wrong == good[-1]:
        return
    assert "check character" in field_errors(id_number=good[:-1] + wrong)["id_number"]


@pytest.mark.parametrize("birth", ["19900230", "19901301", "19900000", "18991231"])
def test_bad_embedded_birth_date(birth: str) -> None:
    message = field_errors(id_number=make_id("110105", birth, "123"))["id_number"]
    assert "birth date" in message


def test_birth_date_in_the_future() -> None:
    assert "future" in field_errors(id_number=make_id("110105", "20300101", "123"))["id_number"]


def test_implausibly_old_birth_date_is_refused() -> None:
    assert "not plausible" in field_errors(id_number=make_id("110105", "19000101", "123"))[
        "id_number"]
    assert validate(id_number=make_id("110105", "19040616", "123")).age == 120  # the oldest
    assert "plausible" in field_errors(id_number=make_id("110105", "19040615", "123"))[
        "id_number"]


def test_under_18_is_refused_and_18th_birthday_is_accepted() -> None:
    assert "18" in field_errors(id_number=make_id("110105", "20070616", "123"))["id_number"]
    data = validate(id_number=make_id("110105", "20070615", "123"))
    assert data.age == 18


@pytest.mark.parametrize(("value", "fragment"), [
    ("1101051990030712", "18 characters"),
    ("11010519900307123Y", "last character"),
    ("1101051990030712A4", "first 17"),
    (make_id("990105", "19900307", "123"), "region"),
])
def test_malformed_id_numbers(value: str, fragment: str) -> None:
    assert fragment in field_errors(id_number=value)["id_number"]


@pytest.mark.parametrize("mobile", ["12812345678", "1381234567", "138123456789", "2381234567x"])
def test_bad_mobile(mobile: str) -> None:
    assert "mainland mobile" in field_errors(mobile=mobile)["mobile"]


def test_every_bad_field_is_reported_at_once() -> None:
    errors = field_errors(full_name="X", id_number="123", mobile="1", annual_income="-5",
                          employer="")
    assert set(errors) == {"full_name", "id_number", "mobile", "annual_income", "employer"}
    assert all(message.endswith(".") for message in errors.values())


@pytest.mark.parametrize("name", ["A1", "Robert'); DROP TABLE--", "王\x00明"])
def test_bad_names(name: str) -> None:
    assert "full_name" in field_errors(full_name=name)


def test_minority_name_with_middle_dot() -> None:
    data = validate(full_name="买买提·艾力")
    assert data.full_name == "买买提·艾力"


@pytest.mark.parametrize("income", ["12.5", "abc", True, 100_000_001, -1])
def test_bad_income(income: int | str) -> None:
    assert "annual_income" in field_errors(annual_income=income)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_computed_check_character_never_fails_on_the_checksum(first17: str) -> None:
    number = first17 + id_check_character(first17)
    try:
        parse_resident_id(number)
    except ValueError as exc:
        assert "check character" not in str(exc)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8), st.sampled_from("0123456789X"))
def test_any_other_check_character_is_rejected(sequence: str, check: str) -> None:
    first17 = "110105" + "1990" + "0307" + sequence[:3]
    if check == id_check_character(first17):
        return
    with pytest.raises(ValueError, match="check character"):
        parse_resident_id(first17 + check)


@given(st.text(max_size=40))
def test_arbitrary_input_only_raises_value_error(raw: str) -> None:
    with contextlib.suppress(ValueError):
        parse_resident_id(raw)


def test_the_date_for_ages_is_beijing_time_from_sixteen_hundred_utc() -> None:
    assert beijing_date(datetime(2025, 6, 15, 15, 59, 59, tzinfo=UTC)) == date(2025, 6, 15)
    assert beijing_date(datetime(2025, 6, 15, 16, 0, tzinfo=UTC)) == date(2025, 6, 16)


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(("field", "typed", "stored"), [
    ("id_number", _fullwidth(PUBLISHED_ID), PUBLISHED_ID),
    ("id_number", _fullwidth(PUBLISHED_ID.lower()), PUBLISHED_ID),
    ("id_number", "110105 19491231 002x", PUBLISHED_ID),
    ("id_number", "110105\u300019491231\u3000002X", PUBLISHED_ID),
    ("mobile", _fullwidth("13812345678"), "13812345678"),
    ("mobile", _fullwidth("+86 138-1234-5678"), "13812345678"),
    ("full_name", "ＪＯＨＮ　ＳＭＩＴＨ", "JOHN SMITH"),
    ("full_name", "买买提•艾力", "买买提·艾力"),
    ("full_name", "买买提・艾力", "买买提·艾力"),
    ("full_name", "买买提･艾力", "买买提·艾力"),
    ("full_name", "买买提 · 艾力", "买买提·艾力"),
])
def test_the_same_value_typed_another_way_is_stored_the_same(
        field: str, typed: str, stored: str) -> None:
    data = validate(**cast(IdentityArgs, {field: typed}))
    assert getattr(data, field) == stored


@pytest.mark.parametrize(("typed", "income"), [
    (_fullwidth("120000"), 120_000), ("１２０，０００", 120_000), ("1,200,000", 1_200_000),
    (" 120000 ", 120_000),
])
def test_full_width_and_grouped_incomes_are_read(typed: str, income: int) -> None:
    assert validate(annual_income=typed).annual_income == income


@pytest.mark.parametrize("typed", ["1,2,0", "12,0000", ",120000", "120,000,", "120,,000"])
def test_commas_that_do_not_group_thousands_are_refused(typed: str) -> None:
    assert field_errors(annual_income=typed) == {
        "annual_income": "Annual income must group thousands with commas, as in 120,000."}


@pytest.mark.parametrize("name", ["··", "--", "''", "· ·", "·买买提", "买买提·", "张--伟"])
def test_names_need_letters_between_their_separators(name: str) -> None:
    assert field_errors(full_name=name) == {
        "full_name": "Name must start and end with a letter, with one mark (·, -, ') or "
                     "space between parts."}


@pytest.mark.parametrize("income", [120000.0, 1.5, None])
def test_an_income_that_is_no_whole_number_is_refused_in_the_issuer(income: object) -> None:
    with pytest.raises(ValueError, match="whole number of yuan"):
        parse_income(income)  # type: ignore[arg-type]
