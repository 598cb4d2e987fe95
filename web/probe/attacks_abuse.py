"""Abuse of the public API by volume: a flood of new applications from one address."""

from __future__ import annotations

from collections.abc import Callable

from web.probe.api import API
from web.probe.context import ProbeContext
from web.probe.result import ProbeResult

# Twice the largest limit a bank would configure plus one: within this many requests a fixed
# window limit is hit even if the flood straddles a window boundary.
MAX_FLOOD = 1001


def application_flood(ctx: ProbeContext) -> ProbeResult:
    """Start applications from one address until the server refuses (or MAX_FLOOD).

    Run last: once refused, the probe's address cannot start applications until the window
    ends."""
    name = "api: flood of new applications from one address"
    http = ctx.server.session()
    for sent in range(1, MAX_FLOOD + 1):
        reply = ctx.server.call("POST", f"{API}/applications", http=http,
                                json={"consent": True})
        if reply.status == 429:
            retry_after = reply.headers.get("Retry-After", "?")
            return ProbeResult(name, True, f"HTTP 429 {reply.error_code} after {sent - 1} "
                                           f"applications (Retry-After {retry_after} s)")
        if reply.status != 201:
            return ProbeResult(name, False, f"request {sent} answered HTTP {reply.status} "
                                            f"{reply.reason}, not a rate limit")
    return ProbeResult(name, False, f"{MAX_FLOOD} applications started without a refusal")


SCENARIOS: tuple[Callable[[ProbeContext], ProbeResult], ...] = (application_flood,)
