"""Luhn (ISO/IEC 7812-1) check digits for card numbers."""

from __future__ import annotations


def _require_digits(number: str) -> None:
    if not number or not number.isascii() or not number.isdigit():
        raise ValueError("a card number must be a non-empty string of ASCII digits")


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial` + digit Luhn-valid."""
    _require_digits(partial)
    total = 0
    # Walking from the right, the digit next to the (future) check digit is doubled.
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_luhn_valid(number: str) -> bool:
    """Whether `number` (digits only, at least two) carries a correct Luhn check digit."""
    if len(number) < 2 or not number.isascii() or not number.isdigit():
        return False
    return luhn_check_digit(number[:-1]) == number[-1]
