"""Turning the server's answer to an attack into a ProbeResult."""

from __future__ import annotations

from collections.abc import Collection

from web.probe.api import Applicant, Reply
from web.probe.result import ProbeResult


def refused(name: str, reply: Reply, *, statuses: Collection[int],
            applicant: Applicant | None = None, must_not_reach: Collection[str] = ()
            ) -> ProbeResult:
    """Detected when the server answered one of `statuses` and, if given, the application did
    not move into any state of `must_not_reach`."""
    if reply.status not in statuses:
        verdict = "accepted" if reply.ok else "answered unexpectedly"
        return ProbeResult(name, False, f"server {verdict}: {reply.reason}")
    if applicant is not None and must_not_reach:
        state = applicant.state()
        if state in must_not_reach:
            return ProbeResult(name, False, f"refused ({reply.reason}) but the application "
                                            f"moved to {state}")
    return ProbeResult(name, True, reply.reason)
