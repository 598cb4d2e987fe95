"""Validation of typed TA command parameters; every failure is a precise BadParameters."""

from __future__ import annotations

from collections.abc import Mapping

from tee_sim.errors import BadParameters


def check_names(params: Mapping[str, object], allowed: set[str]) -> None:
    """Refuse parameters the command does not define."""
    if not isinstance(params, Mapping):
        raise BadParameters("params must be a mapping of names to values")
    unknown = sorted(str(k) for k in params if k not in allowed)
    if unknown:
        raise BadParameters(f"unknown parameter(s): {', '.join(unknown)}")


def get_bytes(
    params: Mapping[str, object], name: str, *, min_len: int = 0, max_len: int = 1 << 16
) -> bytes:
    """A required bytes parameter with a length range."""
    value = params.get(name)
    if value is None:
        raise BadParameters(f"missing parameter '{name}' (bytes)")
    if not isinstance(value, bytes | bytearray):
        raise BadParameters(f"parameter '{name}' must be bytes, not {type(value).__name__}")
    if not min_len <= len(value) <= max_len:
        raise BadParameters(f"parameter '{name}' must be {min_len}..{max_len} bytes long")
    return bytes(value)


def get_str(params: Mapping[str, object], name: str, *, min_len: int = 1, max_len: int = 64) -> str:
    """A required printable str parameter with a length range (in characters)."""
    value = params.get(name)
    if value is None:
        raise BadParameters(f"missing parameter '{name}' (str)")
    if not isinstance(value, str):
        raise BadParameters(f"parameter '{name}' must be str, not {type(value).__name__}")
    if not min_len <= len(value) <= max_len:
        raise BadParameters(f"parameter '{name}' must be {min_len}..{max_len} characters")
    return value


def get_alias(params: Mapping[str, object], name: str = "alias") -> str:
    """A key alias: 1..64 characters of [A-Za-z0-9._-]."""
    value = get_str(params, name, max_len=64)
    if not all(c.isascii() and (c.isalnum() or c in "._-") for c in value):
        raise BadParameters(f"parameter '{name}' may only contain letters, digits, '.', '_', '-'")
    return value


def get_bool(params: Mapping[str, object], name: str, *, default: bool = False) -> bool:
    """An optional bool parameter."""
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise BadParameters(f"parameter '{name}' must be a bool, not {type(value).__name__}")
    return value


def get_choice(params: Mapping[str, object], name: str, choices: tuple[str, ...]) -> str:
    """A required str parameter from a fixed set."""
    value = params.get(name)
    if value not in choices:
        raise BadParameters(f"parameter '{name}' must be one of {', '.join(choices)}")
    assert isinstance(value, str)
    return value
