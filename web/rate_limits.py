"""Request rate limits of the public routes (configured by `CARDSIM_RATE_LIMITS`, see
`web.config`): applications started and phones created per client address, liveness frames
per application. Over a limit the client gets 429 with `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app, request

from issuer.address_groups import address_group
from issuer.rate_limits import RateLimit, check_rate
from web.clock import now
from web.database import commit_so_far
from web.stores import rate_counter_store


def client_address() -> str:
    """The client's address as this app sees it (after `CARDSIM_TRUSTED_PROXIES`)."""
    return request.remote_addr or "unknown"


def client_group() -> str:
    """What per-address limits count this request under: the client's IPv4 address or IPv6 /64."""
    return address_group(client_address())


def enforce_rate_limit(name: str, subject: str) -> None:
    """Count this request against limit `name` for `subject`, or raise `RateLimited`.

    Call it before the request's own work: the count is committed at once (or written to
    Redis), so a request that fails afterwards has still been counted.
    """
    limits: Mapping[str, RateLimit | None] = current_app.config["CARDSIM_RATE_LIMITS"]
    limit = limits.get(name)
    if limit is None:
        return
    check_rate(rate_counter_store(), limit=limit, subject=subject, now=now())
    commit_so_far()
