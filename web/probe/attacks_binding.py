"""Attacks on device binding: forged, replayed and weak attestation chains."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from web.probe.context import ProbeContext
from web.probe.forge import leaf_as_intermediate, resign_under_own_root, tee_key
from web.probe.phone import attest
from web.probe.result import ProbeResult
from web.probe.verdict import refused

REFUSED = {422}
CONFLICT = {409}
BOUND = {"device_bound"}
WEAK_PROFILES = ("software", "rooted", "unlocked", "outdated", "revoked")


def replayed_attestation(ctx: ProbeContext) -> ProbeResult:
    """Chains a genuine phone attested for another application's challenge."""
    other = ctx.binding_attempt()
    victim = ctx.binding_attempt()
    phone = ctx.phones.make("genuine")
    chains = attest(phone, other.binding_challenge())
    reply = victim.submit_chains(victim.binding_challenge(), chains)
    return refused("binding: attestation replayed from another application", reply,
                   statuses=REFUSED, applicant=victim, must_not_reach=BOUND)


def reused_challenge(ctx: ProbeContext) -> ProbeResult:
    """A challenge already spent on a refused attempt, answered again by a genuine phone."""
    applicant = ctx.binding_attempt()
    challenge = applicant.binding_challenge()
    applicant.submit_chains(challenge, attest(ctx.phones.make("software"), challenge))
    reply = applicant.submit_chains(challenge, attest(ctx.phones.make("genuine"), challenge))
    return refused("binding: challenge reused after a refused attempt", reply,
                   statuses=CONFLICT, applicant=applicant, must_not_reach=BOUND)


def unissued_challenge(ctx: ProbeContext) -> ProbeResult:
    """A genuine phone's chains for a challenge the server never issued (stale or made up)."""
    applicant = ctx.binding_attempt()
    made_up = secrets.token_bytes(32)
    reply = applicant.submit_chains(made_up, attest(ctx.phones.make("genuine"), made_up))
    return refused("binding: challenge never issued by the server", reply,
                   statuses=CONFLICT, applicant=applicant, must_not_reach=BOUND)


def self_made_root(ctx: ProbeContext) -> ProbeResult:
    """The genuine chains re-signed under the attacker's own root CA."""
    applicant = ctx.binding_attempt()
    challenge = applicant.binding_challenge()
    genuine = attest(ctx.phones.make("genuine"), challenge)
    forged = {name: resign_under_own_root(chain) for name, chain in genuine.items()}
    reply = applicant.submit_chains(challenge, forged)
    return refused("binding: chain signed by a self-made root", reply, statuses=REFUSED,
                   applicant=applicant, must_not_reach=BOUND)


def leaf_used_as_intermediate(ctx: ProbeContext) -> ProbeResult:
    """A genuine attested leaf (no CA flag) certifying the attacker's software key."""
    applicant = ctx.binding_attempt()
    challenge = applicant.binding_challenge()
    phone = ctx.phones.make("genuine")
    genuine = attest(phone, challenge)
    forged_signing, _ = leaf_as_intermediate(genuine["signing"][0], tee_key(phone))
    reply = applicant.submit_chains(challenge, {**genuine, "signing": forged_signing})
    return refused("binding: leaf certificate used as an intermediate", reply,
                   statuses=REFUSED, applicant=applicant, must_not_reach=BOUND)


def swapped_keys(ctx: ProbeContext) -> ProbeResult:
    """Signing key from one genuine phone, agreement and SE keys from another."""
    applicant = ctx.binding_attempt()
    challenge = applicant.binding_challenge()
    first = attest(ctx.phones.make("genuine"), challenge)
    second = attest(ctx.phones.make("genuine"), challenge)
    reply = applicant.submit_chains(challenge, {**second, "signing": first["signing"]})
    return refused("binding: keys swapped between two phones", reply, statuses=REFUSED,
                   applicant=applicant, must_not_reach=BOUND)


def weak_profile(profile: str) -> Callable[[ProbeContext], ProbeResult]:
    """The attack of binding an honest phone of a weak `profile`."""

    def attack(ctx: ProbeContext) -> ProbeResult:
        applicant = ctx.binding_attempt()
        challenge = applicant.binding_challenge()
        reply = applicant.submit_chains(challenge, attest(ctx.phones.make(profile), challenge))
        return refused(f"binding: {profile} phone", reply, statuses=REFUSED,
                       applicant=applicant, must_not_reach=BOUND)

    attack.__name__ = f"weak_profile_{profile}"
    return attack


SCENARIOS: tuple[Callable[[ProbeContext], ProbeResult], ...] = (
    replayed_attestation, reused_challenge, unissued_challenge, self_made_root,
    leaf_used_as_intermediate, swapped_keys, *(weak_profile(p) for p in WEAK_PROFILES),
)
