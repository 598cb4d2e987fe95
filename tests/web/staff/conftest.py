"""Staff console fixtures: a real app on a migrated SQLite file, real staff accounts of every
role, and real applications driven through the issuer workflow (tests/issuer/flow.py)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from issuer.keys import IssuerKeys
from issuer.staff_accounts import create_staff
from issuer.states import ApplicationState
from tests.issuer.flow import IDENTITY, Flow, PhoneLab
from tests.web.conftest import AppFactory, SteppingClock
from web.database import app_database

PASSWORD = "correct horse battery"
ROLES = ("reviewer", "supervisor", "auditor", "admin")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/staff/login") -> str:
    """The CSRF token of this client's session, read from a console form."""
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@dataclass
class Console:
    """The app under test with helpers to log in and to create cases."""

    app: Flask
    lab: PhoneLab
    clock: SteppingClock
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def factory(self) -> sessionmaker[Session]:
        return app_database(self.app).sessions

    def add_staff(self, username: str, role: str) -> None:
        with self.factory.begin() as s:
            create_staff(s, username=username, password=PASSWORD, role=role,
                         now=datetime.now(UTC))

    def login(self, username: str, password: str = PASSWORD) -> FlaskClient:
        """A fresh client logged in as `username` (asserts success)."""
        client = self.app.test_client()
        token = csrf_token(client)
        response = client.post("/staff/login", data={
            "username": username, "password": password, "csrf_token": token})
        assert response.status_code == 303, response.get_data(as_text=True)
        self.clients[username] = client
        self.tokens[username] = token
        return client

    def post(self, username: str, path: str, data: dict[str, str] | None = None,
             **headers: str) -> TestResponse:
        """POST as a logged-in user, with that user's CSRF token."""
        form = {"csrf_token": self.tokens[username], **(data or {})}
        return self.clients[username].post(path, data=form, headers=headers)

    def get(self, username: str, path: str, **headers: str) -> TestResponse:
        return self.clients[username].get(path, headers=headers)

    def flow(self, **kwargs: object) -> Flow:
        return Flow(self.factory, self.lab, **kwargs)  # type: ignore[arg-type]

    def manual_review_case(self, **kwargs: object) -> str:
        flow = self.flow(flags=("interview_not_voluntary",), **kwargs)
        flow.to(ApplicationState.AGREEMENT_SIGNED).decide()
        return flow.application_id

    def declined_case(self) -> str:
        flow = self.flow(flags=("interview_paid_to_apply",))
        flow.to(ApplicationState.AGREEMENT_SIGNED).decide()
        return flow.application_id

    def low_income_case(self) -> str:
        """Declined automatically at the identity step (income below the minimum): the
        scorecard offered no credit limit."""
        flow = self.flow(identity={**IDENTITY, "annual_income": 10_000})
        flow.start().identity_step()
        return flow.application_id

    def card_case(self) -> tuple[str, int]:
        """An application whose card was issued, provisioned into a real tee_sim phone's SE
        and activated with a PIN: the card is active."""
        flow = self.flow().to(ApplicationState.ISSUED)
        assert flow.provision() == 0x9000
        card = flow.activate()
        return flow.application_id, card.id


@pytest.fixture(scope="session")
def staff_lab(tmp_path_factory: pytest.TempPathFactory) -> PhoneLab:
    """Real emulated phones and the issuer keys they trust (shared by the session)."""
    return PhoneLab.create(tmp_path_factory.mktemp("staff-phones"), IssuerKeys.generate())


@pytest.fixture
def app(make_app: AppFactory, tmp_path: Path, staff_lab: PhoneLab) -> Flask:
    """The app with CSRF on, using the issuer keys the lab's phones trust."""
    key_file = tmp_path / "staff-issuer-keys.json"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(staff_lab.keys.to_json())
    return make_app(CARDSIM_KEY_FILE=key_file)


@pytest.fixture
def console(app: Flask, staff_lab: PhoneLab, clock: SteppingClock) -> Console:
    """The app (CSRF on) with one staff account per role, named after the role."""
    console = Console(app, staff_lab, clock)
    for role in ROLES:
        console.add_staff(role, role)
    return console
