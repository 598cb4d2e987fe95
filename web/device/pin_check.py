"""Checking the cardholder's phone PIN before revealing card details."""

from __future__ import annotations


def verify_cardholder_pin(*, application_id: str, device_id: object, pin: object) -> None:
    """Placeholder until tee_sim.wallet lands."""
    raise NotImplementedError
