"""The OpenAPI document: every API and phone-panel route is documented, and a bounded
schemathesis run finds no server error and no response outside the document."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from requests.structures import CaseInsensitiveDict
from schemathesis.core.result import Ok

from tests.web.api_driver import start_applicant

pytestmark = pytest.mark.integration

DOCUMENTED_PREFIXES = ("/api/v1/", "/device/")


def flask_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DOCUMENTED_PREFIXES):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routes.add((method.lower(), path))
    return routes


def test_every_route_is_documented_and_every_documented_route_exists(
    client: FlaskClient, app: Flask
) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(method, path) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    assert flask_routes(app) == documented


def test_api_answers_within_its_document(app: Flask) -> None:
    """Random (schema-shaped) requests to every operation, authenticated as a real applicant
    in its first step: no server error, and every answer is one the document describes."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    with app.test_client() as client:
        applicant = start_applicant(client, app)
    checks = [
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.status_code_conformance,
        schemathesis.checks.content_type_conformance,
        schemathesis.checks.response_schema_conformance,
    ]
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 30
    statuses: list[int] = []

    for operation in operations:

        @settings(max_examples=4, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case[Any]) -> None:
            if "application_id" in (case.path_parameters or {}):
                case.path_parameters["application_id"] = applicant.application_id
                case.headers = CaseInsensitiveDict({**dict(case.headers or {}),
                                                    "Authorization": f"Bearer {applicant.token}"})
            response = case.call()
            statuses.append(response.status_code)
            assert response.status_code < 500, response.text
            case.validate_response(response, checks=checks)

        exercise()
    assert len(statuses) >= 2 * len(operations)
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
