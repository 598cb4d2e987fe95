"""The time the web layer hands to the domain: `app.config["CARDSIM_CLOCK"]` if tests set one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from issuer.clock import require_aware, utc_now


def now() -> datetime:
    """Current time (timezone-aware UTC) from the app's clock."""
    clock: Callable[[], datetime] = current_app.config.get("CARDSIM_CLOCK") or utc_now
    return require_aware(clock())
