"""Applicant-facing rules of the identity form and the interview, through `/api/v1`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer.keys import IssuerKeys
from issuer.models import Application, InterviewRecord
from issuer.personal_data import open_personal_field
from tests.issuer.flow import resident_id
from tests.web.api_driver import (
    HONEST_ANSWERS,
    ApiApplicant,
    Phone,
    bind_phone,
    ready_applicant,
    sign_agreement,
    start_applicant,
)
from tests.web.conftest import SteppingClock
from tests.web.test_pages import start, submit_identity
from web.database import app_database

pytestmark = pytest.mark.integration


def interview_flags(app: Flask, applicant: ApiApplicant) -> list[str]:
    with app_database(app).sessions() as session:
        record = session.scalars(select(InterviewRecord).where(
            InterviewRecord.application_id == applicant.application_id)).one()
        return list(record.flags)


def test_answers_sent_faster_than_anyone_reads_are_flagged_without_client_times(
        client: FlaskClient, app: Flask, clock: SteppingClock) -> None:
    applicant = ready_applicant(client, app)
    applicant.pass_liveness()
    served = applicant.get("/interview").get_json()
    clock.advance(0.2)  # seven questions answered in 200 ms, no response_ms to contradict
    answers: list[dict[str, Any]] = [{"question_id": q["id"], "value": HONEST_ANSWERS[q["id"]]}
                                     for q in served["questions"]]
    response = applicant.post("/interview", {"token": served["token"], "answers": answers})
    assert response.status_code == 200, response.get_json()
    assert interview_flags(app, applicant) == ["interview_answer_too_fast"]


def eighteenth_birthday_just_after_beijing_midnight(clock: SteppingClock) -> date:
    """Set the app clock to 01:00 in Beijing (17:00 UTC the day before) on a coming day; the
    birth date of someone turning 18 on that Beijing day."""
    day = datetime.now(UTC).date() + timedelta(days=2)
    if (day.month, day.day) == (2, 29):
        day += timedelta(days=1)
    clock.current = datetime.combine(day - timedelta(days=1), time(17, 0), tzinfo=UTC)
    return date(day.year - 18, day.month, day.day)


def test_age_counts_on_the_beijing_date_at_the_form_and_at_the_decision(
        client: FlaskClient, app: Flask, clock: SteppingClock) -> None:
    birth = eighteenth_birthday_just_after_beijing_midnight(clock)
    applicant = start_applicant(client, app)
    response = applicant.submit_identity(id_number=resident_id("110105", birth, "123"))
    assert response.status_code == 200, response.get_json()
    applicant.pass_liveness()
    assert applicant.answer_interview().status_code == 200
    phone = Phone(app)
    assert bind_phone(applicant, phone).status_code == 200
    assert sign_agreement(applicant, phone).status_code == 200
    decision = applicant.post("/decision").get_json()
    assert (decision["outcome"], decision["reasons"]) == ("approved", [])


def test_a_day_before_the_eighteenth_birthday_in_beijing_is_still_too_young(
        client: FlaskClient, app: Flask, clock: SteppingClock) -> None:
    birth = eighteenth_birthday_just_after_beijing_midnight(clock)
    clock.advance(-3600 * 2)  # 23:00 in Beijing, the day before the birthday
    response = start_applicant(client, app).submit_identity(
        id_number=resident_id("110105", birth, "123"))
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "id_number": "Applicants must be at least 18 years old."}


def test_turning_22_between_the_form_and_the_decision_keeps_the_signed_limit(
        client: FlaskClient, app: Flask, clock: SteppingClock) -> None:
    today = datetime.now(UTC).date() + timedelta(days=2)
    if (today.month, today.day) in ((2, 28), (2, 29)):
        today += timedelta(days=2)
    clock.current = datetime.combine(today, time(4, 0), tzinfo=UTC)  # noon in Beijing
    tomorrow = today + timedelta(days=1)
    birth = date(tomorrow.year - 22, tomorrow.month, tomorrow.day)  # 22 tomorrow
    applicant = start_applicant(client, app)
    response = applicant.submit_identity(id_number=resident_id("110105", birth, "123"),
                                         annual_income="120000")
    assert response.get_json()["offered_credit_limit"] == 10_000  # the under-22 cap
    applicant.pass_liveness()
    assert applicant.answer_interview().status_code == 200
    phone = Phone(app)
    assert bind_phone(applicant, phone).status_code == 200
    assert sign_agreement(applicant, phone).status_code == 200  # "Credit limit: CNY 10,000"
    clock.advance(24 * 3600)  # the applicant's 22nd birthday
    decision = applicant.post("/decision").get_json()
    assert (decision["outcome"], decision["credit_limit"]) == ("approved", 10_000)


def stored_identity(app: Flask, application_id: str) -> dict[str, object]:
    keys = IssuerKeys.load_or_create(Path(app.config["CARDSIM_KEY_FILE"]))
    with app_database(app).sessions() as session:
        person = session.get(Application, application_id).applicant  # type: ignore[union-attr]
        assert person is not None
        return {"full_name": person.full_name, "annual_income": person.annual_income,
                "id_number": open_personal_field(keys=keys, application_id=application_id,
                                                 field="id_number",
                                                 sealed=person.id_number_sealed),
                "mobile": open_personal_field(keys=keys, application_id=application_id,
                                              field="mobile", sealed=person.mobile_sealed),
                "masked": (person.id_number_masked, person.mobile_masked)}


def test_the_identity_page_stores_a_full_width_grouped_form_as_the_plain_one(
        client: FlaskClient, app: Flask) -> None:
    plain = start_applicant(client, app)
    number = resident_id("110105", date(1990, 3, 7), "005")  # ends in X
    assert number.endswith("X")
    assert plain.submit_identity(full_name="买买提·艾力", id_number=number,
                                 annual_income="120000").status_code == 200
    page = start(client)
    maxlength = re.search(r'id="id_number"[^>]*maxlength="(\d+)"', page)
    assert maxlength and int(maxlength.group(1)) >= len("110105 19900307 005x")
    grouped = f"{number[:6]} {number[6:14]} {number[14:].lower()}"
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c != " " else "\u3000" for c in grouped)
    response = submit_identity(client, page, full_name="买买提・艾力", id_number=fullwidth,
                               mobile="＋８６ １３８１２３４５６７８",
                               annual_income="１２０，０００")
    assert response.status_code == 302  # type: ignore[attr-defined]
    with app_database(app).sessions() as session:
        ids = [a.id for a in session.scalars(select(Application)).all()]
    other = next(i for i in ids if i != plain.application_id)
    assert stored_identity(app, other) == stored_identity(app, plain.application_id)


NOT_WHOLE_YUAN = {"annual_income": "Annual income must be a whole number of yuan."}


@pytest.mark.parametrize(("changes", "errors"), [
    ({"annual_income": 120000.5}, NOT_WHOLE_YUAN),
    ({"annual_income": 1e9}, NOT_WHOLE_YUAN),
    ({"annual_income": True}, NOT_WHOLE_YUAN),
    ({"annual_income": [120000]}, NOT_WHOLE_YUAN),
    ({"full_name": 123, "mobile": 13812345678, "employer": {"name": "Acme"}},
     {"full_name": "This field must be text.", "mobile": "This field must be text.",
      "employer": "This field must be text."}),
    ({"id_number": None, "annual_income": None},
     {"id_number": "This field is required.", "annual_income": "This field is required."}),
])
def test_api_values_of_the_wrong_json_type_are_named_as_such(
        client: FlaskClient, app: Flask, changes: dict[str, object],
        errors: dict[str, str]) -> None:
    applicant = start_applicant(client, app)
    response = applicant.submit_identity(**changes)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == errors
    assert applicant.state() == "started"
