"""Request rate limits over HTTP: applications and phones per client address, frames per
application; 429 with Retry-After as JSON or a page; counted in the database or in Redis."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from issuer.models import Application
from issuer.rate_limit_models import RateCounter
from tests.redis_fixtures import RedisServer
from tests.web.api_driver import ready_applicant
from tests.web.conftest import AppFactory, SteppingClock
from tests.web.test_pages import csrf_token
from web.config import ConfigError, parse_rate_limits
from web.database import app_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live_jpeg() -> bytes:
    """A plain 640x480 camera frame (no face: the session just keeps waiting for one)."""
    ok, encoded = cv2.imencode(".jpg", np.full((480, 640, 3), 120, np.uint8))
    assert ok
    return encoded.tobytes()


def create(client: FlaskClient, address: str = "127.0.0.1",
           **headers: str) -> tuple[int, dict[str, Any], str | None]:
    response = client.post("/api/v1/applications", json={"consent": True}, headers=headers,
                           environ_base={"REMOTE_ADDR": address})
    return response.status_code, response.get_json(), response.headers.get("Retry-After")


def counters(app: Flask) -> int:
    with app_database(app).sessions() as s:
        return s.scalar(select(func.count()).select_from(RateCounter)) or 0


def applications(app: Flask) -> int:
    with app_database(app).sessions() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def test_applications_per_address_then_429_with_retry_after(
        make_app: AppFactory, clock: SteppingClock) -> None:
    app = make_app(CARDSIM_RATE_LIMITS="applications=3/h")
    with app.test_client() as client:
        assert [create(client)[0] for _ in range(3)] == [201] * 3
        status, body, retry_after = create(client)
        assert status == 429
        assert body["error"]["code"] == "rate_limited"
        assert "Too many applications from this address" in str(body["error"]["message"])
        assert retry_after is not None and 1 <= int(retry_after) <= 3600
        assert applications(app) == 3  # the refused request created nothing
        # The browser start page shares the limit and answers with a page.
        page = client.get("/").get_data(as_text=True)
        refused = client.post("/start", data={"consent": "yes", "csrf_token": csrf_token(page)},
                              headers={"Accept": "text/html"})
        assert refused.status_code == 429 and refused.headers["Retry-After"]
        assert "Too many applications" in refused.get_data(as_text=True)
        clock.advance(3600)  # the next window
        assert create(client)[0] == 201


def test_forwarded_address_is_believed_only_behind_a_configured_proxy(
        make_app: AppFactory) -> None:
    direct = make_app(CARDSIM_RATE_LIMITS="applications=2/h")
    with direct.test_client() as client:
        spoofed = [create(client, **{"X-Forwarded-For": f"198.51.100.{i}"})[0] for i in range(3)]
        assert spoofed == [201, 201, 429]  # all counted against the real peer address
    proxied = make_app(CARDSIM_RATE_LIMITS="applications=2/h", CARDSIM_TRUSTED_PROXIES=1)
    with proxied.test_client() as client:
        first = [create(client, **{"X-Forwarded-For": "198.51.100.7"})[0] for _ in range(3)]
        other = create(client, **{"X-Forwarded-For": "198.51.100.8"})[0]
        assert first == [201, 201, 429] and other == 201


def test_ipv6_clients_are_counted_by_their_64(make_app: AppFactory) -> None:
    """A host picks any address in its /64 at will, so rotating through it must not help."""
    app = make_app(CARDSIM_RATE_LIMITS="applications=2/h")
    with app.test_client() as client:
        rotating = [create(client, f"2001:db8:5:7::{i:x}")[0] for i in range(1, 4)]
        assert rotating == [201, 201, 429]
        assert create(client, "2001:db8:5:8::1")[0] == 201  # the next /64 is someone else
        assert create(client, "::ffff:192.0.2.9")[0] == 201  # IPv4-mapped counts as IPv4 ...
        assert create(client, "192.0.2.9")[0] == 201
        assert create(client, "192.0.2.9")[0] == 429  # ... together with the plain address
        assert create(client, "192.0.2.10")[0] == 201  # IPv4 addresses count one by one


def test_phone_creation_per_address(make_app: AppFactory) -> None:
    app = make_app(CARDSIM_RATE_LIMITS="phones=2/h")
    with app.test_client() as client:
        statuses = [client.post("/device/phones", json={"profile": "genuine"}).status_code
                    for _ in range(3)]
        assert statuses == [201, 201, 429]


def test_frames_per_application_leave_the_session_untouched(
        make_app: AppFactory, clock: SteppingClock, live_jpeg: bytes) -> None:
    app = make_app(CARDSIM_RATE_LIMITS="frames=2/s")
    with app.test_client() as client:
        applicant = ready_applicant(client, app)
        assert applicant.post("/liveness/sessions").status_code == 201

        def frame() -> int:
            return applicant.client.post(applicant.base + "/liveness/frames", data=live_jpeg,
                                         content_type="image/jpeg",
                                         headers=applicant.headers()).status_code

        clock.current = clock.current.replace(microsecond=100_000)
        assert [frame(), frame()] == [200, 200]
        with app_database(app).sessions() as s:
            before = s.get(Application, applicant.application_id)
            assert before is not None
            stored = before.liveness_state
        assert frame() == 429
        with app_database(app).sessions() as s:
            after = s.get(Application, applicant.application_id)
            assert after is not None and after.liveness_state == stored
        # Another applicant is not held back by this one's frames.
        other = ready_applicant(client, app)
        assert other.post("/liveness/sessions").status_code == 201
        assert other.client.post(other.base + "/liveness/frames", data=live_jpeg,
                                 content_type="image/jpeg",
                                 headers=other.headers()).status_code == 200
        clock.advance(1)
        assert frame() == 200


def test_counters_live_in_redis_when_configured(
        make_app: AppFactory, redis_server: RedisServer) -> None:
    app = make_app(CARDSIM_RATE_LIMITS="applications=2/h", REDIS_URL=redis_server.url,
                   CARDSIM_REDIS_PREFIX="t:")
    with app.test_client() as client:
        assert [create(client)[0] for _ in range(3)] == [201, 201, 429]
    look = redis_server.client()
    keys = look.keys("t:rate:applications:*")
    assert len(keys) == 1
    assert int(look.get(keys[0]) or 0) == 3  # Redis counts the refused request too
    assert 0 < look.pttl(keys[0]) <= 3600 * 1000
    assert counters(app) == 0


@pytest.mark.unit
@pytest.mark.parametrize("text", ["applications", "applications=3", "applications=3/d",
                                  "bogus=3/h", "frames=0/s", "frames=2/0s", "phones=-1/h"])
def test_bad_rate_limit_settings_are_clear_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="CARDSIM_RATE_LIMITS"):
        parse_rate_limits(text)


@pytest.mark.unit
def test_rate_limit_settings_override_one_limit_at_a_time() -> None:
    limits = parse_rate_limits("frames=30/10s, phones=off")
    frames, phones, applications = limits["frames"], limits["phones"], limits["applications"]
    assert frames is not None and frames.limit == 30 and frames.window == timedelta(seconds=10)
    assert phones is None
    assert applications is not None and applications.limit == 60
