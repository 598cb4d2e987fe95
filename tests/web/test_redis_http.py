"""The app with `REDIS_URL` set, over HTTP: staff sessions, login throttles and liveness sessions
live in a real redis-server (the tables stay empty), and a Redis that is down or restarted gives
clear answers (503; a lost liveness session costs its attempt)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from issuer.models import Application, AuditEntry
from issuer.review_models import LoginThrottle, StaffSession
from issuer.staff_accounts import create_staff
from tests.redis_fixtures import RedisServer
from tests.web.api_driver import feed_frames, ready_applicant
from tests.web.conftest import AppFactory, SteppingClock
from tests.web.staff.conftest import PASSWORD, csrf_token
from web.database import app_database

pytestmark = pytest.mark.integration
PREFIX = "t:"


@pytest.fixture
def redis_app(make_app: AppFactory, redis_server: RedisServer) -> Flask:
    """The app on its SQLite file, with short-lived state in the test's own Redis."""
    app = make_app(REDIS_URL=redis_server.url, CARDSIM_REDIS_PREFIX=PREFIX)
    with app_database(app).sessions.begin() as s:
        create_staff(s, username="alice", password=PASSWORD, role="reviewer",
                     now=app.config["CARDSIM_CLOCK"]())
    return app


def login(client: FlaskClient, password: str = PASSWORD, username: str = "alice") -> int:
    response = client.post("/staff/login", data={
        "username": username, "password": password, "csrf_token": csrf_token(client)})
    return response.status_code


def count(app: Flask, table: type[StaffSession] | type[LoginThrottle]) -> int:
    with app_database(app).sessions() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def audit_count(app: Flask, action: str) -> int:
    with app_database(app).sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == action)) or 0


def test_staff_session_lives_in_redis_until_logout(
    redis_app: Flask, redis_server: RedisServer
) -> None:
    look = redis_server.client()
    with redis_app.test_client() as client:
        assert login(client) == 303
        cookie = client.get_cookie("cardsim_staff", path="/staff")
        assert cookie is not None
        key = f"{PREFIX}staff_session:{hashlib.sha256(cookie.value.encode()).hexdigest()}"
        assert look.exists(key) == 1
        assert 8 * 3600 * 1000 - 5000 < look.pttl(key) <= 8 * 3600 * 1000
        assert count(redis_app, StaffSession) == 0
        assert client.get("/staff/").status_code == 200
        token = csrf_token(client, "/staff/")
        assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303
        assert look.exists(key) == 0
        assert audit_count(redis_app, "staff.logout") == 1  # the audit entry stays in the DB
        assert client.get("/staff/").status_code == 303  # back to the login page


def test_lockout_after_five_failures_comes_from_redis(
    redis_app: Flask, redis_server: RedisServer
) -> None:
    look = redis_server.client()
    with redis_app.test_client() as client:
        assert [login(client, "wrong password") for _ in range(5)] == [401] * 5
        assert login(client) == 429  # locked, even with the right password
        stored = orjson.loads(look.get(f"{PREFIX}throttle:user:alice") or b"{}")
        assert stored["failures"] == 5 and stored["locked_until"]
        assert 0 < look.pttl(f"{PREFIX}throttle:user:alice") <= 30 * 60 * 1000
        assert count(redis_app, LoginThrottle) == 0
        assert audit_count(redis_app, "staff.login_throttled") == 1
        # A name with no account is locked by the throttle alone (alice's account row has its
        # own lock in the database): flushing Redis lifts it, so it was only in Redis.
        guesses = [login(client, "guess", username="mallory") for _ in range(6)]
        assert guesses == [401] * 5 + [429]
        look.flushall()
        assert login(client, "guess", username="mallory") == 401


def liveness_column(app: Flask, application_id: str) -> object:
    with app_database(app).sessions() as s:
        application = s.get(Application, application_id)
        assert application is not None
        return application.liveness_state


def test_redis_down_is_a_503_and_a_restart_costs_the_lost_attempt(
    redis_app: Flask, redis_server: RedisServer
) -> None:
    with redis_app.test_client() as client:
        applicant = ready_applicant(client, redis_app)
        started = applicant.post("/liveness/sessions")
        assert started.status_code == 201 and started.get_json()["attempts_left"] == 2
        pointer = liveness_column(redis_app, applicant.application_id)
        assert isinstance(pointer, dict) and set(pointer) == {"session", "key"}  # no state
        redis_server.restart()  # no persistence: the session's state is lost
        frame = client.post(applicant.base + "/liveness/frames", data=b"\xff\xd8 not read",
                            content_type="image/jpeg", headers=applicant.headers())
        assert frame.status_code == 409 and "start one" in frame.get_json()["error"]["message"]
        again = applicant.post("/liveness/sessions")
        assert again.status_code == 201 and again.get_json()["attempts_left"] == 1

        redis_server.stop()
        down = applicant.post("/liveness/sessions")
        assert down.status_code == 503
        assert down.get_json()["error"]["code"] == "session_store_unavailable"
        assert down.headers["Retry-After"] == "5"
        page = client.post("/staff/login", data={
            "username": "alice", "password": PASSWORD, "csrf_token": csrf_token(client)})
        assert page.status_code == 503
        assert "session store is unavailable" in page.get_data(as_text=True)
        assert "Traceback" not in page.get_data(as_text=True)
        assert applicant.state() == "identity_submitted"  # nothing half-written


def test_a_bad_redis_url_fails_at_app_creation(make_app: AppFactory) -> None:
    from web.config import ConfigError

    with pytest.raises(ConfigError, match="REDIS_URL must start with redis://"):
        make_app(REDIS_URL="http://127.0.0.1:6379")


@pytest.fixture(scope="module")
def live_jpegs() -> list[bytes]:
    from web.commands.demo import clip_jpegs

    return clip_jpegs(("blink", "turn_left", "open_mouth"))


@pytest.mark.slow
def test_a_liveness_session_over_http_keeps_its_state_in_redis(
    redis_app: Flask, redis_server: RedisServer, clock: SteppingClock, live_jpegs: list[bytes]
) -> None:
    look = redis_server.client()
    with redis_app.test_client() as client:
        applicant = ready_applicant(client, redis_app)
        assert applicant.post("/liveness/sessions").status_code == 201
        pointer = liveness_column(redis_app, applicant.application_id)
        assert isinstance(pointer, dict) and set(pointer) == {"session", "key"}
        key = f"{PREFIX}liveness:{applicant.application_id}:{pointer['key']}"

        def mid_session(i: int) -> None:  # the state is in Redis, the column only points at it
            if i == 5:
                assert int(look.hget(key, "version") or 0) == 7  # start + 6 frames
                ttl = look.pttl(key)
                assert timedelta(hours=71) < timedelta(milliseconds=ttl) <= timedelta(hours=72)
                assert liveness_column(redis_app, applicant.application_id) == pointer

        body = feed_frames(applicant, clock, live_jpegs, after_frame=mid_session)
        assert body["finished"] and body["passed"] is True
        assert applicant.state() == "liveness_passed"
        assert liveness_column(redis_app, applicant.application_id) is None
        assert look.keys(f"{PREFIX}liveness:*") == []  # deleted after the commit
