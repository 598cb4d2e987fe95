"""schemathesis against the app's own OpenAPI document, with valid and schema-violating input,
as applicants in several states: no 5xx, and every answer is one the document describes.

A bounded run (about 250-300 cases); the count is recorded in test-artifacts/fuzz/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from issuer.db import upgrade_database
from tests.web.api_driver import ApiApplicant, start_applicant
from web.app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_PER_MODE = 5
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    instance = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{instance / 'cardsim.db'}"
    upgrade_database(url)
    return create_app({"DATABASE_URL": url, "CARDSIM_KEY_FILE": instance / "keys.json",
                       "CARDSIM_DEVICE_DIR": instance / "devices", "TESTING": True})


@pytest.fixture(scope="module")
def applicants(app: Flask) -> Iterator[list[ApiApplicant]]:
    """Applicants in `started`, `identity_submitted` and `interview_done`."""
    with app.test_client() as client:
        started = start_applicant(client, app)
        with_identity = start_applicant(client, app)
        assert with_identity.submit_identity().status_code == 200
        at_binding = start_applicant(client, app)
        assert at_binding.submit_identity().status_code == 200
        at_binding.pass_liveness()
        assert at_binding.answer_interview().status_code == 200
        yield [started, with_identity, at_binding]


def _fuzzer(operation: Any, mode: schemathesis.GenerationMode, owner: ApiApplicant,
            statuses: list[int], failures: list[str]) -> Any:
    @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: schemathesis.Case[Any]) -> None:
        if "application_id" in (case.path_parameters or {}):
            case.path_parameters["application_id"] = owner.application_id
            headers = {**dict(case.headers or {}), "Authorization": f"Bearer {owner.token}"}
            case.headers = headers  # type: ignore[assignment]
        response = case.call()
        statuses.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as exc:
            failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:400]}")
            raise

    return exercise


def test_api_conforms_to_its_document_under_fuzzing(app: Flask,
                                                   applicants: list[ApiApplicant]) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    statuses: list[int] = []
    failures: list[str] = []
    for number, operation in enumerate(operations):
        for mode in schemathesis.GenerationMode:
            exercise = _fuzzer(operation, mode, applicants[number % len(applicants)],
                               statuses, failures)
            try:
                exercise()
            except AssertionError:
                pass  # recorded; keep fuzzing the other operations
            except Unsatisfiable:
                # An operation without inputs has no schema-violating variant.
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    artifacts = REPO / "test-artifacts" / "fuzz"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "schemathesis.json").write_text(json.dumps({
        "operations": len(operations), "cases": len(statuses),
        "server_errors": sum(s >= 500 for s in statuses), "failures": failures,
    }, indent=2))
    assert failures == []
    assert len(operations) >= 30 and len(statuses) >= 100
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
