"""Identity form validation: resident ID (GB 11643-1999), mobile, name, income, employer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from issuer.clock import require_aware
from issuer.errors import ValidationFailed
from issuer.plain_text import has_hidden_characters

# The bank and its applicants are in mainland China: a birthday, and so an age, starts at
# midnight Beijing time (UTC+8 all year round, no daylight saving since 1991), not in UTC.
BEIJING_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")
MINIMUM_AGE = 18
# Older than anyone on record: a birth date before this age is a typing error or a forgery.
MAXIMUM_AGE = 120
MAX_ANNUAL_INCOME = 100_000_000  # yuan; anything above is a typo or a test of our limits

# ISO 7064 MOD 11-2 as specified by GB 11643-1999: weight of position i is 2^(17-i) mod 11.
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK_CHARS = "10X98765432"
# Province-level codes (first two digits) of mainland China, Taiwan, Hong Kong and Macau.
_PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})
# Variants of the middle dot between the parts of a minority name (the ID card prints U+00B7),
# and of the apostrophe and hyphen, as keyboards and input methods type them.
_NAME_PUNCTUATION = str.maketrans({
    **dict.fromkeys("•・‧∙⋅", "·"), **dict.fromkeys("’‘ʼ", "'"), **dict.fromkeys("‐‑", "-"),
})
_NAME_MARKS = "·-'"
_NAME_SEPARATORS = re.compile(r"[ ·'-]{2}")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_MOBILE_PREFIX = re.compile(r"^(?:\+86|0086|86(?=1\d{10}$))")


@dataclass(frozen=True)
class ResidentId:
    """A checked resident ID number and the birth date it embeds."""

    number: str
    birth_date: date


@dataclass(frozen=True)
class IdentityData:
    """Validated identity form, normalised."""

    full_name: str
    id_number: str
    birth_date: date
    age: int
    mobile: str
    annual_income: int
    employer: str


def id_check_character(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def halfwidth(text: str) -> str:
    """Full-width ASCII forms (what a Chinese input method types in full-width mode: "１３８",
    "Ｘ", "，") and the ideographic space, as their ASCII selves."""
    return "".join(" " if c == "\u3000" else chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e"
                   else c for c in text)


def parse_resident_id(raw: str) -> ResidentId:
    """Check format, province, birth date and check character; raise `ValueError` with why.

    Full-width characters, a lower-case x and spaces between groups ("110105 19491231 002x")
    are accepted and normalised away.
    """
    number = "".join(halfwidth(raw).split()).upper()
    if len(number) != 18:
        raise ValueError("must be 18 characters")
    if not (number[:17].isascii() and number[:17].isdigit()):
        raise ValueError("the first 17 characters must be digits")
    if not (number[17].isdigit() or number[17] == "X"):
        raise ValueError("the last character must be a digit or X")
    if number[:2] not in _PROVINCE_CODES:
        raise ValueError("the region code does not exist")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("the embedded birth date is not a real date") from None
    if birth.year < 1900:
        raise ValueError("the embedded birth date is before 1900")
    expected = id_check_character(number[:17])
    if number[17] != expected:
        raise ValueError("the check character is wrong (typo?)")
    return ResidentId(number=number, birth_date=birth)


def beijing_date(now: datetime) -> date:
    """The calendar date in Beijing at the moment `now` (timezone-aware)."""
    return require_aware(now).astimezone(BEIJING_TIME).date()


def age_on(birth: date, today: date) -> int:
    """Completed years between `birth` and `today`."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def normalise_mobile(raw: str) -> str:
    """A mainland mobile number as 11 digits; spaces, dashes and +86 are accepted and removed,
    full-width digits read as digits."""
    compact = re.sub(r"[\s-]", "", halfwidth(raw))
    compact = _MOBILE_PREFIX.sub("", compact)
    if not _MOBILE.fullmatch(compact):
        raise ValueError("must be a mainland mobile number: 11 digits starting with 13-19")
    return compact


def normalise_name(raw: str) -> str:
    """A person's name: letters (any script), spaces and the middle dot of minority names.

    Typed variants give one stored name: full-width letters (NFKC), any of the dots input
    methods offer for the middle dot, spaces around it.
    """
    text = unicodedata.normalize("NFKC", raw).translate(_NAME_PUNCTUATION)
    name = re.sub(r" ?· ?", "·", " ".join(text.split()))
    if not 2 <= len(name) <= 50:
        raise ValueError("must be 2 to 50 characters")
    for char in name:
        if char == " " or char in _NAME_MARKS or unicodedata.category(char).startswith(("L", "M")):
            continue
        raise ValueError(f"contains a character not allowed in a name: {char!r}")
    if (not unicodedata.category(name[0]).startswith("L")
            or not unicodedata.category(name[-1]).startswith(("L", "M"))
            or _NAME_SEPARATORS.search(name)):
        raise ValueError("must start and end with a letter, with one mark (·, -, ') or space "
                         "between parts")
    return name


def parse_income(raw: int | str) -> int:
    """Declared annual income in whole yuan: digits, full-width ones too, commas only between
    groups of three ("120,000"; "1,2,0" is a typo, not CNY 120)."""
    if isinstance(raw, str):
        text = halfwidth(raw).strip()
        if "," in text:
            if not _THOUSANDS.fullmatch(text):
                raise ValueError("must group thousands with commas, as in 120,000")
            text = text.replace(",", "")
        if not (text.isascii() and text.isdigit()):
            raise ValueError("must be a whole number of yuan, digits only")
        raw = int(text)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError("must be a whole number of yuan")
    if raw < 0 or raw > MAX_ANNUAL_INCOME:
        raise ValueError(f"must be between 0 and {MAX_ANNUAL_INCOME} yuan")
    return raw


def normalise_employer(raw: str) -> str:
    """Employer name, 2 to 100 printable characters."""
    employer = " ".join(raw.split())
    if not 2 <= len(employer) <= 100:
        raise ValueError("must be 2 to 100 characters")
    if has_hidden_characters(employer):
        raise ValueError("contains control characters")
    return employer


def validate_identity(
    *, full_name: str, id_number: str, mobile: str, annual_income: int | str, employer: str,
    today: date,
) -> IdentityData:
    """Validate every field, reporting all problems at once as `ValidationFailed`."""
    errors: dict[str, str] = {}
    name = number = phone = company = ""
    income = 0
    resident: ResidentId | None = None
    try:
        name = normalise_name(full_name)
    except ValueError as exc:
        errors["full_name"] = f"Name {exc}."
    try:
        resident = parse_resident_id(id_number)
        number = resident.number
    except ValueError as exc:
        errors["id_number"] = f"Resident ID number: {exc}."
    if resident is not None and resident.birth_date > today:
        errors["id_number"] = "Resident ID number: the embedded birth date is in the future."
    elif resident is not None and age_on(resident.birth_date, today) < MINIMUM_AGE:
        errors["id_number"] = f"Applicants must be at least {MINIMUM_AGE} years old."
    elif resident is not None and age_on(resident.birth_date, today) > MAXIMUM_AGE:
        errors["id_number"] = ("Resident ID number: the embedded birth date is not plausible "
                               f"(over {MAXIMUM_AGE} years ago).")
    try:
        phone = normalise_mobile(mobile)
    except ValueError as exc:
        errors["mobile"] = f"Mobile number {exc}."
    try:
        income = parse_income(annual_income)
    except ValueError as exc:
        errors["annual_income"] = f"Annual income {exc}."
    try:
        company = normalise_employer(employer)
    except ValueError as exc:
        errors["employer"] = f"Employer {exc}."
    if errors or resident is None:
        raise ValidationFailed(errors)
    return IdentityData(
        full_name=name, id_number=number, birth_date=resident.birth_date,
        age=age_on(resident.birth_date, today), mobile=phone, annual_income=income,
        employer=company,
    )


def mask_id_number(id_number: str) -> str:
    """Only the last four characters visible.

    The usual "first six, last four" mask would hide just the birth date, which the issuer
    keeps (and staff see) in clear for the age rules: the two together are the whole number.
    """
    if len(id_number) <= 4:
        return "*" * len(id_number)
    return "*" * (len(id_number) - 4) + id_number[-4:]


def mask_mobile(mobile: str) -> str:
    """First three and last four digits visible."""
    if len(mobile) <= 7:
        return "*" * len(mobile)
    return mobile[:3] + "*" * (len(mobile) - 7) + mobile[-4:]
