"""Attacks on the API's step order and on other applicants' applications."""

from __future__ import annotations

from collections.abc import Callable

from web.probe.api import b64
from web.probe.context import ProbeContext
from web.probe.result import ProbeResult
from web.probe.verdict import refused

# Steps an application that only has an identity must not be able to take.
SKIPPED_STEPS = (
    ("GET", "/interview", None),
    ("POST", "/device-binding/challenge", None),
    ("GET", "/agreement", None),
    ("POST", "/decision", None),
    ("POST", "/card", None),
    ("POST", "/card/provisioning", None),
    ("POST", "/card/activate", None),
)


def steps_out_of_order(ctx: ProbeContext) -> ProbeResult:
    """Every later step requested right after the identity form (liveness skipped)."""
    applicant = ctx.applicant_with_identity()
    reasons = []
    for method, sub, body in SKIPPED_STEPS:
        headers = {"Idempotency-Key": "probe-skip"} if sub == "/card" else None
        reply = (applicant.get(sub) if method == "GET"
                 else applicant.post(sub, body, headers))
        verdict = refused("api: steps skipped out of order", reply, statuses={404, 409})
        if not verdict.detected:
            return ProbeResult(verdict.name, False, f"{method} {sub}: {verdict.server_reason}")
        reasons.append(f"{sub} {reply.status}")
    state = applicant.state()
    if state != "identity_submitted":
        return ProbeResult("api: steps skipped out of order", False,
                           f"every step was refused but the application moved to {state}")
    return ProbeResult("api: steps skipped out of order", True,
                       f"{len(reasons)} skipped steps refused ({', '.join(reasons)})")


def other_applicants_application(ctx: ProbeContext) -> ProbeResult:
    """Applicant A's token used on applicant B's application (IDOR)."""
    victim = ctx.server.new_applicant()
    attacker = ctx.applicant_with_identity()
    intruder = type(victim)(ctx.server, victim.application_id, attacker.token)
    tries = [
        ("read", intruder.get()),
        ("identity", intruder.post("/identity", {**attacker.identity, "full_name": "Mallory"})),
        ("liveness", intruder.post("/liveness/sessions")),
        ("binding", intruder.post("/device-binding", {"challenge": b64(b"x" * 32),
                                                      "chains": {}})),
    ]
    for step, reply in tries:
        verdict = refused("api: acting on another applicant's application (IDOR)", reply,
                          statuses={401, 403, 404})
        if not verdict.detected:
            return ProbeResult(verdict.name, False, f"{step}: {verdict.server_reason}")
    if victim.state() != "started":
        return ProbeResult("api: acting on another applicant's application (IDOR)", False,
                           f"refused, but the victim's application is {victim.state()}")
    return ProbeResult("api: acting on another applicant's application (IDOR)", True,
                       tries[0][1].reason)


SCENARIOS: tuple[Callable[[ProbeContext], ProbeResult], ...] = (
    steps_out_of_order, other_applicants_application,
)
