"""The card product's terms, and the agreement text shown on the phone's trusted UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CardTerms:
    """Prices of the card product (one product in this simulator)."""

    product_name: str = "cardsim UnionPay Credit Card"
    annual_interest_rate: str = "18.25%"  # 0.05% a day, the PBoC ceiling before 2017
    annual_fee: str = "CNY 200"
    cash_advance_fee: str = "1% of the amount, at least CNY 10"
    late_payment_fee: str = "5% of the minimum payment due"
    interest_free_days: int = 50


CARD_TERMS = CardTerms()


def terms_for_interview(terms: CardTerms = CARD_TERMS) -> dict[str, str]:
    """The terms the interview script asks about, by placeholder name."""
    return {
        "product_name": terms.product_name,
        "annual_interest_rate": terms.annual_interest_rate,
        "annual_fee": terms.annual_fee,
        "cash_advance_fee": terms.cash_advance_fee,
        "late_payment_fee": terms.late_payment_fee,
    }


def agreement_text(
    *, full_name: str, credit_limit: int, application_id: str, today: date,
    terms: CardTerms = CARD_TERMS,
) -> str:
    """The exact prompt the applicant confirms on the phone (kept under 4000 UTF-8 bytes)."""
    return (
        f"{terms.product_name} agreement\n"
        f"Applicant: {full_name}\n"
        f"Application: {application_id}\n"
        f"Date: {today.isoformat()}\n"
        f"Credit limit: CNY {credit_limit:,}\n"
        f"Purchase interest: {terms.annual_interest_rate} a year; "
        f"up to {terms.interest_free_days} interest-free days if repaid in full\n"
        f"Annual fee: {terms.annual_fee}\n"
        f"Cash advance fee: {terms.cash_advance_fee}\n"
        f"Late payment fee: {terms.late_payment_fee}\n"
        "I confirm the information I gave is true, I apply of my own free will, "
        "and I accept these terms."
    )
