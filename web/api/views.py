"""JSON API routes: thin; every step's logic lives in `web.flow`."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Response, current_app, jsonify, request, url_for

from issuer.applications import ApplicationView
from issuer.errors import NotFound, ValidationFailed
from issuer.interview import Answer
from issuer.onboarding import (
    MAX_LIVENESS_SESSIONS,
    CreationKey,
    CreationKeyConflict,
    start_application,
)
from issuer.states import ApplicationState
from web.api import api_bp
from web.applicant.stepper import step_for
from web.applicant_auth import bearer_application
from web.clock import now
from web.database import db_session, mark_for_commit_despite_error
from web.device.pin_check import verify_cardholder_pin
from web.errors import WebError
from web.flow import (
    agreement_step,
    binding_step,
    card_step,
    decision_step,
    identity_step,
    interview_step,
    liveness_step,
)
from web.flow.binding_step import b64, b64decode_field
from web.json_body import json_object, read_frame_body
from web.rate_limits import client_group, enforce_rate_limit

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
MAX_ANSWERS = 50


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (parsed once per process)."""
    document: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    return document


def _status(application: ApplicationView) -> dict[str, Any]:
    return {
        "id": application.id,
        "state": application.state.value,
        "next_step": step_for(application.state),
        "expires_at": application.expires_at.isoformat(),
        "liveness_attempts_left": max(0, MAX_LIVENESS_SESSIONS - application.liveness_sessions),
        "binding_attempts_left": binding_step.attempts_left(application.binding_attempts),
        "offered_credit_limit": application.offered_credit_limit,
    }


def _refusal(code: str | None, message: str, **extra: Any) -> tuple[Response, int]:
    mark_for_commit_despite_error()
    body: dict[str, Any] = {"error": {"code": code or "refused", "message": message}, **extra}
    return jsonify(body), 422


@api_bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


def _idempotency_key() -> str | None:
    """The `Idempotency-Key` header, None when absent or empty (the issuer checks its form)."""
    return request.headers.get("Idempotency-Key") or None


def _request_digest(body: dict[str, Any]) -> bytes:
    """SHA-256 of the body as canonical JSON: a retry is the same request whatever its key
    order or spacing."""
    try:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):
        canonical = request.get_data(cache=True)
    return hashlib.sha256(canonical).digest()


@api_bp.post("/applications")
def create_application() -> tuple[Response, int]:
    enforce_rate_limit("applications", client_group())
    key = _idempotency_key()
    body = json_object()
    if body.get("consent") is not True:
        raise ValidationFailed({"consent": "consent to processing personal data is required "
                                          "(send \"consent\": true)"})
    ttl = timedelta(hours=float(current_app.config["CARDSIM_APPLICATION_TTL_HOURS"]))
    creation = None if key is None else CreationKey(
        key=key, request_digest=_request_digest(body), keys=card_step.issuer_keys())
    try:
        started = start_application(db_session(), now=now(), ttl=ttl, idempotency=creation)
    except CreationKeyConflict as exc:
        mark_for_commit_despite_error()  # keep the erasure of tokens no longer answered with
        raise WebError(409, exc.reason, exc.message) from None
    payload = _status(started.application)
    payload["access_token"] = started.access_token
    response = jsonify(payload)
    response.headers["Location"] = url_for("api.get_application",
                                           application_id=started.application.id)
    return response, 201


@api_bp.get("/applications/<application_id>")
def get_application(application_id: str) -> Response:
    return jsonify(_status(bearer_application(application_id)))


@api_bp.post("/applications/<application_id>/identity")
def identity(application_id: str) -> Response:
    application = bearer_application(application_id)
    view = identity_step.submit_identity_form(application_id=application.id,
                                              values=json_object(allow_empty=False))
    return jsonify(_status(view))


@api_bp.post("/applications/<application_id>/liveness/sessions")
def liveness_session(application_id: str) -> tuple[Response, int]:
    application = bearer_application(application_id)
    status = liveness_step.start_liveness(application_id=application.id,
                                          sessions_used=application.liveness_sessions)
    return jsonify(status.to_dict()), 200 if status.resumed else 201


@api_bp.post("/applications/<application_id>/liveness/frames")
def liveness_frame(application_id: str) -> Response:
    application = bearer_application(application_id)
    enforce_rate_limit("frames", application.id)
    client_ms = request.headers.get("X-Client-Timestamp")
    if request.mimetype == "application/json":
        body = json_object(allow_empty=False)
        jpeg = b64decode_field(body.get("jpeg"), "jpeg", max_bytes=5 * 1024 * 1024)
        raw_ts = body.get("timestamp_ms")
        if raw_ts is not None:
            if isinstance(raw_ts, bool) or not isinstance(raw_ts, int | float):
                raise ValidationFailed({"timestamp_ms": "must be a number of milliseconds"})
            client_ms = str(raw_ts)
    else:
        jpeg = read_frame_body()
    status = liveness_step.submit_frame(application_id=application.id,
                                        sessions_used=application.liveness_sessions,
                                        jpeg=jpeg, client_timestamp_ms=client_ms)
    return jsonify(status.to_dict())


@api_bp.get("/applications/<application_id>/interview")
def interview_questions(application_id: str) -> Response:
    application = bearer_application(application_id)
    if application.state != ApplicationState.LIVENESS_PASSED:
        raise WebError(409, "wrong_step",
                       f"application is {application.state.value}; the interview needs "
                       "liveness_passed")
    served = interview_step.serve_interview(application_id=application.id)
    return jsonify({"script_version": served.script_version, "token": served.token,
                    "questions": [q.to_dict() for q in served.questions]})


def _parse_answers(raw: object) -> list[Answer]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_ANSWERS:
        raise ValidationFailed({"answers": f"expected a list of 1 to {MAX_ANSWERS} answers"})
    answers = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValidationFailed({f"answers[{i}]": "expected an object"})
        qid, value = item.get("question_id"), item.get("value")
        if not isinstance(qid, str) or not isinstance(value, str) or len(qid) > 64:
            raise ValidationFailed({f"answers[{i}]": "question_id and value must be strings"})
        answers.append(Answer(question_id=qid, value=value,
                              response_ms=interview_step.parse_response_ms(
                                  item.get("response_ms"))))
    return answers


@api_bp.post("/applications/<application_id>/interview")
def interview_answers(application_id: str) -> Response:
    application = bearer_application(application_id)
    body = json_object(allow_empty=False)
    token = body.get("token")
    if not isinstance(token, str):
        raise ValidationFailed({"token": "send the token you received with the questions"})
    view, _flags = interview_step.submit_interview(application_id=application.id, token=token,
                                                  answers=_parse_answers(body.get("answers")))
    return jsonify(_status(view))


@api_bp.post("/applications/<application_id>/device-binding/challenge")
def binding_challenge(application_id: str) -> tuple[Response, int]:
    application = bearer_application(application_id)
    challenge = binding_step.issue_challenge(application_id=application.id)
    return jsonify({"challenge": b64(challenge)}), 201


@api_bp.post("/applications/<application_id>/device-binding")
def device_binding(application_id: str) -> Any:
    application = bearer_application(application_id)
    body = json_object(allow_empty=False)
    challenge = b64decode_field(body.get("challenge"), "challenge", max_bytes=128)
    outcome = binding_step.submit_chains(application_id=application.id, challenge=challenge,
                                         chains=binding_step.parse_chains(body.get("chains")))
    if not outcome.accepted:
        return _refusal(outcome.reason, outcome.message,
                        application=_status(outcome.application))
    return jsonify(_status(outcome.application))


@api_bp.get("/applications/<application_id>/agreement")
def agreement_offer(application_id: str) -> Response:
    application = bearer_application(application_id)
    offer = agreement_step.offer_agreement(application_id=application.id)
    return jsonify({"prompt": offer.text, "nonce": b64(offer.nonce),
                    "credit_limit": offer.credit_limit})


@api_bp.post("/applications/<application_id>/agreement")
def agreement_signature(application_id: str) -> Any:
    application = bearer_application(application_id)
    body = json_object(allow_empty=False)
    outcome = agreement_step.submit_signature(
        application_id=application.id,
        message=b64decode_field(body.get("message"), "message", max_bytes=8192),
        signature=b64decode_field(body.get("signature"), "signature", max_bytes=128),
    )
    if not outcome.accepted:
        return _refusal(outcome.reason, outcome.message)
    return jsonify(_status(outcome.application))


def _decision_body(summary: decision_step.DecisionSummary) -> dict[str, Any]:
    return {"outcome": summary.outcome, "credit_limit": summary.credit_limit,
            "reasons": list(summary.reasons)}


@api_bp.post("/applications/<application_id>/decision")
def decide(application_id: str) -> Response:
    application = bearer_application(application_id)
    summary = decision_step.ensure_decision(application)
    if summary is None:
        # Before the agreement is signed there is nothing to decide: a step out of order.
        raise WebError(409, "wrong_step",
                       f"application is {application.state.value}; a decision needs "
                       f"{ApplicationState.AGREEMENT_SIGNED.value}")
    return jsonify(_decision_body(summary))


@api_bp.get("/applications/<application_id>/decision")
def get_decision(application_id: str) -> Response:
    application = bearer_application(application_id)
    if application.state == ApplicationState.AGREEMENT_SIGNED:
        raise NotFound("no decision yet; POST to this address to decide")
    summary = decision_step.current_decision(application)
    if summary is None:
        raise NotFound("no decision has been made on this application yet")
    return jsonify(_decision_body(summary))


@api_bp.post("/applications/<application_id>/card")
def issue_card(application_id: str) -> tuple[Response, int]:
    application = bearer_application(application_id)
    key = _idempotency_key()
    if key is None:
        raise ValidationFailed({"Idempotency-Key": "send an Idempotency-Key header"})
    card_step.issue(application_id=application.id, idempotency_key=key)
    return jsonify(card_step.card_page(application_id=application.id).to_dict()), 201


@api_bp.get("/applications/<application_id>/card")
def get_card(application_id: str) -> Response:
    application = bearer_application(application_id)
    return jsonify(card_step.card_page(application_id=application.id).to_dict())


@api_bp.post("/applications/<application_id>/card/provisioning")
def provisioning_begin(application_id: str) -> tuple[Response, int]:
    application = bearer_application(application_id)
    return jsonify({"hello": b64(card_step.provisioning_hello(
        application_id=application.id))}), 201


@api_bp.post("/applications/<application_id>/card/provisioning/payload")
def provisioning_payload(application_id: str) -> Response:
    application = bearer_application(application_id)
    body = json_object(allow_empty=False)
    challenge = b64decode_field(body.get("se_challenge"), "se_challenge", max_bytes=64)
    return jsonify({"record": b64(card_step.provisioning_payload(
        application_id=application.id, se_challenge=challenge))})


@api_bp.post("/applications/<application_id>/card/provisioning/result")
def provisioning_result(application_id: str) -> Any:
    application = bearer_application(application_id)
    body = json_object(allow_empty=False)
    record = b64decode_field(body.get("record"), "record", max_bytes=1024)
    result = card_step.provisioning_result(application_id=application.id, record=record)
    if not result.personalized:
        return _refusal(result.reason, "The phone's secure element refused the card.")
    return jsonify(card_step.card_page(application_id=application.id).to_dict())


@api_bp.post("/applications/<application_id>/card/activate")
def activate(application_id: str) -> Response:
    application = bearer_application(application_id)
    card_step.activate(application_id=application.id)
    return jsonify(card_step.card_page(application_id=application.id).to_dict())


@api_bp.post("/applications/<application_id>/card/reveal")
def reveal(application_id: str) -> Response:
    application = bearer_application(application_id)
    body = json_object(allow_empty=False)
    verify_cardholder_pin(application_id=application.id, device_id=body.get("device_id"),
                          pin=body.get("pin"))
    details = card_step.reveal(application_id=application.id)
    return jsonify({"pan": details.pan, "cvv2": details.cvv2, "expiry": details.expiry,
                    "reveal_seconds": 30})
