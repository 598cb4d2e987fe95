"""Staff review actions on real applications driven through the issuer workflow."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from issuer.audit import verify_audit_chain
from issuer.errors import AccessDenied, Conflict, ValidationFailed
from issuer.identity import mask_id_number
from issuer.luhn import is_luhn_valid
from issuer.models import Application, AuditEntry, Card, Decision
from issuer.permissions import PermissionDenied, Role
from issuer.review import (
    change_card_status,
    confirm_override,
    decide_case,
    pending_override,
    propose_override,
    reject_override,
    release_case,
    request_redo,
    reveal_pan,
    take_case,
)
from issuer.review_case import load_case
from issuer.staff_accounts import create_staff
from issuer.staff_sessions import StaffPrincipal
from issuer.states import ApplicationState
from tests.issuer.flow import IDENTITY, NOW, Flow, PhoneLab

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
LATER = NOW + timedelta(minutes=5)


def make_staff(factory: sessionmaker[Session], username: str, role: Role) -> StaffPrincipal:
    with factory.begin() as s:
        view = create_staff(s, username=username, password=PASSWORD, role=role.value, now=NOW)
    return StaffPrincipal(staff_user_id=view.id, username=view.username, role=view.role,
                          session_expires_at=NOW + timedelta(hours=1))


def manual_review_case(factory: sessionmaker[Session], lab: PhoneLab) -> str:
    flow = Flow(factory, lab, flags=("interview_not_voluntary",))
    flow.to(ApplicationState.AGREEMENT_SIGNED).decide()
    with factory() as s:
        assert s.get(Application, flow.application_id).state == "manual_review"  # type: ignore[union-attr]
    return flow.application_id


def declined_case(factory: sessionmaker[Session], lab: PhoneLab) -> str:
    flow = Flow(factory, lab, flags=("interview_paid_to_apply",))
    flow.to(ApplicationState.AGREEMENT_SIGNED).decide()
    with factory() as s:
        assert s.get(Application, flow.application_id).state == "declined"  # type: ignore[union-attr]
    return flow.application_id


def state_of(factory: sessionmaker[Session], application_id: str) -> str:
    with factory() as s:
        application = s.get(Application, application_id)
        assert application is not None
        return application.state


def audit_actions(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as s:
        return [(e.actor, e.action) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def test_reviewer_takes_and_approves_others_read_only(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    case = manual_review_case(session_factory, lab)
    alice = make_staff(session_factory, "alice", Role.REVIEWER)
    bob = make_staff(session_factory, "bob", Role.REVIEWER)
    with session_factory.begin() as s:
        take_case(s, application_id=case, actor=alice, now=LATER)
    with session_factory() as s, pytest.raises(Conflict, match="Another reviewer"):
        take_case(s, application_id=case, actor=bob, now=LATER)
    with session_factory() as s, pytest.raises(Conflict, match="read-only"):
        decide_case(s, application_id=case, actor=bob, verb="approve",
                    reason="evidence_sufficient", comment="ok", now=LATER)
    with session_factory() as s, pytest.raises(ValidationFailed):
        decide_case(s, application_id=case, actor=alice, verb="approve", reason="because",
                    comment="ok", now=LATER)
    with session_factory() as s, pytest.raises(ValidationFailed):
        decide_case(s, application_id=case, actor=alice, verb="approve",
                    reason="evidence_sufficient", comment="   ", now=LATER)
    for control in ("a\x00b", "bell\x07", "esc\x1b[31m", "ok \u202e}9 :di", "zero\u200bwidth",
                    "lone \ud800"):
        with session_factory() as s, pytest.raises(ValidationFailed, match="control character"):
            decide_case(s, application_id=case, actor=alice, verb="approve",
                        reason="evidence_sufficient", comment=control, now=LATER)
    with session_factory.begin() as s:
        decide_case(s, application_id=case, actor=alice, verb="approve",
                    reason="flag_explained", comment="Transcript shows it was voluntary.",
                    now=LATER)
    assert state_of(session_factory, case) == "approved"
    with session_factory() as s:
        view = load_case(s, application_id=case, viewer=bob, now=LATER)
        assert view.assignee is None
        assert view.decisions[-1].decided_by == "staff:alice"
        assert [r.action for r in view.reviews] == ["approved"]
        assert verify_audit_chain(s).ok
    assert ("staff:alice", "review.approve") in audit_actions(session_factory)


def test_decline_and_release(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    case = manual_review_case(session_factory, lab)
    alice = make_staff(session_factory, "alice", Role.REVIEWER)
    bob = make_staff(session_factory, "bob", Role.SUPERVISOR)
    with session_factory.begin() as s:
        take_case(s, application_id=case, actor=alice, now=LATER)
    with session_factory.begin() as s:
        release_case(s, application_id=case, actor=alice, now=LATER)
    with session_factory.begin() as s:
        take_case(s, application_id=case, actor=bob, now=LATER)
        decide_case(s, application_id=case, actor=bob, verb="decline",
                    reason="coercion_suspected", comment="Answers suggest pressure.", now=LATER)
    assert state_of(session_factory, case) == "declined"


def test_redo_liveness_sends_the_application_back(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    case = manual_review_case(session_factory, lab)
    alice = make_staff(session_factory, "alice", Role.REVIEWER)
    with session_factory.begin() as s:
        take_case(s, application_id=case, actor=alice, now=LATER)
    with session_factory() as s, pytest.raises(ValidationFailed, match="step"):
        request_redo(s, application_id=case, actor=alice, step="identity",
                     reason="evidence_unclear", comment="x", now=LATER)
    with session_factory.begin() as s:
        request_redo(s, application_id=case, actor=alice, step="liveness",
                     reason="evidence_unclear", comment="Keyframes are blurred.", now=LATER)
    with session_factory() as s:
        application = s.get(Application, case)
        assert application is not None
        assert application.state == "identity_submitted"
        assert application.liveness_sessions == 0
        assert application.expires_at >= LATER + timedelta(hours=72)


def test_four_eyes_override_of_automatic_decline(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    case = declined_case(session_factory, lab)
    alice = make_staff(session_factory, "alice", Role.SUPERVISOR)
    bob = make_staff(session_factory, "bob", Role.SUPERVISOR)
    rita = make_staff(session_factory, "rita", Role.REVIEWER)
    with session_factory.begin() as s:
        take_case(s, application_id=case, actor=alice, now=LATER)
        proposal = propose_override(s, application_id=case, actor=alice,
                                    reason="false_positive", comment="Misread question.",
                                    now=LATER)
    with session_factory() as s, pytest.raises(Conflict, match="already waiting"):
        propose_override(s, application_id=case, actor=alice, reason="false_positive",
                         comment="again", now=LATER)
    with session_factory() as s, pytest.raises(Conflict, match="Four-eyes"):
        confirm_override(s, application_id=case, override_id=proposal.id,
                         actor=alice, comment="me", now=LATER)
    with session_factory() as s, pytest.raises(PermissionDenied):
        confirm_override(s, application_id=case, override_id=proposal.id,
                         actor=rita, comment="me", now=LATER)
    assert state_of(session_factory, case) == "declined"
    with session_factory.begin() as s:
        confirm_override(s, application_id=case, override_id=proposal.id,
                         actor=bob, comment="Agreed.", now=LATER)
    assert state_of(session_factory, case) == "approved"
    with session_factory() as s:
        decision = s.scalars(select(Decision).where(Decision.application_id == case)
                             .order_by(Decision.id.desc())).first()
        assert decision is not None
        assert decision.decided_by == "staff:bob"
        assert decision.reasons == ["staff_override", "false_positive"]
        assert decision.credit_limit > 0
        assert pending_override(s, application_id=case) is None
        assert verify_audit_chain(s).ok
    actions = audit_actions(session_factory)
    assert ("staff:alice", "application.override_proposed") in actions
    assert ("staff:bob", "review.override_confirmed") in actions


def test_override_rejected_keeps_decline_and_staff_decline_cannot_be_overridden(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    case = declined_case(session_factory, lab)
    rita = make_staff(session_factory, "rita", Role.REVIEWER)
    bob = make_staff(session_factory, "bob", Role.SUPERVISOR)
    with session_factory.begin() as s:
        take_case(s, application_id=case, actor=rita, now=LATER)
        proposal = propose_override(s, application_id=case, actor=rita,
                                    reason="issue_resolved", comment="Fixed.", now=LATER)
    with session_factory.begin() as s:
        reject_override(s, application_id=case, override_id=proposal.id, actor=bob,
                        comment="Not convinced.", now=LATER)
    assert state_of(session_factory, case) == "declined"
    with session_factory() as s, pytest.raises(Conflict, match="already rejected"):
        confirm_override(s, application_id=case, override_id=proposal.id,
                         actor=bob, comment="x", now=LATER)

    reviewed = manual_review_case(session_factory, lab)
    with session_factory.begin() as s:
        take_case(s, application_id=reviewed, actor=rita, now=LATER)
        decide_case(s, application_id=reviewed, actor=rita, verb="decline",
                    reason="fraud_suspected", comment="Pattern.", now=LATER)
    with session_factory.begin() as s:
        take_case(s, application_id=reviewed, actor=rita, now=LATER)
    with session_factory() as s, pytest.raises(Conflict, match="automatic decline"):
        propose_override(s, application_id=reviewed, actor=rita, reason="false_positive",
                         comment="x", now=LATER)


def low_income_case(factory: sessionmaker[Session], lab: PhoneLab) -> str:
    """Declined automatically at the identity step: income below the minimum, so the
    scorecard offered no credit limit."""
    flow = Flow(factory, lab, identity={**IDENTITY, "annual_income": 10_000})
    flow.start().identity_step()
    with factory() as s:
        application = s.get(Application, flow.application_id)
        assert application is not None
        assert application.state == "declined" and not application.offered_credit_limit
    return flow.application_id


def liveness_exhausted_case(factory: sessionmaker[Session], lab: PhoneLab) -> str:
    """Declined automatically when the camera check attempts were used up: a credit limit is
    on offer, but there is no bound phone and no signed agreement to issue a card on."""
    flow = Flow(factory, lab).to(ApplicationState.IDENTITY_SUBMITTED)
    flow.liveness(passed=False).liveness(passed=False).liveness(passed=False)
    assert state_of(factory, flow.application_id) == "declined"
    return flow.application_id


@pytest.mark.parametrize(("make_case", "why"), [
    (low_income_case, "no offered credit limit to approve"),
    (liveness_exhausted_case, "declined before its agreement was signed"),
])
def test_override_that_could_not_approve_is_refused_when_proposed(
    session_factory: sessionmaker[Session], lab: PhoneLab,
    make_case: Callable[[sessionmaker[Session], PhoneLab], str], why: str,
) -> None:
    case = make_case(session_factory, lab)
    alice = make_staff(session_factory, "alice", Role.SUPERVISOR)
    with session_factory.begin() as s:
        take_case(s, application_id=case, actor=alice, now=LATER)
    with session_factory() as s, pytest.raises(Conflict, match=why):
        propose_override(s, application_id=case, actor=alice, reason="false_positive",
                         comment="Proof arrived.", now=LATER)
    with session_factory() as s:
        assert pending_override(s, application_id=case) is None
    assert state_of(session_factory, case) == "declined"


def issued_card(factory: sessionmaker[Session], lab: PhoneLab) -> int:
    """A card issued and provisioned into a real tee_sim phone, then activated: active."""
    flow = Flow(factory, lab).to(ApplicationState.ISSUED)
    assert flow.provision() == 0x9000
    return flow.activate().id


def test_card_freeze_unfreeze_close(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    card_id = issued_card(session_factory, lab)
    sup = make_staff(session_factory, "sam", Role.SUPERVISOR)
    rita = make_staff(session_factory, "rita", Role.REVIEWER)
    with session_factory() as s, pytest.raises(Conflict, match="Only a frozen card"):
        change_card_status(s, card_id=card_id, actor=sup, action="unfreeze",
                           reason="customer_request", comment="", now=LATER)
    with session_factory() as s, pytest.raises(PermissionDenied):
        change_card_status(s, card_id=card_id, actor=rita, action="close",
                           reason="customer_request", comment="", now=LATER)
    with session_factory.begin() as s:
        result = change_card_status(s, card_id=card_id, actor=sup, action="freeze",
                                    reason="suspected_fraud", comment="odd usage", now=LATER)
    assert (result.old_status, result.new_status) == ("active", "frozen")
    with session_factory.begin() as s:
        change_card_status(s, card_id=card_id, actor=sup, action="unfreeze",
                           reason="fraud_cleared", comment="", now=LATER)
        change_card_status(s, card_id=card_id, actor=sup, action="close",
                           reason="customer_request", comment="", now=LATER)
    with session_factory() as s:
        assert s.get(Card, card_id).status == "closed"  # type: ignore[union-attr]
        assert verify_audit_chain(s).ok


def test_reveal_pan_needs_password_and_is_audited_masked(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    card_id = issued_card(session_factory, lab)
    sup = make_staff(session_factory, "sam", Role.SUPERVISOR)
    auditor = make_staff(session_factory, "audrey", Role.AUDITOR)
    with session_factory() as s, pytest.raises(PermissionDenied):
        reveal_pan(s, card_id=card_id, actor=auditor, password=PASSWORD, kek=lab.keys.kek,
                   now=LATER)
    with session_factory.begin() as s, pytest.raises(AccessDenied, match="Password"):
        reveal_pan(s, card_id=card_id, actor=sup, password="wrong password!", kek=lab.keys.kek,
                   now=LATER)
    with session_factory.begin() as s:
        revealed = reveal_pan(s, card_id=card_id, actor=sup, password=PASSWORD, kek=lab.keys.kek,
                              now=LATER)
    assert is_luhn_valid(revealed.pan)
    assert revealed.pan not in repr(revealed)
    assert revealed.masked == revealed.pan[:6] + "******" + revealed.pan[-4:]
    with session_factory() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        dumped = json.dumps([e.details for e in entries]) + " ".join(e.subject for e in entries)
        assert revealed.pan not in dumped
        assert [e.action for e in entries if e.action.startswith("card.pan")] == [
            "card.pan_reveal_refused", "card.pan_revealed"]


def test_case_view_masks_identity_and_keeps_applicant_text_as_data(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    xss = "<img src=x onerror=alert(1)>"
    flow = Flow(session_factory, lab, flags=("interview_not_voluntary",))
    flow.identity = {**flow.identity, "employer": xss}
    flow.to(ApplicationState.AGREEMENT_SIGNED).decide()
    viewer = make_staff(session_factory, "audrey", Role.AUDITOR)
    with session_factory() as s:
        view = load_case(s, application_id=flow.application_id, viewer=viewer, now=LATER)
    assert view.identity is not None
    assert view.identity.employer == xss
    assert view.identity.id_number_masked == mask_id_number(str(flow.identity["id_number"]))
    assert "*" in view.identity.id_number_masked
    assert [e.to_state for e in view.timeline if e.to_state][-1] == "manual_review"
    assert view.bindings and view.bindings[0].accepted
    assert view.bindings[0].chain
    assert view.bindings[0].checks and all(c[2] is True for c in view.bindings[0].checks)
    assert view.agreement is not None and view.agreement.signature_verdict.startswith("valid")
    assert view.decisions[-1].reasons == ("interview_not_voluntary",)
    assert view.liveness and view.liveness[0].keyframe_ids


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN])
def test_domain_rechecks_permissions(
    session_factory: sessionmaker[Session], lab: PhoneLab, role: Role) -> None:
    case = manual_review_case(session_factory, lab)
    someone = make_staff(session_factory, "someone", role)
    with session_factory() as s:
        with pytest.raises(PermissionDenied):
            take_case(s, application_id=case, actor=someone, now=LATER)
        with pytest.raises(PermissionDenied):
            decide_case(s, application_id=case, actor=someone, verb="approve",
                        reason="evidence_sufficient", comment="x", now=LATER)
        with pytest.raises(PermissionDenied):
            request_redo(s, application_id=case, actor=someone, step="liveness",
                         reason="evidence_unclear", comment="x", now=LATER)


def test_concurrent_confirm_and_reject_decide_once(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    case = declined_case(session_factory, lab)
    rita = make_staff(session_factory, "rita", Role.REVIEWER)
    sup1 = make_staff(session_factory, "sup1", Role.SUPERVISOR)
    sup2 = make_staff(session_factory, "sup2", Role.SUPERVISOR)
    with session_factory.begin() as s:
        take_case(s, application_id=case, actor=rita, now=LATER)
        proposal = propose_override(s, application_id=case, actor=rita,
                                    reason="false_positive", comment="x", now=LATER)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(action, actor: StaffPrincipal) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            with session_factory.begin() as s:
                action(s, application_id=case, override_id=proposal.id, actor=actor,
                       comment="decided", now=LATER)
            outcomes.append(action.__name__)
        except Conflict as exc:
            outcomes.append(f"conflict: {exc.message}")

    threads = [threading.Thread(target=decide, args=(confirm_override, sup1)),
               threading.Thread(target=decide, args=(reject_override, sup2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if not o.startswith("conflict")]
    assert len(winners) == 1 and len(outcomes) == 2, outcomes
    assert "already" in next(o for o in outcomes if o.startswith("conflict"))
    expected = "approved" if winners == ["confirm_override"] else "declined"
    assert state_of(session_factory, case) == expected
