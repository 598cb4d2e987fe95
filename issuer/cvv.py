"""Visa CVV algorithm (also used for UnionPay CVN2): computed on demand, never stored."""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

CVV2_SERVICE_CODE = "000"  # CVV2 (printed value) uses service code 000 by scheme convention


def _des_block(key: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    # TripleDES with K1 = K2 = K3 is single DES; one ECB block only.
    cipher = Cipher(TripleDES(key * 3), modes.ECB())  # noqa: S305  (single-block primitive)
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(block) + op.finalize()


def compute_cvv(
    *, cvk_a: bytes, cvk_b: bytes, pan: str, expiry: str, service_code: str, digits: int = 3
) -> str:
    """The card verification value for `pan`, `expiry` (YYMM) and `service_code`.

    Steps: PAN||expiry||service code right-padded with zeros to 32 hex digits; DES-encrypt the
    left half under CVK-A, XOR with the right half, 3DES (A, B, A) the result; decimalise.
    """
    if len(cvk_a) != 8 or len(cvk_b) != 8:
        raise ValueError("CVK-A and CVK-B must be 8-byte single DES keys")
    if not (pan.isascii() and pan.isdigit() and 12 <= len(pan) <= 19):
        raise ValueError("PAN must be 12 to 19 digits")
    if not (expiry.isascii() and expiry.isdigit() and len(expiry) == 4):
        raise ValueError("expiry must be four digits YYMM")
    if not (service_code.isascii() and service_code.isdigit() and len(service_code) == 3):
        raise ValueError("service code must be three digits")
    data = (pan + expiry + service_code).ljust(32, "0")[:32]
    block1, block2 = bytes.fromhex(data[:16]), bytes.fromhex(data[16:])
    step = _des_block(cvk_a, block1)
    step = bytes(x ^ y for x, y in zip(step, block2, strict=True))
    step = _des_block(cvk_a, step)
    step = _des_block(cvk_b, step, decrypt=True)
    step = _des_block(cvk_a, step)
    hex_digits = step.hex().upper()
    decimals = [c for c in hex_digits if c.isdigit()]
    decimals += [str(int(c, 16) - 10) for c in hex_digits if not c.isdigit()]
    return "".join(decimals[:digits])
