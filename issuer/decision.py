"""Credit decision rules in one pure function, and the scorecard for the credit limit.

See docs/issuer.md for the scorecard table; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Outcome(StrEnum):
    """What the rules decided."""

    APPROVE = "approved"
    DECLINE = "declined"
    MANUAL_REVIEW = "manual_review"


MIN_ANNUAL_INCOME = 24_000
MAX_CREDIT_LIMIT = 200_000
YOUNG_APPLICANT_AGE = 22
YOUNG_APPLICANT_LIMIT_CAP = 10_000
LIVENESS_REVIEW_BELOW = 0.80
PATCH_REVIEW_AFTER_MONTHS = 12
# (income from, share of income) — the highest band whose lower bound the income reaches applies
INCOME_BANDS: tuple[tuple[int, float], ...] = (
    (24_000, 0.20),
    (60_000, 0.30),
    (150_000, 0.40),
)

# Interview flags (codes from issuer.interview) and what each triggers.
DECLINE_FLAGS = frozenset({"interview_paid_to_apply", "interview_identity_mismatch"})
REVIEW_FLAGS = frozenset({
    "interview_not_voluntary",
    "interview_rate_misunderstood",
    "interview_employer_mismatch",
    "interview_answer_too_fast",
    "interview_fee_misunderstood",
    "interview_timing_inconsistent",
})
HARDWARE_SECURITY_LEVELS = frozenset({"TrustedEnvironment", "StrongBox"})

# What staff read for each reason code a decision can carry (the code stays in the data).
REASON_LABELS: dict[str, str] = {
    "identity_checks_failed": "Identity checks failed",
    "applicant_under_18": "Applicant under 18",
    "income_below_minimum": f"Income below CNY {MIN_ANNUAL_INCOME:,}",
    "liveness_failed": "Liveness check failed",
    "liveness_score_low": f"Liveness score below {LIVENESS_REVIEW_BELOW:.2f}",
    "liveness_attempts_exhausted": "Liveness attempts used up",
    "agreement_signature_invalid": "Agreement signature invalid",
    "attestation_rejected": "Phone attestation rejected",
    "attestation_revoked": "Phone revoked by its manufacturer",
    "boot_state_not_verified": "Phone boot state not verified",
    "attestation_software_only": "Phone keys in software, not hardware",
    "patch_level_unknown": "Phone security patch level unknown",
    "patch_level_outdated": f"Phone security patch older than {PATCH_REVIEW_AFTER_MONTHS} months",
    "device_binding_refused": "Phone binding refused too often",
    "interview_paid_to_apply": "Interview: paid or asked to apply",
    "interview_identity_mismatch": "Interview: identity answers do not match",
    "interview_not_voluntary": "Interview: not applying of their own will",
    "interview_rate_misunderstood": "Interview: interest rate misunderstood",
    "interview_fee_misunderstood": "Interview: annual fee misunderstood",
    "interview_employer_mismatch": "Interview: employer differs from the form",
    "interview_answer_too_fast": "Interview: answered faster than reading",
    "interview_timing_inconsistent": "Interview: answer timing inconsistent",
    "interview_flag_unknown": "Interview: unknown flag",
    "staff_review": "Decided by staff review",
    "staff_override": "Approved by a four-eyes override",
}


@dataclass(frozen=True)
class AttestationVerdict:
    """What the issuer's own verifier established about the bound device."""

    accepted: bool
    security_level: str  # Software / TrustedEnvironment / StrongBox
    verified_boot_state: str  # Verified / SelfSigned / Unverified / Failed
    os_patch_level: int | None  # YYYYMM
    revoked: bool


@dataclass(frozen=True)
class DecisionInputs:
    """Everything the rules look at; no database, no clock."""

    today: date
    age: int
    annual_income: int
    identity_checks_passed: bool
    liveness_passed: bool
    liveness_score: float
    interview_flags: frozenset[str]
    attestation: AttestationVerdict
    signature_valid: bool
    # The limit printed in the agreement the applicant signed: the card never gets more, even
    # if the scorecard now gives more (an applicant who turned 22 since the form).
    offered_credit_limit: int | None = None


@dataclass(frozen=True)
class DecisionResult:
    """Outcome, machine-readable reason codes (sorted) and the credit limit in yuan."""

    outcome: Outcome
    reasons: tuple[str, ...]
    credit_limit: int


def credit_limit_for(*, annual_income: int, age: int) -> int:
    """Scorecard credit limit in yuan (0 below the minimum income), rounded down to 1000."""
    share = 0.0
    for lower_bound, band_share in INCOME_BANDS:
        if annual_income >= lower_bound:
            share = band_share
    limit = min(int(annual_income * share) // 1000 * 1000, MAX_CREDIT_LIMIT)
    if age < YOUNG_APPLICANT_AGE:
        limit = min(limit, YOUNG_APPLICANT_LIMIT_CAP)
    return limit


def prescreen_declines(*, annual_income: int) -> tuple[str, ...]:
    """Decline reasons already certain from the identity form alone (sorted; empty if none).

    Checked when the form is submitted, so nobody is asked for a face scan, an interview and a
    signature on an application that is bound to be declined.
    """
    return ("income_below_minimum",) if annual_income < MIN_ANNUAL_INCOME else ()


def _months_between(patch_level: int, today: date) -> int:
    year, month = divmod(patch_level, 100)
    return (today.year - year) * 12 + (today.month - month)


def decide_application(inputs: DecisionInputs) -> DecisionResult:
    """Apply the rules: any decline reason declines; else any review reason goes to staff."""
    decline: set[str] = set()
    review: set[str] = set()
    attestation = inputs.attestation

    if not inputs.identity_checks_passed:
        decline.add("identity_checks_failed")
    if inputs.age < 18:
        decline.add("applicant_under_18")
    decline.update(prescreen_declines(annual_income=inputs.annual_income))
    if not inputs.liveness_passed:
        decline.add("liveness_failed")
    elif inputs.liveness_score < LIVENESS_REVIEW_BELOW:
        review.add("liveness_score_low")
    if not inputs.signature_valid:
        decline.add("agreement_signature_invalid")

    if not attestation.accepted:
        decline.add("attestation_rejected")
    if attestation.revoked:
        decline.add("attestation_revoked")
    if attestation.verified_boot_state != "Verified":
        decline.add("boot_state_not_verified")
    if attestation.security_level not in HARDWARE_SECURITY_LEVELS:
        review.add("attestation_software_only")
    if attestation.os_patch_level is None:
        review.add("patch_level_unknown")
    elif _months_between(attestation.os_patch_level, inputs.today) > PATCH_REVIEW_AFTER_MONTHS:
        review.add("patch_level_outdated")

    for flag in inputs.interview_flags:
        if flag in DECLINE_FLAGS:
            decline.add(flag)
        elif flag in REVIEW_FLAGS:
            review.add(flag)
        else:
            review.add("interview_flag_unknown")

    limit = credit_limit_for(annual_income=inputs.annual_income, age=inputs.age)
    if inputs.offered_credit_limit is not None:
        limit = min(limit, inputs.offered_credit_limit)
    if decline:
        return DecisionResult(Outcome.DECLINE, tuple(sorted(decline)), 0)
    if review:
        return DecisionResult(Outcome.MANUAL_REVIEW, tuple(sorted(review)), limit)
    return DecisionResult(Outcome.APPROVE, (), limit)
