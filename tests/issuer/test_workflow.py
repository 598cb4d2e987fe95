"""The applicant's workflow end to end on SQLite and PostgreSQL, with a real attested phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from issuer.agreement import begin_agreement, complete_agreement
from issuer.decisions import decide, latest_decision, record_staff_decision
from issuer.device_binding import begin_device_binding, complete_device_binding
from issuer.errors import AccessDenied, Conflict, IllegalTransition, ValidationFailed
from issuer.models import ApplicationEvent, AuditEntry, DeviceBinding
from issuer.onboarding import (
    authenticate_applicant,
    current_liveness,
    get_application,
    record_interview,
    submit_identity,
)
from issuer.staff_accounts import create_staff
from issuer.states import ApplicationState
from tee_sim import wallet
from tests.issuer.flow import IDENTITY, NOW, Flow, PhoneLab

pytestmark = pytest.mark.integration


def test_happy_path_reaches_approved_with_timeline(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.APPROVED)
    with session_factory() as s:
        view = get_application(s, application_id=flow.application_id, now=NOW)
        assert view.state == ApplicationState.APPROVED
        events = s.scalars(select(ApplicationEvent)
                           .where(ApplicationEvent.application_id == flow.application_id)
                           .where(ApplicationEvent.to_state.is_not(None))
                           .order_by(ApplicationEvent.id)).all()
        assert [e.to_state for e in events] == [
            "identity_submitted", "liveness_passed", "interview_done", "device_bound",
            "agreement_signed", "approved"]
        assert s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))


def test_applicant_token_protects_the_application(session_factory: sessionmaker[Session],
                                                  lab: PhoneLab) -> None:
    mine = Flow(session_factory, lab).start()
    theirs = Flow(session_factory, lab).start()
    with session_factory.begin() as s:
        assert authenticate_applicant(s, application_id=mine.application_id, token=mine.token,
                                      now=NOW).id == mine.application_id
    for app_id, token in [(mine.application_id, theirs.token), ("nope", mine.token),
                          (mine.application_id, ""), ("x" * 500, mine.token)]:
        with session_factory() as s, pytest.raises(AccessDenied) as caught:
            authenticate_applicant(s, application_id=app_id, token=token, now=NOW)
        assert "does not exist or the access token is wrong" in caught.value.message


def test_application_expires_on_next_access(session_factory: sessionmaker[Session],
                                            lab: PhoneLab) -> None:
    flow = Flow(session_factory, lab).start()
    with session_factory.begin() as s:
        view = authenticate_applicant(s, application_id=flow.application_id, token=flow.token,
                                      now=NOW + timedelta(hours=72))
    assert view.state == ApplicationState.EXPIRED
    with session_factory() as s, pytest.raises(Conflict):
        submit_identity(s, application_id=flow.application_id, now=NOW + timedelta(hours=73),
                        keys=lab.keys,
                        **IDENTITY)


def test_steps_out_of_order_are_refused(session_factory: sessionmaker[Session],
                                        lab: PhoneLab) -> None:
    flow = Flow(session_factory, lab).start()
    with session_factory() as s, pytest.raises(Conflict, match="started"):
        record_interview(s, application_id=flow.application_id, answers={}, flags=[],
                         script_version="v1", now=NOW)
    with session_factory() as s, pytest.raises(Conflict):
        begin_device_binding(s, application_id=flow.application_id, now=NOW)
    with session_factory() as s, pytest.raises(IllegalTransition):
        decide(s, application_id=flow.application_id, now=NOW)


def test_invalid_identity_is_reported_per_field(session_factory: sessionmaker[Session],
                                                lab: PhoneLab) -> None:
    flow = Flow(session_factory, lab).start()
    with session_factory() as s, pytest.raises(ValidationFailed) as caught:
        submit_identity(s, application_id=flow.application_id, now=NOW, keys=lab.keys,
                        **(IDENTITY | {"id_number": "110105199003071230", "mobile": "123"}))
    assert set(caught.value.field_errors) == {"id_number", "mobile"}


@pytest.mark.parametrize(("income", "state"), [
    (23_999, ApplicationState.DECLINED), (24_000, ApplicationState.IDENTITY_SUBMITTED)])
def test_income_below_the_minimum_is_declined_before_any_face_scan(
        session_factory: sessionmaker[Session], lab: PhoneLab, income: int,
        state: ApplicationState) -> None:
    flow = Flow(session_factory, lab).start()
    with session_factory.begin() as s:
        view = submit_identity(s, application_id=flow.application_id, now=NOW, keys=lab.keys,
                               **(IDENTITY | {"annual_income": income}))
    assert view.state == state
    with session_factory() as s:
        decision = latest_decision(s, application_id=flow.application_id)
        kinds = s.scalars(select(ApplicationEvent.kind).where(
            ApplicationEvent.application_id == flow.application_id)).all()
        if state == ApplicationState.IDENTITY_SUBMITTED:
            assert decision is None and "prescreen_declined" not in kinds
            return
        assert decision is not None and decision.reasons == ["income_below_minimum"]
        assert decision.credit_limit == 0 and decision.decided_by == "system"
        assert kinds[-2:] == ["identity_submitted", "prescreen_declined"]
    with session_factory() as s, pytest.raises(Conflict):
        begin_device_binding(s, application_id=flow.application_id, now=NOW)
    with pytest.raises(Conflict, match="declined"):  # no face scan is asked of this applicant
        flow.liveness(passed=True)


def test_three_failed_liveness_sessions_decline(session_factory: sessionmaker[Session],
                                                lab: PhoneLab) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.IDENTITY_SUBMITTED)
    flow.liveness(passed=False).liveness(passed=False)
    with session_factory() as s:
        assert get_application(s, application_id=flow.application_id,
                               now=NOW).state == ApplicationState.IDENTITY_SUBMITTED
    flow.liveness(passed=False)
    with session_factory() as s:
        assert get_application(s, application_id=flow.application_id,
                               now=NOW).state == ApplicationState.DECLINED
        decision = latest_decision(s, application_id=flow.application_id)
        assert decision is not None and decision.reasons == ["liveness_attempts_exhausted"]
        assert current_liveness(s, application_id=flow.application_id) is None


def test_rooted_phone_is_refused_and_stored_then_declined(
    session_factory: sessionmaker[Session], lab: PhoneLab
) -> None:
    flow = Flow(session_factory, lab, profile="rooted").to(ApplicationState.INTERVIEW_DONE)
    for attempt in range(1, 4):
        with session_factory.begin() as s:
            challenge = begin_device_binding(s, application_id=flow.application_id, now=NOW)
        chains = flow.chains(challenge)
        with session_factory.begin() as s:
            outcome = complete_device_binding(s, application_id=flow.application_id,
                                              challenge=challenge, trust=lab.trust, now=NOW,
                                              **chains)
        assert not outcome.accepted and outcome.reason == "custom_os"
        assert outcome.application.binding_attempts == attempt
    assert outcome.application.state == ApplicationState.DECLINED
    with session_factory() as s:
        refusals = s.scalars(select(DeviceBinding).where(
            DeviceBinding.application_id == flow.application_id)).all()
        assert [r.reason for r in refusals] == ["custom_os"] * 3
        assert all(not r.accepted and r.message for r in refusals)


def test_binding_challenge_is_single_use_and_bound_to_the_application(
    session_factory: sessionmaker[Session], lab: PhoneLab
) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.INTERVIEW_DONE)
    other = Flow(session_factory, lab).to(ApplicationState.INTERVIEW_DONE)
    with session_factory.begin() as s:
        challenge = begin_device_binding(s, application_id=flow.application_id, now=NOW)
    chains = flow.chains(challenge)
    with session_factory() as s, pytest.raises(Conflict):
        complete_device_binding(s, application_id=other.application_id, challenge=challenge,
                                trust=lab.trust, now=NOW, **chains)
    with session_factory() as s, pytest.raises(Conflict, match="expired"):
        complete_device_binding(s, application_id=flow.application_id, challenge=challenge,
                                trust=lab.trust, now=NOW + timedelta(minutes=11), **chains)
    with session_factory.begin() as s:
        assert complete_device_binding(s, application_id=flow.application_id,
                                       challenge=challenge, trust=lab.trust, now=NOW,
                                       **chains).accepted
    with session_factory() as s, pytest.raises(Conflict):
        complete_device_binding(s, application_id=flow.application_id, challenge=challenge,
                                trust=lab.trust, now=NOW, **chains)


def test_the_agreement_is_dated_by_the_beijing_calendar(
    session_factory: sessionmaker[Session], lab: PhoneLab
) -> None:
    # 17:00 UTC is 01:00 the next day in Beijing, where the applicant signs.
    flow = Flow(session_factory, lab).to(ApplicationState.DEVICE_BOUND)
    evening = datetime(2025, 6, 15, 17, 0, tzinfo=UTC)
    with session_factory.begin() as s:
        offer = begin_agreement(s, application_id=flow.application_id, now=evening)
    assert "Date: 2025-06-16\n" in offer.text


def test_agreement_signature_over_other_text_is_refused(
    session_factory: sessionmaker[Session], lab: PhoneLab
) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.DEVICE_BOUND)
    with session_factory.begin() as s:
        offer = begin_agreement(s, application_id=flow.application_id, now=NOW)
    assert "CNY 36,000" in offer.text and "18.25%" in offer.text
    assert flow.device is not None
    forged = wallet.confirm(flow.device, prompt=offer.text.replace("36,000", "360,000"),
                            nonce=offer.nonce)
    with session_factory.begin() as s:
        outcome = complete_agreement(s, application_id=flow.application_id,
                                     message=forged.message, signature=forged.signature, now=NOW)
    assert not outcome.accepted and outcome.reason == "message_mismatch"
    genuine = wallet.confirm(flow.device, prompt=offer.text, nonce=offer.nonce)
    with session_factory() as s, pytest.raises(Conflict):  # the nonce was consumed
        complete_agreement(s, application_id=flow.application_id, message=genuine.message,
                           signature=genuine.signature, now=NOW)
    flow.sign()


def test_interview_flags_send_to_review_and_staff_decides(
    session_factory: sessionmaker[Session], lab: PhoneLab
) -> None:
    flow = Flow(session_factory, lab, flags=("interview_rate_misunderstood",))
    flow.to(ApplicationState.AGREEMENT_SIGNED)
    with session_factory.begin() as s:
        decided = decide(s, application_id=flow.application_id, now=NOW)
        assert decided.outcome == "manual_review"
        assert decided.reasons == ("interview_rate_misunderstood",)
        staff = create_staff(s, username="rita", password="correct horse battery",
                             role="reviewer", now=NOW)
    with session_factory() as s, pytest.raises(ValidationFailed):
        record_staff_decision(s, application_id=flow.application_id, staff_user_id=staff.id,
                              outcome="approved", note="ok", now=NOW, credit_limit=10**6)
    with session_factory.begin() as s:
        final = record_staff_decision(s, application_id=flow.application_id,
                                      staff_user_id=staff.id, outcome="approved",
                                      note="called the applicant; rate explained", now=NOW,
                                      credit_limit=20_000)
    assert final.application.state == ApplicationState.APPROVED
    assert flow.issue().credit_limit == 20_000
