"""Bad input to the JSON API: precise JSON errors, never a 500, never another's application."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.web.api_driver import start_applicant

pytestmark = pytest.mark.integration


def error_of(response: TestResponse) -> dict[str, Any]:
    """The JSON error object of `response` (code, message and, for field errors, fields)."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def test_malformed_json_wrong_type_and_huge_bodies(client: FlaskClient, app: Flask) -> None:
    applicant = start_applicant(client, app)
    url = applicant.base + "/identity"
    bad_json = client.post(url, data=b"{not json", content_type="application/json",
                           headers=applicant.headers())
    assert bad_json.status_code == 400 and error_of(bad_json)["code"] == "malformed_json"
    not_object = client.post(url, json=[1, 2], headers=applicant.headers())
    assert not_object.status_code == 400
    wrong_type = client.post(url, data=b"full_name=x", content_type="text/plain",
                             headers=applicant.headers())
    assert wrong_type.status_code == 415
    assert error_of(wrong_type)["code"] == "unsupported_media_type"
    huge = client.post(url, data=b"x" * (7 * 1024 * 1024), content_type="application/json",
                       headers=applicant.headers())
    assert huge.status_code == 413 and error_of(huge)
    frame_as_text = client.post(applicant.base + "/liveness/frames", data=b"abc",
                                content_type="text/plain", headers=applicant.headers())
    assert frame_as_text.status_code == 415


def test_field_errors_are_precise(client: FlaskClient, app: Flask) -> None:
    applicant = start_applicant(client, app)
    response = applicant.submit_identity(id_number="110105199003071238", mobile="12345",
                                         annual_income=None)
    assert response.status_code == 422
    fields = error_of(response)["fields"]
    assert set(fields) == {"annual_income"} or {"id_number", "mobile"} <= set(fields)
    response = applicant.submit_identity(id_number="110105199003071238", mobile="12345")
    fields = error_of(response)["fields"]
    assert "check" in fields["id_number"].lower() and "mobile" in fields["mobile"].lower()
    assert applicant.state() == "started"  # nothing half-written


def test_authentication_and_other_applicants(client: FlaskClient, app: Flask) -> None:
    alice = start_applicant(client, app)
    bob = start_applicant(client, app)
    no_token = client.get(alice.base)
    assert no_token.status_code == 401 and error_of(no_token)["code"] == "unauthenticated"
    wrong_scheme = client.get(alice.base, headers={"Authorization": f"Basic {alice.token}"})
    assert wrong_scheme.status_code == 401
    bobs_token_on_alice = client.get(alice.base, headers=bob.headers())
    assert bobs_token_on_alice.status_code == 403
    assert error_of(bobs_token_on_alice)["code"] == "access_denied"
    unknown = client.get("/api/v1/applications/does-not-exist", headers=alice.headers())
    assert unknown.status_code == 403  # indistinguishable from a wrong token: ids can't be probed
    too_long = client.get("/api/v1/applications/" + "a" * 500, headers=alice.headers())
    assert too_long.status_code == 403
    write = client.post(alice.base + "/identity", json={}, headers=bob.headers())
    assert write.status_code == 403
    assert alice.state() == "started"


def test_steps_out_of_order_are_conflicts(client: FlaskClient, app: Flask) -> None:
    applicant = start_applicant(client, app)
    for method, path in [
        ("post", "/liveness/sessions"), ("get", "/interview"),
        ("post", "/device-binding/challenge"), ("get", "/agreement"),
        ("post", "/card/provisioning"), ("post", "/card/activate"),
    ]:
        response = getattr(applicant, method)(path)
        assert response.status_code in (404, 409), (path, response.get_json())
        error_of(response)
    card = applicant.post("/card", None, **{"Idempotency-Key": "k"})
    assert card.status_code == 409 and error_of(card)["code"] in ("wrong_step", "conflict")
    assert applicant.submit_identity().status_code == 200
    again = applicant.submit_identity()
    assert again.status_code == 409
    frame = applicant.client.post(applicant.base + "/liveness/frames", data=b"\xff\xd8x",
                                  content_type="image/jpeg", headers=applicant.headers())
    assert frame.status_code == 409  # no session started


def test_deciding_before_the_agreement_is_signed_is_a_wrong_step(client: FlaskClient,
                                                                  app: Flask) -> None:
    applicant = start_applicant(client, app)

    def refused(state: str) -> None:
        early = applicant.post("/decision")
        assert early.status_code == 409, early.get_json()
        assert error_of(early)["code"] == "wrong_step"
        assert state in error_of(early)["message"]
        assert applicant.state() == state
        assert applicant.get("/decision").status_code == 404  # still nothing decided

    refused("started")
    assert applicant.submit_identity().status_code == 200
    refused("identity_submitted")


def test_income_below_the_minimum_declines_at_the_identity_step(client: FlaskClient,
                                                                app: Flask) -> None:
    applicant = start_applicant(client, app)
    response = applicant.submit_identity(annual_income=23_999)
    assert response.status_code == 200 and response.get_json()["state"] == "declined"
    refused = applicant.post("/liveness/sessions")
    assert refused.status_code == 409 and "declined" in error_of(refused)["message"]


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    method = client.delete("/api/v1/applications")
    assert method.status_code == 405 and error_of(method)["code"] == "method_not_allowed"
    consent = client.post("/api/v1/applications", json={"consent": "yes"})
    assert consent.status_code == 422 and "consent" in error_of(consent)["fields"]


@pytest.mark.parametrize(
    "body",
    [b"", b"null", b"[]", b'{"chains": 1, "challenge": "!!"}', b'{"challenge": "AAAA"}',
     b'{"chains": {"signing": ["###"], "agreement": [], "se": []}, "challenge": "AAAA"}',
     b"\xff\xfe", b'{"a": ' * 1000],
)
def test_garbage_never_causes_a_server_error(client: FlaskClient, app: Flask,
                                             body: bytes) -> None:
    applicant = start_applicant(client, app)
    for path in ("/identity", "/device-binding", "/agreement", "/interview",
                 "/card/provisioning/payload", "/card/provisioning/result", "/card/reveal",
                 "/liveness/frames"):
        response = client.post(applicant.base + path, data=body,
                               content_type="application/json", headers=applicant.headers())
        assert 400 <= response.status_code < 500, (path, body, response.status_code)
        error_of(response)
    for path in ("/device/phones/dev-0000000000000000/bind",
                 "/device/phones/../../etc/passwd/pin", "/device/phones/x/pin"):
        response = client.post(path, data=body, content_type="application/json")
        assert 400 <= response.status_code < 500, (path, body, response.status_code)


@pytest.mark.parametrize("profile", ["", "jailbroken", 7, None, ["genuine"], "../genuine"])
def test_unknown_phone_profiles_are_refused(client: FlaskClient, profile: object) -> None:
    response = client.post("/device/phones", json={"profile": profile})
    assert response.status_code == 422 and error_of(response)["code"] == "unknown_profile"
