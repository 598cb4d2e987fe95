"""Attacks on the API's step order and on other applicants' applications."""

from __future__ import annotations

from collections.abc import Callable

from web.probe.api import API, b64, fresh_identity
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


def malformed_characters_and_ids(ctx: ProbeContext) -> ProbeResult:
    """A NUL character in a JSON field and in a URL, and an id past the database's integer
    range: each must be a 4xx (a database that cannot store or compare them must never see
    them), and the application must not move."""
    name = "api: NUL characters and out-of-range ids"
    applicant = ctx.server.new_applicant()
    tries = [
        ("NUL in a JSON field", applicant.post("/identity", {**fresh_identity(),
                                                             "employer": "Acme\x00Ltd"})),
        ("NUL in the URL", ctx.server.call("GET", f"{API}/applications/x%00y",
                                           headers={"Authorization": "Bearer x"})),
        ("id past 2**63 - 1", ctx.server.call("GET", f"/staff/keyframes/{2**63}",
                                              headers={"Accept": "application/json"})),
    ]
    for what, reply in tries:
        verdict = refused(name, reply, statuses={400, 401, 403, 404})
        if not verdict.detected:
            return ProbeResult(name, False, f"{what}: {verdict.server_reason}")
    state = applicant.state()
    if state != "started":
        return ProbeResult(name, False, f"every request was refused but the application "
                                        f"moved to {state}")
    return ProbeResult(name, True, "; ".join(f"{what}: HTTP {reply.status} {reply.error_code}"
                                             for what, reply in tries))


SCENARIOS: tuple[Callable[[ProbeContext], ProbeResult], ...] = (
    steps_out_of_order, other_applicants_application, malformed_characters_and_ids,
)
