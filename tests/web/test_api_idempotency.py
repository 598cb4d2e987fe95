"""Starting an application with an Idempotency-Key: a client that lost the answer and sends
the start again gets the same application and the same access token, never a second one, also
when the copies arrive at once (a real SQLite file, and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from issuer.db import upgrade_database
from issuer.models import Application
from tests.db_fixtures import fresh_postgres_schema
from tests.web.conftest import AppFactory, SteppingClock
from web.database import app_database

pytestmark = pytest.mark.integration

KEY = "3f2c9a1e-7b4d-4e8a-9c61-0d5b2f7a8e13"


def start(client: FlaskClient, body: Any = None, key: str | None = KEY) -> TestResponse:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post("/api/v1/applications", json={"consent": True} if body is None else body,
                       headers=headers)


def application_count(app: Flask) -> int:
    with app_database(app).sessions() as session:
        return session.scalar(select(func.count()).select_from(Application)) or 0


def test_a_start_sent_again_with_its_key_gets_the_same_answer(
    client: FlaskClient, app: Flask
) -> None:
    first = start(client)
    assert first.status_code == 201, first.get_json()
    again = start(client, body={"consent": True})
    assert again.status_code == 201, again.get_json()
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert application_count(app) == 1
    token = first.get_json()["access_token"]
    status = client.get(first.headers["Location"], headers={"Authorization": f"Bearer {token}"})
    assert status.status_code == 200 and status.get_json()["state"] == "started"
    other = start(client, key="a-different-key-0123456789")
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]
    assert start(client, key=None).get_json()["id"] != first.get_json()["id"]
    assert application_count(app) == 3


def test_the_same_key_with_another_body_is_refused_and_starts_nothing(
    client: FlaskClient, app: Flask
) -> None:
    assert start(client).status_code == 201
    refused = start(client, body={"consent": True, "channel": "partner"})
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "idempotency_key_mismatch"
    assert "different request body" in error["message"]
    assert "access_token" not in refused.get_json()
    assert application_count(app) == 1


def test_the_answer_is_not_given_again_once_the_token_is_used_or_the_window_is_over(
    client: FlaskClient, app: Flask, clock: SteppingClock
) -> None:
    first = start(client).get_json()
    assert client.get(f"/api/v1/applications/{first['id']}",
                      headers={"Authorization": f"Bearer {first['access_token']}"}
                      ).status_code == 200
    used = start(client)
    assert used.status_code == 409, used.get_json()
    assert used.get_json()["error"]["code"] == "idempotency_answer_gone"
    assert "access_token" not in used.get_json()

    key = "second-key-0123456789abcdef"
    assert start(client, key=key).status_code == 201
    clock.advance(9 * 60)
    assert start(client, key=key).status_code == 201  # still within the window
    clock.advance(61)
    late = start(client, key=key)
    assert late.status_code == 409, late.get_json()
    assert late.get_json()["error"]["code"] == "idempotency_answer_gone"
    assert application_count(app) == 2
    with app_database(app).sessions() as session:
        kept = session.scalars(select(Application.creation_replay)).all()
    assert kept == [None, None]  # neither token is kept any more (the late start purged it)


@pytest.mark.parametrize("key", ["short", "x" * 129, "tab\there-0123456789"])
def test_a_malformed_key_is_refused(client: FlaskClient, app: Flask, key: str) -> None:
    refused = start(client, key=key)
    assert refused.status_code == 422, refused.get_json()
    assert "Idempotency-Key" in refused.get_json()["error"]["fields"]
    assert application_count(app) == 0


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)])
def any_db_app(request: pytest.FixtureRequest, make_app: AppFactory) -> Iterator[Flask]:
    """The app on a real SQLite file, or on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield make_app()
        return
    for url in fresh_postgres_schema():
        upgrade_database(url)
        app = make_app(DATABASE_URL=url)
        yield app
        app_database(app).engine.dispose()


def test_ten_identical_starts_at_once_make_one_application(any_db_app: Flask) -> None:
    barrier = threading.Barrier(10)
    answers: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def send() -> None:
        with any_db_app.test_client() as own:
            barrier.wait()
            response = start(own)
            with lock:
                answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [201] * 10, answers
    assert len({(body["id"], body["access_token"]) for _, body in answers}) == 1
    assert application_count(any_db_app) == 1
