"""Checks before any view: NUL characters and ids too large for the database are refused
with a 4xx, never passed on to a query (PostgreSQL text cannot hold NUL; SQLite integers
overflow past 2**63 - 1)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.api_driver import start_applicant
from tests.web.staff.conftest import csrf_token as staff_csrf_token
from tests.web.test_api_errors import error_of
from tests.web.test_pages import csrf_token
from web.request_guards import MAX_ID

pytestmark = pytest.mark.integration

JSON = {"Accept": "application/json"}


def test_nul_in_path_query_and_form_fields_is_refused(client: FlaskClient) -> None:
    in_path = client.get("/api/v1/applications/abc%00def",
                         headers={**JSON, "Authorization": "Bearer x"})
    assert in_path.status_code == 400 and error_of(in_path)["code"] == "malformed_request"
    in_query = client.get("/staff/?q=abc%00", headers=JSON)
    assert in_query.status_code == 400 and error_of(in_query)["code"] == "malformed_request"
    login = client.post("/staff/login", data={"username": "a\x00b", "password": "x",
                                              "csrf_token": staff_csrf_token(client)})
    assert login.status_code == 400
    assert "NUL character" in login.get_data(as_text=True)  # a page for the browser


@pytest.mark.parametrize("body", [
    {"consent": True, "note": "a\x00b"},
    {"consent": True, "a\x00": 1},
    {"consent": True, "deep": [[[{"x": ["ok", "\x00"]}]]]},
])
def test_nul_in_json_is_refused(client: FlaskClient, body: dict[str, object]) -> None:
    response = client.post("/api/v1/applications", json=body)
    assert response.status_code == 400
    assert error_of(response) == {"code": "malformed_json",
                                  "message": "The request body contains a NUL character."}


@pytest.mark.parametrize("body", [
    b'{"consent": true, "note": "Acme \\ud800 Trading"}',
    b'{"consent": true, "\\udfff": 1}',
    b'{"consent": true, "deep": [[{"x": ["ok", "\\udc00"]}]]}',
])
def test_lone_surrogate_escapes_in_json_are_refused(client: FlaskClient, body: bytes) -> None:
    # Valid JSON syntax, but the string is not Unicode text: it could not be stored in
    # PostgreSQL or shown to staff, so it is refused before any view sees it.
    response = client.post("/api/v1/applications", data=body, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"
    assert "surrogate" in error_of(response)["message"]


def test_paired_surrogate_escapes_are_ordinary_text(client: FlaskClient) -> None:
    body = b'{"consent": true, "note": "\\ud83d\\ude00"}'  # one emoji, written as a pair
    response = client.post("/api/v1/applications", data=body, content_type="application/json")
    assert response.status_code == 201, response.get_json()


def test_ids_beyond_the_database_integer_range_are_not_found(client: FlaskClient) -> None:
    for path in (f"/staff/keyframes/{MAX_ID + 1}", "/staff/cards/99999999999999999999999/reveal"):
        response = client.get(path, headers=JSON)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"


def test_raw_frame_bytes_get_json_errors(client: FlaskClient, app: Flask) -> None:
    applicant = start_applicant(client, app)
    with client.session_transaction() as session:
        session["application_id"] = applicant.application_id
        session["access_token"] = applicant.token
    page = client.get("/application/identity").get_data(as_text=True)
    response = client.post("/application/liveness/frame", data=b"not an image",
                           content_type="application/octet-stream",
                           headers={"X-CSRFToken": csrf_token(page)})
    assert response.status_code in (409, 422)
    error_of(response)
