"""`cardsim probe`: an attack suite run against a live server's HTTP API (and tee_sim phones).

Each scenario is a small function `(ProbeContext) -> ProbeResult`; detected means the server
refused the attack, and `server_reason` quotes its answer.
"""

from web.probe.result import ProbeAborted, ProbeResult

__all__ = ["ProbeAborted", "ProbeResult"]
