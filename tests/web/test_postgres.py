"""The applicant API on PostgreSQL: the same flow, with row locks instead of SQLite's
database lock (one transaction per request, committed at the end)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from issuer.db import upgrade_database
from tests.db_fixtures import fresh_postgres_schema
from tests.web.api_driver import Phone, bind_phone, provision, ready_applicant, sign_agreement
from tests.web.conftest import AppFactory

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def pg_app(make_app: AppFactory) -> Iterator[Flask]:
    for url in fresh_postgres_schema():
        upgrade_database(url)
        app = make_app(DATABASE_URL=url)
        yield app
        from web.database import app_database

        app_database(app).engine.dispose()


def test_api_flow_to_an_activated_card_on_postgres(pg_app: Flask) -> None:
    from tee_sim import wallet

    with pg_app.test_client() as client:
        applicant = ready_applicant(client, pg_app)
        applicant.pass_liveness()
        assert applicant.answer_interview().status_code == 200
        phone = Phone(pg_app)
        assert bind_phone(applicant, phone).status_code == 200
        assert sign_agreement(applicant, phone).status_code == 200
        assert applicant.post("/decision").get_json()["outcome"] == "approved"
        first = applicant.post("/card", None, **{"Idempotency-Key": "pg-1"})
        second = applicant.post("/card", None, **{"Idempotency-Key": "pg-1"})
        assert first.status_code == second.status_code == 201
        assert first.get_json()["id"] == second.get_json()["id"]
        assert provision(applicant, phone).status_code == 200
        wallet.set_pin(phone.device, pin="9753")
        assert applicant.post("/card/activate").get_json()["status"] == "active"
        assert applicant.state() == "activated"
