"""The pure decision rules and the credit-limit scorecard."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from issuer.decision import (
    DECLINE_FLAGS,
    REASON_LABELS,
    REVIEW_FLAGS,
    AttestationVerdict,
    DecisionInputs,
    Outcome,
    credit_limit_for,
    decide_application,
)

pytestmark = pytest.mark.unit

GOOD = DecisionInputs(
    today=date(2025, 6, 15), age=35, annual_income=120_000, identity_checks_passed=True,
    liveness_passed=True, liveness_score=0.95, interview_flags=frozenset(),
    attestation=AttestationVerdict(accepted=True, security_level="TrustedEnvironment",
                                   verified_boot_state="Verified", os_patch_level=202505,
                                   revoked=False),
    signature_valid=True,
)


def with_attestation(**changes: object) -> DecisionInputs:
    return replace(GOOD, attestation=replace(GOOD.attestation, **changes))  # type: ignore[arg-type]


def test_clean_application_is_approved_with_scorecard_limit() -> None:
    result = decide_application(GOOD)
    assert result.outcome == Outcome.APPROVE
    assert result.reasons == ()
    assert result.credit_limit == 36_000  # 30% of 120,000


@pytest.mark.parametrize(("inputs", "reason"), [
    (replace(GOOD, liveness_passed=False), "liveness_failed"),
    (replace(GOOD, signature_valid=False), "agreement_signature_invalid"),
    (replace(GOOD, identity_checks_passed=False), "identity_checks_failed"),
    (replace(GOOD, annual_income=23_999), "income_below_minimum"),
    (replace(GOOD, age=17), "applicant_under_18"),
    (with_attestation(revoked=True), "attestation_revoked"),
    (with_attestation(accepted=False), "attestation_rejected"),
    (with_attestation(verified_boot_state="SelfSigned"), "boot_state_not_verified"),
    (replace(GOOD, interview_flags=frozenset({"interview_paid_to_apply"})),
     "interview_paid_to_apply"),
    (replace(GOOD, interview_flags=frozenset({"interview_identity_mismatch"})),
     "interview_identity_mismatch"),
])
def test_decline_reasons(inputs: DecisionInputs, reason: str) -> None:
    result = decide_application(inputs)
    assert result.outcome == Outcome.DECLINE
    assert reason in result.reasons
    assert result.credit_limit == 0


@pytest.mark.parametrize(("inputs", "reason"), [
    (replace(GOOD, liveness_score=0.79), "liveness_score_low"),
    (with_attestation(security_level="Software"), "attestation_software_only"),
    (with_attestation(os_patch_level=202405), "patch_level_outdated"),
    (with_attestation(os_patch_level=None), "patch_level_unknown"),
    (replace(GOOD, interview_flags=frozenset({"interview_not_voluntary"})),
     "interview_not_voluntary"),
    (replace(GOOD, interview_flags=frozenset({"interview_rate_misunderstood"})),
     "interview_rate_misunderstood"),
    (replace(GOOD, interview_flags=frozenset({"interview_answer_too_fast"})),
     "interview_answer_too_fast"),
    (replace(GOOD, interview_flags=frozenset({"interview_employer_mismatch"})),
     "interview_employer_mismatch"),
    (replace(GOOD, interview_flags=frozenset({"something_new"})), "interview_flag_unknown"),
])
def test_manual_review_reasons(inputs: DecisionInputs, reason: str) -> None:
    result = decide_application(inputs)
    assert result.outcome == Outcome.MANUAL_REVIEW
    assert result.reasons == (reason,)
    assert result.credit_limit == 36_000


def test_patch_level_exactly_twelve_months_old_is_fine() -> None:
    assert decide_application(with_attestation(os_patch_level=202406)).outcome == Outcome.APPROVE


def test_decline_wins_over_review_and_lists_every_reason() -> None:
    inputs = replace(GOOD, liveness_passed=False, signature_valid=False,
                     interview_flags=frozenset({"interview_not_voluntary"}))
    result = decide_application(inputs)
    assert result.outcome == Outcome.DECLINE
    assert result.reasons == ("agreement_signature_invalid", "liveness_failed")


@pytest.mark.parametrize(("income", "age", "limit"), [
    (0, 30, 0), (23_999, 30, 0), (24_000, 30, 4_000), (59_999, 30, 11_000),
    (60_000, 30, 18_000), (149_999, 30, 44_000), (150_000, 30, 60_000),
    (500_000, 30, 200_000), (10_000_000, 30, 200_000), (150_000, 21, 10_000),
    (150_000, 22, 60_000),
])
def test_scorecard(income: int, age: int, limit: int) -> None:
    assert credit_limit_for(annual_income=income, age=age) == limit


def test_every_reason_the_rules_can_give_has_a_staff_label() -> None:
    flags = DECLINE_FLAGS | REVIEW_FLAGS | {"something_new"}
    worst = replace(GOOD, liveness_passed=False, signature_valid=False,
                    identity_checks_passed=False, annual_income=1, age=17,
                    interview_flags=flags)
    cases = [
        worst,
        replace(worst, attestation=replace(GOOD.attestation, revoked=True, accepted=False,
                                           verified_boot_state="SelfSigned")),
        replace(GOOD, liveness_score=0.5, interview_flags=flags - DECLINE_FLAGS,
                attestation=replace(GOOD.attestation, security_level="Software",
                                    os_patch_level=None)),
        with_attestation(os_patch_level=202001),
    ]
    reasons = {r for inputs in cases for r in decide_application(inputs).reasons}
    # Reasons recorded outside the rules: attempts used up, binding refused, staff decision,
    # override.
    reasons |= {"liveness_attempts_exhausted", "device_binding_refused", "staff_review",
                "staff_override"}
    assert reasons <= set(REASON_LABELS), reasons - set(REASON_LABELS)
    assert set(REASON_LABELS) <= reasons, set(REASON_LABELS) - reasons  # no stale labels


def test_the_limit_never_exceeds_the_one_the_applicant_signed() -> None:
    signed_young = replace(GOOD, age=22, offered_credit_limit=10_000)
    assert decide_application(signed_young).credit_limit == 10_000
    review = replace(signed_young, liveness_score=0.5)
    assert decide_application(review).credit_limit == 10_000
    assert decide_application(replace(GOOD, offered_credit_limit=50_000)).credit_limit == 36_000
