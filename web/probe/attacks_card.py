"""Attacks along one honest applicant's way from a bound phone to an active card: the agreement
signature, the secure channel carrying the card, and the PIN-guarded reveal.

The scenarios run in the order of `SCENARIOS`, each moving the shared journey on honestly
after its attack (the honest steps are the control: they must succeed).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from tee_sim import Device, wallet
from web.probe.api import Applicant, Reply, b64, unb64
from web.probe.context import ProbeContext
from web.probe.phone import attest
from web.probe.result import ProbeAborted, ProbeResult
from web.probe.verdict import refused

PIN = "2468"


@dataclass
class Journey:
    """The control application and its genuine phone."""

    applicant: Applicant
    phone: Device
    spent_nonces: list[bytes] = field(default_factory=list)
    provision_record: bytes = b""
    result_record: bytes = b""
    result_reply: Reply | None = None


def journey(ctx: ProbeContext) -> Journey:
    """The run's control journey, bound to a genuine phone on first use."""
    found = ctx.shared.get("journey")
    if isinstance(found, Journey):
        return found
    applicant = ctx.applicant_at_binding()
    phone = ctx.phones.make("genuine")
    challenge = applicant.binding_challenge()
    applicant.expect(applicant.submit_chains(challenge, attest(phone, challenge)),
                     "bind a genuine phone")
    ctx.shared["journey"] = made = Journey(applicant=applicant, phone=phone)
    return made


def _offer(applicant: Applicant) -> tuple[str, bytes]:
    offer = applicant.expect(applicant.get("/agreement"), "agreement offer")
    return str(offer.field("prompt")), unb64(offer.field("nonce"))


def _submit(applicant: Applicant, signed: wallet.Confirmation) -> Reply:
    return applicant.post("/agreement", {"message": b64(signed.message),
                                         "signature": b64(signed.signature)})


def agreement_over_other_text(ctx: ProbeContext) -> ProbeResult:
    """The phone confirms a text with a higher credit limit than the one offered."""
    j = journey(ctx)
    prompt, nonce = _offer(j.applicant)
    j.spent_nonces.append(nonce)
    altered = prompt.replace("0", "9", 1) if "0" in prompt else prompt + " (amended)"
    signed = wallet.confirm(j.phone, prompt=altered, nonce=nonce)
    reply = _submit(j.applicant, signed)
    return refused("agreement: signature over other text", reply, statuses={422},
                   applicant=j.applicant, must_not_reach={"agreement_signed"})


def agreement_replayed_nonce(ctx: ProbeContext) -> ProbeResult:
    """The offered text signed with an already spent nonce."""
    j = journey(ctx)
    prompt, _fresh = _offer(j.applicant)
    stale = j.spent_nonces[-1] if j.spent_nonces else secrets.token_bytes(32)
    signed = wallet.confirm(j.phone, prompt=prompt, nonce=stale)
    reply = _submit(j.applicant, signed)
    return refused("agreement: replayed nonce", reply, statuses={422, 409},
                   applicant=j.applicant, must_not_reach={"agreement_signed"})


def _issue_and_open_channel(j: Journey) -> None:
    a = j.applicant
    prompt, nonce = _offer(a)
    a.expect(_submit(a, wallet.confirm(j.phone, prompt=prompt, nonce=nonce)), "sign the agreement")
    decision = a.expect(a.post("/decision"), "decision")
    if decision.field("outcome") != "approved":
        raise ProbeAborted(f"the control application was not approved: {decision.body}")
    a.expect(a.post("/card", None, {"Idempotency-Key": secrets.token_hex(8)}), "issue card")
    hello = unb64(a.expect(a.post("/card/provisioning"), "provisioning hello").field("hello"))
    wallet.open_channel(j.phone, hello=hello)
    se_challenge = wallet.se_challenge(j.phone)
    j.provision_record = unb64(a.expect(
        a.post("/card/provisioning/payload", {"se_challenge": b64(se_challenge)}),
        "provisioning payload").field("record"))


def _flip_last_byte(record: bytes) -> bytes:
    return record[:-1] + bytes([record[-1] ^ 0x01])


def _phone_refuses(name: str, device: Device, record: bytes) -> ProbeResult:
    try:
        delivered = wallet.receive_provisioning(device, record=record)
    except wallet.WalletError as exc:
        return ProbeResult(name, True, f"phone TEE refused the record: {exc}")
    return ProbeResult(name, False, f"phone accepted the record (SE answered "
                                    f"{delivered.get('sw')!r})")


def payload_altered_in_transit(ctx: ProbeContext) -> ProbeResult:
    """One bit of the issuer's sealed PROVISION record changed on its way to the phone."""
    j = journey(ctx)
    if not j.provision_record:
        _issue_and_open_channel(j)
    result = _phone_refuses("provisioning: payload altered in transit", j.phone,
                            _flip_last_byte(j.provision_record))
    if wallet.card_summary(j.phone)["personalized"]:
        return ProbeResult(result.name, False, "the phone's SE was personalized by the "
                                               "altered payload")
    return result


def _deliver_honestly(j: Journey) -> None:
    delivered = wallet.receive_provisioning(j.phone, record=j.provision_record)
    response = delivered["response"]
    if not isinstance(response, bytes):
        raise ProbeAborted("the phone gave no PROVISION_RESULT record")
    j.result_record = response


def tampered_result_record(ctx: ProbeContext) -> ProbeResult:
    """The phone's PROVISION_RESULT record altered on its way back to the issuer."""
    j = journey(ctx)
    if not j.result_record:
        _deliver_honestly(j)
    reply = j.applicant.post("/card/provisioning/result",
                             {"record": b64(_flip_last_byte(j.result_record))})
    verdict = refused("secure channel: tampered record to the issuer", reply,
                      statuses={409, 422})
    if verdict.detected and j.applicant.get("/card").field("provisioned"):
        return ProbeResult(verdict.name, False, "refused, but the card is marked provisioned")
    # The honest record must still go through (control).
    j.result_reply = j.applicant.expect(
        j.applicant.post("/card/provisioning/result", {"record": b64(j.result_record)}),
        "deliver the genuine provisioning result")
    return verdict


def replayed_record_to_phone(ctx: ProbeContext) -> ProbeResult:
    """The issuer's PROVISION record delivered to the phone a second time."""
    j = journey(ctx)
    return _phone_refuses("secure channel: record replayed to the phone", j.phone,
                          j.provision_record)


def replayed_result_to_issuer(ctx: ProbeContext) -> ProbeResult:
    """The phone's PROVISION_RESULT record sent to the issuer a second time.

    Detected when the issuer refuses it, or answers exactly as it answered the genuine delivery
    (how a client's retry after a lost answer is served) and the card is unchanged: either way
    the record was not processed twice.
    """
    name = "secure channel: record replayed to the issuer"
    j = journey(ctx)
    if j.result_reply is None:
        raise ProbeAborted("the genuine provisioning result was never delivered")
    card_before = j.applicant.get("/card").body
    reply = j.applicant.post("/card/provisioning/result", {"record": b64(j.result_record)})
    if reply.status in (409, 422):
        return ProbeResult(name, True, reply.reason)
    if not reply.ok:
        return ProbeResult(name, False, f"server answered unexpectedly: {reply.reason}")
    if reply.body != j.result_reply.body:
        return ProbeResult(name, False, f"server accepted the record again with a new answer: "
                                        f"{reply.text[:200]}")
    card_after = j.applicant.get("/card").body
    if card_after != card_before:
        return ProbeResult(name, False, f"the replay changed the card: {card_before} -> "
                                        f"{card_after}")
    return ProbeResult(name, True, f"HTTP {reply.status} with the answer already given to the "
                                   f"genuine delivery; the card is unchanged (not processed twice)")


def reveal_with_another_phone(ctx: ProbeContext) -> ProbeResult:
    """Card details requested with a PIN set on a phone the attacker made, not the bound one."""
    j = journey(ctx)
    wallet.set_pin(j.phone, pin=PIN)
    j.applicant.expect(j.applicant.post("/card/activate"), "activate the card")
    mine = ctx.phones.make("genuine")
    wallet.set_pin(mine, pin="1357")
    attest(mine, b"attacker's own binding")
    reply = j.applicant.post("/card/reveal", {"device_id": mine.device_id, "pin": "1357"})
    return refused("card reveal: PIN of another phone", reply, statuses={403})


SCENARIOS: tuple[Callable[[ProbeContext], ProbeResult], ...] = (
    agreement_over_other_text, agreement_replayed_nonce, payload_altered_in_transit,
    tampered_result_record, replayed_record_to_phone, replayed_result_to_issuer,
    reveal_with_another_phone,
)
