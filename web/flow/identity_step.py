"""Step 2: the identity form."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from issuer.applications import ApplicationView
from issuer.errors import ValidationFailed
from issuer.identity import beijing_date, validate_identity
from issuer.onboarding import submit_identity
from web.clock import now
from web.database import db_session
from web.flow.card_step import issuer_keys

IDENTITY_FIELDS = ("full_name", "id_number", "mobile", "annual_income", "employer")
MAX_FIELD_CHARS = 200


def submit_identity_form(*, application_id: str, values: Mapping[str, object]) -> ApplicationView:
    """Validate field presence/shape here, content rules in the issuer; store the identity.

    Every problem is reported in one round: a missing or over-long field gets its own message,
    and the issuer's content rules still judge the fields that are present.
    """
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for name in IDENTITY_FIELDS:
        raw = values.get(name)
        if isinstance(raw, int) and not isinstance(raw, bool) and name == "annual_income":
            raw = str(raw)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            errors[name] = "This field is required."
        elif name == "annual_income" and not isinstance(raw, str):
            errors[name] = "Annual income must be a whole number of yuan."  # 1.5, true, [..]
        elif not isinstance(raw, str):
            errors[name] = "This field must be text."
        elif len(raw) > MAX_FIELD_CHARS:
            errors[name] = f"At most {MAX_FIELD_CHARS} characters."
        else:
            clean[name] = raw.strip()
    when = now()
    if errors:
        raise ValidationFailed({**_content_errors(clean, today=beijing_date(when)), **errors})
    return submit_identity(
        db_session(), application_id=application_id, full_name=clean["full_name"],
        id_number=clean["id_number"], mobile=clean["mobile"],
        annual_income=clean["annual_income"], employer=clean["employer"], keys=issuer_keys(),
        now=when,
    )


def _content_errors(clean: Mapping[str, str], *, today: date) -> dict[str, str]:
    """The issuer's complaints about the fields in `clean` (the absent ones are judged apart)."""
    try:
        validate_identity(
            full_name=clean.get("full_name", ""), id_number=clean.get("id_number", ""),
            mobile=clean.get("mobile", ""), annual_income=clean.get("annual_income", ""),
            employer=clean.get("employer", ""), today=today,
        )
    except ValidationFailed as exc:
        return {name: text for name, text in exc.field_errors.items() if name in clean}
    return {}
