"""Card numbers: UnionPay-style PANs (BIN 622848) and device tokens (DPAN, BIN 629999)."""

from __future__ import annotations

from issuer.clock import RandomBytes, system_random
from issuer.luhn import luhn_check_digit

PAN_BIN = "622848"
DPAN_BIN = "629999"
CARD_NUMBER_LENGTH = 16


def random_card_number(*, bin_prefix: str, rng: RandomBytes = system_random,
                       length: int = CARD_NUMBER_LENGTH) -> str:
    """BIN + account digits from the CSPRNG + Luhn check digit."""
    account_digits = length - len(bin_prefix) - 1
    if account_digits < 1:
        raise ValueError("BIN too long for the card number length")
    # 16 random bytes modulo 10^k (k <= 12): the bias is below 2^-80.
    account = int.from_bytes(rng(16), "big") % 10**account_digits
    partial = bin_prefix + str(account).zfill(account_digits)
    return partial + luhn_check_digit(partial)


def new_pan(*, rng: RandomBytes = system_random) -> str:
    """A fresh 16-digit PAN in the issuer's BIN."""
    return random_card_number(bin_prefix=PAN_BIN, rng=rng)


def new_dpan(*, rng: RandomBytes = system_random) -> str:
    """A fresh 16-digit device token number, in a range distinct from PANs."""
    return random_card_number(bin_prefix=DPAN_BIN, rng=rng)
